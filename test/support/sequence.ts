/**
 * The output of `timeout S seq 1 <big>; echo end` in a container: a guest writing stdout as fast
 * as it can. Every line must be there, in order; timeout may stop seq in the middle of a line, whose
 * first digits "end" then follows. Checked as it streams in: a long flood's log is too big to hold.
 */
export const FLOOD_SCRIPT = (seconds: number) => `timeout ${seconds} seq 1 1000000000; echo end`;

export class FloodCheck {
  private lines = 0;
  private partial = '';
  private problem: string | undefined;
  private ended: string | undefined;

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) {
      if (this.problem) return;
      if (this.ended !== undefined) this.problem = `${JSON.stringify(line)} after "end"`;
      else if (line === String(this.lines + 1)) this.lines++;
      else if (/^\d*end$/.test(line)) this.ended = line.slice(0, -'end'.length);
      else this.problem = `line ${this.lines + 1} is ${JSON.stringify(line)}`;
    }
  }

  /** The count of whole lines, or what is wrong with the output. */
  result(): { lines: number } | { problem: string } {
    if (this.problem) return { problem: this.problem };
    if (this.partial !== '') return { problem: 'the output does not end with a newline' };
    if (this.ended === undefined) return { problem: 'the output does not end with "end"' };
    if (!String(this.lines + 1).startsWith(this.ended))
      return { problem: `the cut line ${JSON.stringify(this.ended)} does not follow ${this.lines}` };
    return { lines: this.lines };
  }
}

/** FloodCheck of a whole output. */
export function checkFlood(output: string): { lines: number } | { problem: string } {
  const check = new FloodCheck();
  check.push(output);
  return check.result();
}
