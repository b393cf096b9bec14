import { commandRule } from './rule.js';

export const eventsCommand = commandRule('events-command', 'events', 'events', 'runtime events.', 'reading runtime events');
