import { expectPositionals } from '../args.js';
import type { Command, Context } from '../command.js';
import { RuntimeError } from '../errors.js';
import { signalProcess } from '../proc.js';
import { loadState, statusOf, writeState } from '../state.js';

/** The whole VM stops (SIGSTOP to QEMU): every process of the container freezes at once. */
export async function setPaused(ctx: Context, id: string, paused: boolean): Promise<void> {
  const state = loadState(ctx.root, id);
  const status = statusOf(state);
  const expected = paused ? 'running' : 'paused';
  if (status !== expected) throw new RuntimeError(`container "${id}" is ${status}, not ${expected}`);
  if (!signalProcess(state.qemu, paused ? 'SIGSTOP' : 'SIGCONT')) throw new RuntimeError(`the VM of container "${id}" is gone`);
  state.paused = paused;
  writeState(ctx.root, state);
}

export const pause: Command = {
  name: 'pause',
  usage: 'pause <container-id>',
  summary: 'freeze the container (its whole VM)',
  flags: {},
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'pause', ['container-id']);
    await setPaused(ctx, id!, true);
    return 0;
  },
};
