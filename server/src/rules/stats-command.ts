import { commandRule } from './rule.js';

export const statsCommand = commandRule('stats-command', 'stats', 'stats', 'docker stats.', 'reading container statistics');
