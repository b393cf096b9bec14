import { containerCommand } from '../command.js';
import { errorMessage } from '../errors.js';
import { syncContainerNetwork } from './network-sync.js';
import { setPaused } from './pause.js';

export const resume = containerCommand('resume', 'thaw a paused container', async (ctx, id) => {
  await setPaused(ctx, id, false);
  // A network connected or disconnected while the VM was stopped could not reach it then.
  await syncContainerNetwork(ctx, id).catch((err) => ctx.logger.warn(`resume: network-sync: ${errorMessage(err)}`));
});
