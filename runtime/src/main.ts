/**
 * vmrt: a runc-compatible CLI that runs each container in its own QEMU VM.
 * Usage: vmrt [global flags] <command> [flags] [arguments]
 */
import { parseArgs, flagBool, flagString, type FlagSpecs } from './args.js';
import type { Command } from './command.js';
import { check } from './commands/check.js';
import { checkpoint } from './commands/checkpoint.js';
import { create } from './commands/create.js';
import { del } from './commands/delete.js';
import { env } from './commands/env.js';
import { events } from './commands/events.js';
import { exec } from './commands/exec.js';
import { features } from './commands/features.js';
import { install } from './commands/install.js';
import { kill } from './commands/kill.js';
import { list } from './commands/list.js';
import { networkSync } from './commands/network-sync.js';
import { pause } from './commands/pause.js';
import { restore } from './commands/restore.js';
import { resume } from './commands/resume.js';
import { update } from './commands/update.js';
import { ps } from './commands/ps.js';
import { run } from './commands/run.js';
import { pathsAbsolute, serveCommand } from './commands/serve.js';
import { spec } from './commands/spec.js';
import { start } from './commands/start.js';
import { state } from './commands/state.js';
import { template } from './commands/template.js';
import { MEMORY_MERGE_ENV, SHARED_MMAP_LAYOUT_ENV, TEMPLATE_ENV } from './vm.js';
import { version, versionText } from './commands/version.js';
import { errorMessage, RuntimeError, UsageError } from './errors.js';
import { Logger, type LogFormat } from './log.js';
import { DEFAULT_ROOT } from './paths.js';

export const COMMANDS: Command[] = [
  create,
  start,
  run,
  state,
  list,
  kill,
  del,
  exec,
  ps,
  pause,
  resume,
  features,
  check,
  env,
  version,
  install,
  spec,
  update,
  events,
  networkSync,
  checkpoint,
  restore,
  template,
  serveCommand({ run: (argv) => main(argv), callOf }),
];

const GLOBAL_FLAGS: FlagSpecs = {
  root: { kind: 'string', help: `state folder (default ${DEFAULT_ROOT})` },
  log: { kind: 'string', help: 'append log lines to this file' },
  'log-format': { kind: 'string', help: 'text (default) or json' },
  debug: { kind: 'bool', help: 'log debug lines too' },
  'vm-template': { kind: 'string', help: `on or off: restore VMs from VM templates (as ${TEMPLATE_ENV}; daemon.json runtimeArgs)` },
  'memory-merge': {
    kind: 'string',
    help: `on or off: let the host's KSM merge identical pages of VMs (as ${MEMORY_MERGE_ENV}; daemon.json runtimeArgs)`,
  },
  'shared-mmap-layout': {
    kind: 'string',
    help: `on or off: one random mmap layout per VM, not per process (as ${SHARED_MMAP_LAYOUT_ENV}; daemon.json runtimeArgs)`,
  },
  'systemd-cgroup': { kind: 'bool', help: 'accepted for runc compatibility' },
  rootless: { kind: 'string', help: 'accepted for runc compatibility' },
  criu: { kind: 'string', help: 'accepted for runc compatibility' },
  version: { kind: 'bool', aliases: ['v'], help: 'print the version' },
  help: { kind: 'bool', aliases: ['h'], help: 'print this help' },
};

function helpText(): string {
  const lines = ['usage: vmrt [global flags] <command> [flags] [arguments]', '', 'commands:'];
  for (const c of COMMANDS) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push('', 'global flags:');
  for (const [name, f] of Object.entries(GLOBAL_FLAGS)) lines.push(`  --${name.padEnd(16)} ${f.help ?? ''}`);
  return `${lines.join('\n')}\n`;
}

