import { expectPositionals, flagBool } from '../args.js';
import type { Command } from '../command.js';
import { muxSocket, sharedDirOf } from '../container.js';
import { CRIU_FLAGS, checkpointFolders, shareCheckpoint, unshareCheckpoint } from '../criu.js';
import { RuntimeError, errorMessage } from '../errors.js';
import { muxRequest } from '../mux.js';
import { isAlive, signalProcess, sleep } from '../proc.js';
import { containerDir, loadState, statusOf, writeState } from '../state.js';

/** CRIU under TCG takes seconds for a small container; a large one takes longer. */
const DUMP_TIMEOUT_MS = 600000;
const STOP_TIMEOUT_MS = 30000;

export const checkpoint: Command = {
  name: 'checkpoint',
  usage: 'checkpoint [--image-path P] [--work-path W] [--leave-running] <container-id>',
  summary: "checkpoint the container's processes (CRIU in its VM); it stops unless --leave-running",
  flags: { ...CRIU_FLAGS, 'leave-running': { kind: 'bool', help: 'leave the container running after the checkpoint' } },
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'checkpoint', ['container-id']);
    const folders = checkpointFolders(args, false);
    const state = loadState(ctx.root, id!);
    const status = statusOf(state);
    if (status !== 'running' && status !== 'paused') throw new RuntimeError(`cannot checkpoint a container that is ${status}`);
    if (state.pod)
      throw new RuntimeError(
        `cannot checkpoint "${id}": it runs in the VM of "${state.pod.vm}" (a pod), and vmrt restores a container into a VM of its own`,
      );
    const leaveRunning = flagBool(args, 'leave-running');
    const guest = shareCheckpoint(containerDir(ctx.root, id!), sharedDirOf(ctx.root, id!), folders, state.mounts);
    writeState(ctx.root, state);
    // containerd pauses a container (its whole VM) for the checkpoint, but CRIU runs in that VM:
    // it runs again for the dump, and CRIU freezes the processes themselves.
    if (status === 'paused') signalProcess(state.qemu, 'SIGCONT');
    try {
      await muxRequest(
        muxSocket(state.runDir),
        { op: 'checkpoint', id, ...guest, leaveRunning, criuArgs: folders.criuArgs },
        DUMP_TIMEOUT_MS,
      );
    } catch (err) {
      throw new RuntimeError(`checkpoint of "${id}": ${errorMessage(err)} (CRIU's log: ${folders.work}/dump.log)`);
    } finally {
      // Paused again only if it runs on: a stopping container's VM must deliver its exit.
      if (status === 'paused' && leaveRunning) signalProcess(state.qemu, 'SIGSTOP');
      unshareCheckpoint(containerDir(ctx.root, id!), state.mounts);
      writeState(ctx.root, state);
    }
    if (leaveRunning) return 0;
    // As with runc, the command returns once the container has stopped (CRIU ended its processes).
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (isAlive(state.shim)) {
      if (Date.now() > deadline)
        throw new RuntimeError(`checkpoint of "${id}" is written, but the container did not stop within ${STOP_TIMEOUT_MS / 1000} s`);
      await sleep(20);
    }
    return 0;
  },
};
