import { containerCommand } from '../command.js';
import { loadState, ociState } from '../state.js';

export const state = containerCommand('state', 'print the OCI state of a container as JSON', async (ctx, id) => {
  process.stdout.write(`${JSON.stringify(ociState(loadState(ctx.root, id)), null, 2)}\n`);
});
