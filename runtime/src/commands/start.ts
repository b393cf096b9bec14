import { containerCommand, type Context } from '../command.js';
import { muxSocketOf } from '../container.js';
import { RuntimeError } from '../errors.js';
import { runHooksWarning } from '../hooks.js';
import { MuxLost, muxRequest } from '../mux.js';
import { isAlive, waitReaped } from '../proc.js';
import { loadState, statusOf, writeState, type ContainerState } from '../state.js';
import { hookState } from '../container.js';

/** How long a failed start waits for the container's shim to be reaped (below). */
const REAPED_WITHIN_MS = 10000;

/**
 * A start that fails because the container ends (its shim or VM gone, or its mux lost: the shim
 * is ending) returns once the caller (containerd's shim) has reaped the container's shim: that
 * shim records the exit only then, and until it has, Docker's delete of the failed start finds
 * the task still "created", refuses it, and leaves it behind.
 */
async function failEnding(ctx: Context, state: ContainerState, err: Error): Promise<never> {
  const waited = Date.now();
  const reaped = await waitReaped(state.shim, REAPED_WITHIN_MS);
  ctx.logger.debug(`start of ${state.id} failed: its shim ${reaped ? 'reaped' : 'still there'} after ${Date.now() - waited} ms`);
  throw err;
}

export async function startContainer(ctx: Context, id: string): Promise<void> {
  const state = loadState(ctx.root, id);
  const status = statusOf(state);
  if (status === 'stopped') {
    // Killed between create and start: say what ended (the shim, or QEMU and with it the shim).
    const ended = state.pod || isAlive(state.qemu) ? 'its shim' : 'its VM (QEMU)';
    return failEnding(ctx, state, new RuntimeError(`cannot start a container that is stopped: ${ended} ended before the start`));
  }
  if (status !== 'created') throw new RuntimeError(`cannot start a container that is ${status}`);
  await muxRequest(muxSocketOf(state), { op: 'start', id }).catch((err: Error) =>
    err instanceof MuxLost ? failEnding(ctx, state, err) : Promise.reject(err),
  );
  state.started = true;
  writeState(ctx.root, state);
  await runHooksWarning(state.hooks.poststart, hookState(state, 'running'), 'poststart', (message) => ctx.logger.warn(message));
}

export const start = containerCommand('start', 'start the process of a created container', startContainer);
