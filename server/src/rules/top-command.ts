import { commandRule } from './rule.js';

export const topCommand = commandRule(
  'top-command',
  'top',
  'top',
  "docker top (the runtime's ps command).",
  'listing the processes of a container',
);
