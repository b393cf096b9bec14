/** What every `vmrt` command is: its flags and its action. */
import type { FlagSpecs, ParsedArgs } from './args.js';
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
