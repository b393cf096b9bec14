import { expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { setPaused } from './pause.js';

export const resume: Command = {
  name: 'resume',
  usage: 'resume <container-id>',
  summary: 'thaw a paused container',
  flags: {},
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'resume', ['container-id']);
    await setPaused(ctx, id!, false);
    return 0;
  },
};
