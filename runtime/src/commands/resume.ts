import { expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { errorMessage } from '../errors.js';
import { syncContainerNetwork } from './network-sync.js';
import { setPaused } from './pause.js';

export const resume: Command = {
  name: 'resume',
  usage: 'resume <container-id>',
  summary: 'thaw a paused container',
  flags: {},
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'resume', ['container-id']);
    await setPaused(ctx, id!, false);
    // A network connected or disconnected while the VM was stopped could not reach it then.
    await syncContainerNetwork(ctx, id!).catch((err) => ctx.logger.warn(`resume: network-sync: ${errorMessage(err)}`));
    return 0;
  },
};
