import { constants } from 'node:os';
import type { ShimChild } from '../served-call.js';
import { flagBool } from '../args.js';
import type { Command } from '../command.js';
import { destroyContainer, type Created } from '../container.js';
import { errorMessage } from '../errors.js';
import { loadState } from '../state.js';
import { CREATE_FLAGS, createFromArgs } from './create.js';
import { startContainer } from './start.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** A foreground command passes the signals it gets to the shim, which passes them to the guest. */
export function forwardSignals(shim: ShimChild): void {
  for (const signal of FORWARDED) process.on(signal, () => shim.kill(signal));
}

/** The shim's exit status is the guest process's (128+n for a signal death). */
export function waitExit(shim: ShimChild): Promise<number> {
  return new Promise((resolve) => {
    if (shim.exitCode !== null) resolve(shim.exitCode);
    else
      shim.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? ((constants.signals as Record<string, number>)[signal] ?? 0) : 0)));
  });
}

/**
 * After create: `begin` starts the container (undone, with the whole container, if it fails);
 * then detached, the command returns; in the foreground it waits for the container, removes it
 * and returns its status.
 */
export async function runCreated(
  args: Parameters<Command['run']>[0],
  ctx: Parameters<Command['run']>[1],
  created: Created,
  begin: () => Promise<void> | void,
): Promise<number> {
  const { state, shim } = created;
  try {
    await begin();
  } catch (err) {
    await destroyContainer(ctx.root, loadState(ctx.root, state.id), ctx.logger).catch((e) => ctx.logger.warn(errorMessage(e)));
    throw err;
  }
  if (flagBool(args, 'detach')) {
    shim.unref();
    return 0;
  }
  forwardSignals(shim);
  const status = await waitExit(shim);
  await destroyContainer(ctx.root, loadState(ctx.root, state.id), ctx.logger);
  return status;
}

export const run: Command = {
  name: 'run',
  usage: 'run [--bundle B] [--pid-file F] [--console-socket S] [--detach] <container-id>',
  summary: 'create and start a container; in the foreground, exit with its status',
  flags: CREATE_FLAGS,
  async run(args, ctx) {
    const created = await createFromArgs(args, ctx, 'run');
    return runCreated(args, ctx, created, () => startContainer(ctx, created.state.id));
  },
};
