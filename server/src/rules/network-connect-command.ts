import { commandRule } from './rule.js';

export const networkConnectCommand = commandRule(
  'network-connect-command',
  'network-connect',
  'network-connect',
  'docker network connect (adding a network to a running container).',
  'connecting a running container to a network',
);
