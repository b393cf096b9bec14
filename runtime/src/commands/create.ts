import { flagString, expectPositionals, type FlagSpecs } from '../args.js';
import { loadBundle } from '../bundle.js';
import type { Command } from '../command.js';
import { assertHonoured, assertSupported } from '../config-check.js';
import { createContainer } from '../container.js';
import type { CheckpointFolders } from '../criu.js';
import { RuntimeError } from '../errors.js';
import { vmrtNetnsPaths } from '../netns.js';
import { podJoinFor } from '../pod.js';
import { validateId } from '../state.js';
import { vfioArgs } from '../vfio.js';
import { chooseAccelerator } from '../vm.js';

/** Shared by create and run. */
export const CREATE_FLAGS: FlagSpecs = {
  bundle: { kind: 'string', aliases: ['b'], help: 'path to the bundle (default: the current folder)' },
  'pid-file': { kind: 'string', help: 'file to write the pid of the container process to' },
  'console-socket': { kind: 'string', help: 'unix socket that receives the pty master of a terminal' },
  'no-pivot': { kind: 'bool', help: 'accepted for runc compatibility (the guest always pivots)' },
  'no-new-keyring': { kind: 'bool', help: 'accepted for runc compatibility' },
  'preserve-fds': { kind: 'string', help: 'accepted for runc compatibility' },
  detach: { kind: 'bool', aliases: ['d'], help: 'for run: return once started' },
};

/** Validates, checks capabilities, and builds the container (VM booted, process not started). */
export async function createFromArgs(
  args: Parameters<Command['run']>[0],
  ctx: Parameters<Command['run']>[1],
  name: string,
  restore?: CheckpointFolders,
) {
  const [id] = expectPositionals(args, name, ['container-id']);
  validateId(id!);
  const bundle = loadBundle(flagString(args, 'bundle') ?? '.', true);
  const pod = podJoinFor(ctx.root, bundle.config, bundle.configPath);
  if (pod && restore)
    throw new RuntimeError(
      `${bundle.configPath}: a container of a pod (in the VM of "${pod.vm.id}") cannot be restored: vmrt restores a container into a VM of its own`,
    );
  const podNamespaces = (bundle.config.linux?.namespaces ?? []).flatMap((ns, i) =>
    pod?.shares.some((s) => s.type === ns.type) ? [i] : [],
  );
  assertSupported(bundle.config, bundle.configPath, [...vmrtNetnsPaths(), ...(pod ? [pod.vm.netns.path] : [])], podNamespaces);
  assertHonoured(bundle.config, bundle.configPath);
  const deviceArgs = vfioArgs(bundle.config, bundle.configPath);
  const accelerator = await chooseAccelerator();
  return createContainer({
    root: ctx.root,
    id: id!,
    bundle,
    accelerator,
    logger: ctx.logger,
    deviceArgs,
    consoleSocket: flagString(args, 'console-socket'),
    pidFile: flagString(args, 'pid-file'),
    restore,
    pod,
  });
}

export const create: Command = {
  name: 'create',
  usage: 'create [--bundle B] [--pid-file F] [--console-socket S] <container-id>',
  summary: 'boot the VM and create the container, ready to start',
  flags: CREATE_FLAGS,
  async run(args, ctx) {
    const { shim } = await createFromArgs(args, ctx, 'create');
    // The shim lives on (it is the container's process); this CLI must not wait for it.
    shim.unref();
    return 0;
  },
};
