import { expectPositionals, flagString, parseArgs, type ParsedArgs } from '../args.js';
import type { Command, Context } from '../command.js';
import { UsageError } from '../errors.js';
import { ensureTemplate, listTemplates, removeTemplates, templateKey, templatesDir, type TemplateShape } from '../template.js';
import { chooseAccelerator, defaultVmMemoryMiB, vcpusFor } from '../vm.js';

const MIB = 1024 * 1024;

function positive(args: ParsedArgs, name: string, fallback: number): number {
  const text = flagString(args, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`--${name}: "${text}" is not a positive whole number`);
  return value;
}

/** The shape a container without annotations or a memory limit gets, or the one the flags name. */
async function shapeOf(args: ParsedArgs): Promise<TemplateShape> {
  return {
    accelerator: (await chooseAccelerator()).accelerator,
    vcpus: positive(args, 'vcpus', vcpusFor(undefined)),
    memoryMiB: positive(args, 'memory-mib', defaultVmMemoryMiB()),
  };
}

async function create(args: ParsedArgs, ctx: Context): Promise<void> {
  const shape = await shapeOf(args);
  const started = Date.now();
  const template = await ensureTemplate(shape, ctx.logger);
  process.stdout.write(
    `${template.key} (${shape.vcpus} vCPUs, ${shape.memoryMiB} MiB, ${shape.accelerator}) ready in ${Date.now() - started} ms\n`,
  );
}

function list(args: ParsedArgs): void {
  const templates = listTemplates();
  const format = flagString(args, 'format') ?? 'table';
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(templates, null, 2)}\n`);
    return;
  }
  if (format !== 'table') throw new UsageError(`invalid format option "${format}": table or json`);
  process.stdout.write(`templates in ${templatesDir()}\n`);
  process.stdout.write('KEY               VCPUS  MEMORY    ACCEL  RAM HELD  STATE    BOOT      CREATED\n');
  for (const t of templates) {
    process.stdout.write(
      `${t.key.padEnd(18)}${String(t.vcpus).padEnd(7)}${`${t.memoryMiB} MiB`.padEnd(10)}${t.accelerator.padEnd(7)}${`${Math.round(t.memoryFileBytes / MIB)} MiB`.padEnd(10)}${`${Math.round(t.stateBytes / 1024)} KiB`.padEnd(9)}${`${t.bootMs} ms`.padEnd(10)}${t.created}\n`,
    );
  }
}

export const template: Command = {
  name: 'template',
  usage: 'template create [--vcpus N] [--memory-mib N] | list [--format table|json] | rm [<key>…] | key [--vcpus N] [--memory-mib N]',
  summary: 'make, list and remove the VM templates that containers are restored from (VMRT_VM_TEMPLATE=on)',
  flags: {
    vcpus: { kind: 'string', help: 'the shape: vCPUs (default: the host CPUs)' },
    'memory-mib': { kind: 'string', help: 'the shape: guest RAM in MiB (default: VMRT_VM_MEMORY_MIB or 2048)' },
    format: { kind: 'string', aliases: ['f'], help: 'list: table (default) or json' },
  },
  async run(given, ctx) {
    // The action's flags follow it: `template list --format json`.
    const [action, ...words] = given.positionals;
    const args = parseArgs(words, this.flags, false);
    for (const [name, value] of given.flags) if (!args.flags.has(name)) args.flags.set(name, value);
    const rest = args.positionals;
    switch (action) {
      case 'create':
        expectPositionals({ ...args, positionals: rest }, 'template create', []);
        await create(args, ctx);
        return 0;
      case 'list':
      case 'ls':
        expectPositionals({ ...args, positionals: rest }, 'template list', []);
        list(args);
        return 0;
      case 'rm':
        for (const key of removeTemplates(rest)) process.stdout.write(`${key}\n`);
        return 0;
      case 'key':
        expectPositionals({ ...args, positionals: rest }, 'template key', []);
        process.stdout.write(`${templateKey(await shapeOf(args))}\n`);
        return 0;
      default:
        throw new UsageError(`template: ${action ? `unknown action "${action}"` : 'an action is needed'}: create, list, rm or key`);
    }
  },
};
