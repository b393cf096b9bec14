import { flagBool, flagString, expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { listStates, ociState } from '../state.js';

/** Columns padded like Go's tabwriter (runc's table). */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 3))).join('')).join('\n') + '\n';
}

export const list: Command = {
  name: 'list',
  usage: 'list [--format table|json] [--quiet]',
  summary: 'list the vmrt containers under --root',
  flags: {
    format: { kind: 'string', aliases: ['f'], help: 'table (default) or json' },
    quiet: { kind: 'bool', aliases: ['q'], help: 'print the ids only' },
  },
  async run(args, ctx) {
    expectPositionals(args, 'list', []);
    const states = listStates(ctx.root).map(ociState);
    const format = flagString(args, 'format') ?? 'table';
    if (flagBool(args, 'quiet')) {
      process.stdout.write(states.map((s) => `${String(s.id)}\n`).join(''));
    } else if (format === 'json') {
      process.stdout.write(`${JSON.stringify(states)}\n`);
    } else if (format === 'table') {
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
      for (const s of states) rows.push([String(s.id), String(s.pid), String(s.status), String(s.bundle), String(s.created), 'root']);
      process.stdout.write(table(rows));
    } else {
      throw new UsageError(`invalid format option "${format}": table or json`);
    }
    return 0;
  },
};
