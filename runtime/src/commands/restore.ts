import { flagBool } from '../args.js';
import type { Command } from '../command.js';
import { destroyContainer } from '../container.js';
import { CRIU_FLAGS, checkpointFolders, unshareCheckpoint } from '../criu.js';
import { errorMessage } from '../errors.js';
import { containerDir, loadState, writeState } from '../state.js';
import { CREATE_FLAGS, createFromArgs } from './create.js';
import { forwardSignals, waitExit } from './run.js';

export const restore: Command = {
  name: 'restore',
  usage: 'restore [--image-path P] [--work-path W] [--bundle B] [--pid-file F] [--detach] <container-id>',
  summary: 'create a container from a checkpoint: a new VM whose processes CRIU restores, running',
  flags: {
    ...CREATE_FLAGS, ...CRIU_FLAGS,
    'no-subreaper': { kind: 'bool', help: 'accepted for runc compatibility (the init shim waits for the container)' },
    'lsm-profile': { kind: 'string', help: 'accepted for runc compatibility (the guest has no LSM)' },
    'lsm-mount-context': { kind: 'string', help: 'accepted for runc compatibility (the guest has no LSM)' },
  },
  async run(args, ctx) {
    const folders = checkpointFolders(args, true);
    const { state, shim } = await createFromArgs(args, ctx, 'restore', folders);
    const id = state.id;
    try {
      // CRIU has read the images: the container no longer needs them in its VM.
      unshareCheckpoint(containerDir(ctx.root, id), state.mounts);
      state.started = true;
      writeState(ctx.root, state);
    } catch (err) {
      await destroyContainer(ctx.root, loadState(ctx.root, id), ctx.logger).catch((e) => ctx.logger.warn(errorMessage(e)));
      throw err;
    }
    if (flagBool(args, 'detach')) {
      shim.unref();
      return 0;
    }
    forwardSignals(shim);
    const status = await waitExit(shim);
    await destroyContainer(ctx.root, loadState(ctx.root, id), ctx.logger);
    return status;
  },
};
