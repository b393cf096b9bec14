/**
 * The output of `timeout S seq 1 <big>; echo end` in a container: a guest writing stdout as fast
 * as it can. Every line must be there, in order; timeout may stop seq in the middle of a line, whose
 * first digits "end" then follows.
 */
export const FLOOD_SCRIPT = (seconds: number) => `timeout ${seconds} seq 1 1000000000; echo end`;

/** The count of whole lines, or what is wrong with the output. */
export function checkFlood(output: string): { lines: number } | { problem: string } {
  const lines = output.split('\n');
  if (lines.pop() !== '') return { problem: 'the output does not end with a newline' };
  const last = /^(\d*)end$/.exec(lines.pop() ?? '');
  if (!last) return { problem: 'the output does not end with "end"' };
  const wrong = lines.findIndex((line, i) => line !== String(i + 1));
  if (wrong >= 0) return { problem: `line ${wrong + 1} is ${JSON.stringify(lines[wrong])}` };
  if (!String(lines.length + 1).startsWith(last[1]!))
    return { problem: `the cut line ${JSON.stringify(last[1])} does not follow ${lines.length}` };
  return { lines: lines.length };
}
