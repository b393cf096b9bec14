import { readFileSync } from 'node:fs';
import { expectPositionals, flagString } from '../args.js';
import { applyBlockIO, type BlockIO } from '../cgroups.js';
import type { Command } from '../command.js';
import { muxSocketOf } from '../container.js';
import { RuntimeError } from '../errors.js';
import { muxRequest } from '../mux.js';
import { loadState, statusOf } from '../state.js';
import { guestMiBForLimit, MEMORY_ANNOTATION } from '../vm.js';

/**
 * `docker update`: containerd's shim runs `update --resources - <id>` with the new OCI
 * linux.resources on stdin. The limits change live in the container's guest cgroup (block I/O in
 * its host cgroup, where QEMU does the disk I/O). The VM has the host's CPUs and at least its
 * default memory, so limits move up and down within it; a memory limit the VM cannot hold is refused.
 */
export const update: Command = {
  name: 'update',
  usage: 'update --resources <file|-> <container-id>',
  summary: "change the container's resource limits (its guest cgroup) while it runs",
  flags: { resources: { kind: 'string', aliases: ['r'], help: 'file with the OCI linux.resources to apply, or - for stdin' } },
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'update', ['container-id']);
    const source = flagString(args, 'resources');
    if (!source) throw new RuntimeError('update needs --resources <file|->');
    let resources: unknown;
    try {
      resources = JSON.parse(readFileSync(source === '-' ? 0 : source, 'utf8'));
    } catch (err) {
      throw new RuntimeError(`update: --resources ${source}: ${(err as Error).message}`);
    }
    if (typeof resources !== 'object' || resources === null || Array.isArray(resources))
      throw new RuntimeError(`update: --resources ${source}: not a JSON object`);
    const state = loadState(ctx.root, id!);
    const status = statusOf(state);
    if (status !== 'running' && status !== 'created') throw new RuntimeError(`container "${id}" is ${status}, not running`);
    const limit = (resources as { memory?: { limit?: number } }).memory?.limit ?? 0;
    if (limit > 0 && guestMiBForLimit(limit) > state.vm.memoryMiB) {
      throw new RuntimeError(
        `update: memory limit ${Math.ceil(limit / 2 ** 20)} MiB does not fit the container's VM (${state.vm.memoryMiB} MiB, ` +
          `${guestMiBForLimit(limit)} MiB needed with the guest's own): create it with the annotation ${MEMORY_ANNOTATION} or VMRT_VM_MEMORY_MIB set higher`,
      );
    }
    await muxRequest(muxSocketOf(state), { op: 'update', id, resources });
    applyBlockIO(state.cgroups, (resources as { blockIO?: BlockIO }).blockIO);
    return 0;
  },
};
