import { containerCommand } from '../command.js';
import { loadWholeState } from '../container.js';
import { ociState } from '../state.js';

export const state = containerCommand('state', 'print the OCI state of a container as JSON', async (ctx, id) => {
  process.stdout.write(`${JSON.stringify(ociState(loadWholeState(ctx.root, id)), null, 2)}\n`);
});
