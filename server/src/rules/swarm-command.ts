import { commandRule } from './rule.js';

export const swarmCommand = commandRule('swarm-command', 'swarm', 'swarm', 'docker swarm, service or stack commands.', 'a swarm command');