function commandHelp(c: Command): string {
  const lines = [`usage: vmrt ${c.usage}`, '', c.summary];
  const flags = Object.entries(c.flags);
  if (flags.length)
    lines.push(
      '',
      'flags:',
      ...flags.map(([n, f]) => `  --${n}${f.aliases?.length ? `, -${f.aliases.join(', -')}` : ''}  ${f.help ?? ''}`),
    );
  return `${lines.join('\n')}\n`;
}

/** Global flags that set a variable for the call (main below). */
const SETTING_FLAGS = [
  ['vm-template', TEMPLATE_ENV],
  ['memory-merge', MEMORY_MERGE_ENV],
  ['shared-mmap-layout', SHARED_MMAP_LAYOUT_ENV],
] as const;

/**
 * What a call is, for the CLI server: its command and the settings of its global flags; undefined
 * for a bad call, one with a relative path (a create's bundle too, which is '.' when not given),
 * and an exec without --detach (it waits for its process and passes on the caller's signals).
 */
function callOf(argv: string[]): { command: string; settings: string } | undefined {
  try {
    const globals = parseArgs(argv, GLOBAL_FLAGS);
    const [command, ...rest] = globals.positionals;
    const paths = [flagString(globals, 'root'), flagString(globals, 'log')];
    if (command === 'create') {
      const args = parseArgs(rest, create.flags);
      const bundle = flagString(args, 'bundle');
      if (bundle === undefined) return undefined;
      paths.push(bundle, flagString(args, 'pid-file'), flagString(args, 'console-socket'));
    }
    if (command === 'exec') {
      const args = parseArgs(rest, exec.flags);
      if (!flagBool(args, 'detach')) return undefined;
      paths.push(flagString(args, 'process'), flagString(args, 'pid-file'), flagString(args, 'console-socket'));
    }
    const settings = SETTING_FLAGS.map(([flag]) => `${flag}=${flagString(globals, flag) ?? ''}`).join(' ');
    return command !== undefined && pathsAbsolute(paths) ? { command, settings } : undefined;
  } catch {
    return undefined;
  }
}

export async function main(argv: string[]): Promise<number> {
  let logger = new Logger(undefined);
  try {
    const globals = parseArgs(argv, GLOBAL_FLAGS);
    const format = flagString(globals, 'log-format') ?? 'text';
    if (format !== 'json' && format !== 'text') throw new UsageError(`invalid log format "${format}": text or json`);
    logger = new Logger(flagString(globals, 'log'), format as LogFormat, flagBool(globals, 'debug'));
    for (const [flag, variable] of SETTING_FLAGS) {
      const value = flagString(globals, flag);
      if (value === undefined) continue;
      if (value !== 'on' && value !== 'off') throw new UsageError(`--${flag}: "${value}" must be "on" or "off"`);
      process.env[variable] = value;
    }
    if (flagBool(globals, 'version')) {
      process.stdout.write(versionText());
      return 0;
    }
    const [name, ...rest] = globals.positionals;
    if (!name || flagBool(globals, 'help') || name === 'help') {
      const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
      process.stdout.write(topic ? commandHelp(topic) : helpText());
      return name || flagBool(globals, 'help') ? 0 : 2;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command "${name}" (see vmrt --help)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(commandHelp(command));
      return 0;
    }
    const args = parseArgs(rest, command.flags);
    logger.debug(`vmrt ${argv.join(' ')}`);
    const started = Date.now();
    const code = await command.run(args, { root: flagString(globals, 'root') ?? DEFAULT_ROOT, logger });
    logger.debug(`vmrt ${name}: exit ${code} after ${Date.now() - started} ms`);
    return code;
  } catch (err) {
    const message = errorMessage(err);
    logger.error(message);
    process.stderr.write(`vmrt: ${message}\n`);
    if (err instanceof RuntimeError) return err.exitCode;
    if (!(err instanceof Error)) return 1;
    // An unexpected failure: keep the stack where it helps (the log), not on the user's screen.
    logger.debug(err.stack ?? '');
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
