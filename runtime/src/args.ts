/**
 * Command-line parsing with urfave/cli (Go flag) semantics, which is what containerd's go-runc
 * and humans used to runc write: `--x v`, `--x=v`, `-x v`, single-dash long flags
 * (`-no-subreaper`), repeatable flags, and flag parsing that stops at the first positional
 * argument (so `exec ID sh -c …` keeps the command's own flags).
 */
import { UsageError } from './errors.js';

export type FlagKind = 'bool' | 'string' | 'list';

export interface FlagSpec {
  kind: FlagKind;
  /** Other names, e.g. a one-letter short form. */
  aliases?: readonly string[];
  help?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface ParsedArgs {
  flags: Map<string, string | boolean | string[]>;
  positionals: string[];
}

function lookup(specs: FlagSpecs, name: string): [string, FlagSpec] | undefined {
  for (const [canonical, spec] of Object.entries(specs)) {
    if (canonical === name || spec.aliases?.includes(name)) return [canonical, spec];
  }
  return undefined;
}

function parseBool(name: string, value: string): boolean {
  if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(value)) return true;
  if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(value)) return false;
  throw new UsageError(`invalid boolean value "${value}" for flag -${name}`);
}

/**
 * Parses `argv` against `specs`. With `stopAtPositional` (the Go default) everything after the
 * first non-flag word is positional; otherwise flags may follow positionals.
 */
export function parseArgs(argv: readonly string[], specs: FlagSpecs, stopAtPositional = true): ParsedArgs {
  const flags = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      if (stopAtPositional) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(word);
      continue;
    }
    const body = word.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const found = lookup(specs, name);
    if (!found) throw new UsageError(`flag provided but not defined: -${name}`);
    const [canonical, spec] = found;
    if (spec.kind === 'bool') {
      flags.set(canonical, inline === undefined ? true : parseBool(name, inline));
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    if (spec.kind === 'list') {
      const list = (flags.get(canonical) as string[] | undefined) ?? [];
      list.push(value);
      flags.set(canonical, list);
    } else {
      flags.set(canonical, value);
    }
  }
  return { flags, positionals };
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags.get(name);
  return typeof value === 'string' ? value : undefined;
}

export function flagBool(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

export function flagList(args: ParsedArgs, name: string): string[] {
  const value = args.flags.get(name);
  return Array.isArray(value) ? value : [];
}

/** The positional arguments a command expects, or a usage error that says what is missing. */
export function expectPositionals(args: ParsedArgs, command: string, names: string[], allowMore = false): string[] {
  if (args.positionals.length < names.length) {
    throw new UsageError(`"${command}" requires ${names.map((n) => `<${n}>`).join(' ')}`);
  }
  if (!allowMore && args.positionals.length > names.length) {
    throw new UsageError(`"${command}" takes ${names.length} argument(s), got: ${args.positionals.join(' ')}`);
  }
  return args.positionals;
}
