import { containerCommand, type Context } from '../command.js';
import { RuntimeError } from '../errors.js';
import { signalProcess } from '../proc.js';
import { loadState, statusOf, writeState } from '../state.js';

/** The whole VM stops (SIGSTOP to QEMU): every process of the container freezes at once. */
export async function setPaused(ctx: Context, id: string, paused: boolean): Promise<void> {
  const state = loadState(ctx.root, id);
  const status = statusOf(state);
  const expected = paused ? 'running' : 'paused';
  if (status !== expected) throw new RuntimeError(`container "${id}" is ${status}, not ${expected}`);
  if (state.pod)
    throw new RuntimeError(
      `container "${id}" runs in the VM of "${state.pod.vm}" (a pod): pausing would freeze that VM and every container in it; pause "${state.pod.vm}" instead`,
    );
  if (!signalProcess(state.qemu, paused ? 'SIGSTOP' : 'SIGCONT')) throw new RuntimeError(`the VM of container "${id}" is gone`);
  state.paused = paused;
  writeState(ctx.root, state);
}

export const pause = containerCommand('pause', 'freeze the container (its whole VM)', (ctx, id) => setPaused(ctx, id, true));
