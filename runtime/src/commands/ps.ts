import { flagString, expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { execShims } from '../container.js';
import { isAlive } from '../proc.js';
import { loadState } from '../state.js';
import { table } from './list.js';

/**
 * Docker's `top` runs the host's `ps` on the pids this returns (moby daemon/top_unix.go): the
 * host processes that stand in for the container's (its init shim and exec shims).
 */
export const ps: Command = {
  name: 'ps',
  usage: 'ps [--format table|json] <container-id>',
  summary: 'list the host processes that stand in for the container\'s processes',
  flags: { format: { kind: 'string', aliases: ['f'], help: 'table (default) or json' } },
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'ps', ['container-id'], true);
    const state = loadState(ctx.root, id!);
    const pids = [state.shim, ...execShims(state.runDir)].filter(isAlive).map((ref) => ref!.pid);
    if (flagString(args, 'format') === 'json') process.stdout.write(`${JSON.stringify(pids)}\n`);
    else process.stdout.write(table([['PID'], ...pids.map((p) => [String(p)])]));
    return 0;
  },
};
