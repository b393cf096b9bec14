import type { Command } from '../command.js';
import { CRIU_FLAGS, checkpointFolders, unshareCheckpoint } from '../criu.js';
import { containerDir, writeState } from '../state.js';
import { CREATE_FLAGS, createFromArgs } from './create.js';
import { runCreated } from './run.js';

export const restore: Command = {
  name: 'restore',
  usage: 'restore [--image-path P] [--work-path W] [--bundle B] [--pid-file F] [--detach] <container-id>',
  summary: 'create a container from a checkpoint: a new VM whose processes CRIU restores, running',
  flags: {
    ...CREATE_FLAGS,
    ...CRIU_FLAGS,
    'no-subreaper': { kind: 'bool', help: 'accepted for runc compatibility (the init shim waits for the container)' },
    'lsm-profile': { kind: 'string', help: 'accepted for runc compatibility (the guest has no LSM)' },
    'lsm-mount-context': { kind: 'string', help: 'accepted for runc compatibility (the guest has no LSM)' },
  },
  async run(args, ctx) {
    const folders = checkpointFolders(args, true);
    const created = await createFromArgs(args, ctx, 'restore', folders);
    return runCreated(args, ctx, created, () => {
      // CRIU has read the images: the container no longer needs them in its VM.
      unshareCheckpoint(containerDir(ctx.root, created.state.id), created.state.mounts);
      created.state.started = true;
      writeState(ctx.root, created.state);
    });
  },
};
