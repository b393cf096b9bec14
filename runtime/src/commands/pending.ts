import { CAPABILITIES, type FeatureId } from '../capabilities.js';
import type { Command } from '../command.js';
import { RuntimeError } from '../errors.js';

/**
 * runc commands that vmrt does not implement yet: they fail with the capability table's reason
 * (the same words the linter shows), never pretend to succeed. Any flags are accepted.
 */
function pendingCommand(name: string, feature: FeatureId, usage: string): Command {
  return {
    name,
    usage,
    summary: `not implemented yet (feature "${feature}")`,
    flags: {},
    async run() {
      const cap = CAPABILITIES[feature];
      throw new RuntimeError(`"${name}" is not supported by vmrt yet (feature "${feature}", ${cap.status}): ${cap.reason}${cap.workaround ? `; instead: ${cap.workaround}` : ''}`);
    },
  };
}

export const PENDING_COMMANDS: Command[] = [
  pendingCommand('checkpoint', 'checkpoint', 'checkpoint [flags] <container-id>'),
  pendingCommand('restore', 'checkpoint', 'restore [flags] <container-id>'),
];
