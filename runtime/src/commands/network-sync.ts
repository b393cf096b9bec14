import { containerCommand, type Context } from '../command.js';
import { syncNetwork } from '../hotplug.js';
import { loadState, statusOf, writeState } from '../state.js';

/** Plugs or unplugs the VM's NICs to match the container's netns (hotplug.ts). */
export async function syncContainerNetwork(ctx: Context, id: string): Promise<void> {
  const state = loadState(ctx.root, id);
  const status = statusOf(state);
  // A paused VM cannot answer: `resume` syncs once it runs again.
  if (status !== 'running' && status !== 'created') {
    ctx.logger.warn(`network-sync: container "${id}" is ${status}: its VM's NICs stay as they are for now`);
    return;
  }
  const network = state.network ?? { interfaces: [], routes: [] };
  // Only the network part: other commands may have written the state meanwhile.
  const save = () => writeState(ctx.root, { ...loadState(ctx.root, id), network });
  const changes = await syncNetwork(state, network, save, ctx.logger);
  ctx.logger.debug(`network-sync ${id}: ${changes.added.length} added, ${changes.removed.length} removed`);
}

/**
 * Run by the container's init shim when the links of its netns change (`docker network connect`
 * or `disconnect`, which call no runtime). Not a runc command; running it by hand is harmless
 * (nothing changed: nothing done).
 */
export const networkSync = containerCommand(
  'network-sync',
  "move the network interfaces added to or removed from the container's netns into its VM",
  syncContainerNetwork,
);
