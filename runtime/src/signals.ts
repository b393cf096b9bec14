/** Signal names and numbers as runc's `kill` accepts them: `9`, `KILL`, `SIGKILL`. */
import { constants } from 'node:os';
import { RuntimeError } from './errors.js';

export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
    const n = (constants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  throw new RuntimeError(`unknown signal "${text}"`);
}
