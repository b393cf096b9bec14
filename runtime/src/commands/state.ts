import { expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { loadState, ociState } from '../state.js';

export const state: Command = {
  name: 'state',
  usage: 'state <container-id>',
  summary: 'print the OCI state of a container as JSON',
  flags: {},
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'state', ['container-id']);
    process.stdout.write(`${JSON.stringify(ociState(loadState(ctx.root, id!)), null, 2)}\n`);
    return 0;
  },
};
