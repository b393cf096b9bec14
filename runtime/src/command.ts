/** What every `vmrt` command is: its flags and its action. */
import { expectPositionals, type FlagSpecs, type ParsedArgs } from './args.js';
import type { Logger } from './log.js';

export interface Context {
  root: string;
  logger: Logger;
}

export interface Command {
  name: string;
  usage: string;
  summary: string;
  flags: FlagSpecs;
  /** Resolves with the exit code. */
  run(args: ParsedArgs, ctx: Context): Promise<number>;
}

/** A command whose one argument is the container id (start, state, pause, resume…). */
export function containerCommand(name: string, summary: string, action: (ctx: Context, id: string) => Promise<void>): Command {
  return {
    name,
    usage: `${name} <container-id>`,
    summary,
    flags: {},
    async run(args, ctx) {
      const [id] = expectPositionals(args, name, ['container-id']);
      await action(ctx, id!);
      return 0;
    },
  };
}
