import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { constants } from 'node:os';
import { flagBool, expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { loadStateOrRemains, muxSocketOf } from '../container.js';
import { errorMessage, RuntimeError } from '../errors.js';
import { muxRequest } from '../mux.js';
import { signalProcess, waitGone } from '../proc.js';
import { parseSignal } from '../signals.js';
import { statusOf } from '../state.js';

/** How long the guest has to end a container on SIGKILL before the host ends its VM. */
const SIGKILL_GRACE_MS = 10000;

export const kill: Command = {
  name: 'kill',
  usage: 'kill [--all] <container-id> [signal]',
  summary: 'send a signal (default SIGTERM) to the container process, or to all with --all',
  flags: { all: { kind: 'bool', aliases: ['a'], help: 'signal every process of the container' } },
  async run(args, ctx) {
    const [id, signalText] = expectPositionals(args, 'kill', ['container-id'], true);
    if (args.positionals.length > 2) throw new RuntimeError('kill takes <container-id> [signal]');
    const signal = parseSignal(signalText ?? 'SIGTERM');
    // Its mux still answers when its state folder is gone: the container can be stopped.
    const state = loadStateOrRemains(ctx.root, id!);
    const status = statusOf(state);
    // containerd maps this exact wording to "not found" (checkKillError).
    if (status === 'stopped') throw new RuntimeError('container not running');
    const request = { op: 'signal', id, signal, all: flagBool(args, 'all') };
    if (signal !== constants.signals.SIGKILL || state.pod) {
      await muxRequest(muxSocketOf(state), request);
      return 0;
    }
    // A guest too busy to answer (a fork bomb filling its memory) must not keep a SIGKILL from
    // ending its container: past the grace, the VM, which holds nothing else, is ended from here.
    const deadline = Date.now() + SIGKILL_GRACE_MS;
    try {
      await muxRequest(muxSocketOf(state), request, SIGKILL_GRACE_MS);
    } catch (err) {
      if (!/^no answer/.test(errorMessage(err))) throw err;
    }
    if (await waitGone(state.shim, Math.max(0, deadline - Date.now()))) return 0;
    ctx.logger.warn(`container ${id} did not end within ${SIGKILL_GRACE_MS / 1000} s of SIGKILL: ending its VM`);
    // Beside the mux socket, where the init shim looks: it then exits as killed (137), not as a
    // VM that died (255) (runtime/shim/README.md).
    writeFileSync(join(dirname(muxSocketOf(state)), 'killed'), '');
    signalProcess(state.qemu, 'SIGKILL');
    return 0;
  },
};
