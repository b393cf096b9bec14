import { flagBool, expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { destroyContainer, stateOrRemains } from '../container.js';
import { RuntimeError } from '../errors.js';
import { statusOf, validateId } from '../state.js';

export const del: Command = {
  name: 'delete',
  usage: 'delete [--force] <container-id>',
  summary: 'stop the VM and remove everything of the container',
  flags: { force: { kind: 'bool', aliases: ['f'], help: 'kill a running container; an unknown id is no error' } },
  async run(args, ctx) {
    const [id] = expectPositionals(args, 'delete', ['container-id']);
    validateId(id!);
    const force = flagBool(args, 'force');
    // A container whose state folder was removed under it is deleted from what is left of it.
    const state = stateOrRemains(ctx.root, id!);
    if (!state) {
      if (force) return 0;
      throw new RuntimeError(`container "${id}" does not exist`);
    }
    const status = statusOf(state);
    if (!force && (status === 'running' || status === 'paused')) {
      throw new RuntimeError(`cannot delete container "${id}" that is not stopped: ${status}`);
    }
    await destroyContainer(ctx.root, state, ctx.logger);
    return 0;
  },
};
