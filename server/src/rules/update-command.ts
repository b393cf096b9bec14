import { commandRule } from './rule.js';

export const updateCommand = commandRule(
  'update-command',
  'update',
  'update',
  'docker update (changing the resources of a running container).',
  'updating the resources of a running container',
);
