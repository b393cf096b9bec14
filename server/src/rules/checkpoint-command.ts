import { commandRule } from './rule.js';

export const checkpointCommand = commandRule(
  'checkpoint-command',
  'checkpoint',
  'checkpoint',
  'docker checkpoint or docker start --checkpoint.',
  'checkpointing a container',
);
