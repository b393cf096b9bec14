import { containerCommand, type Context } from '../command.js';
import { muxSocketOf } from '../container.js';
import { RuntimeError } from '../errors.js';
import { runHooksWarning } from '../hooks.js';
import { muxRequest } from '../mux.js';
import { isAlive } from '../proc.js';
import { loadState, statusOf, writeState } from '../state.js';
import { hookState } from '../container.js';

export async function startContainer(ctx: Context, id: string): Promise<void> {
  const state = loadState(ctx.root, id);
  const status = statusOf(state);
  if (status === 'stopped') {
    // Killed between create and start: say what ended (the shim, or QEMU and with it the shim).
    const ended = state.pod || isAlive(state.qemu) ? 'its shim' : 'its VM (QEMU)';
    throw new RuntimeError(`cannot start a container that is stopped: ${ended} ended before the start`);
  }
  if (status !== 'created') throw new RuntimeError(`cannot start a container that is ${status}`);
  await muxRequest(muxSocketOf(state), { op: 'start', id });
  state.started = true;
  writeState(ctx.root, state);
  await runHooksWarning(state.hooks.poststart, hookState(state, 'running'), 'poststart', (message) => ctx.logger.warn(message));
}

export const start = containerCommand('start', 'start the process of a created container', startContainer);
