/**
 * Requests a front end keeps between lints of one file (the language server's, on every
 * keystroke), by the text they were read from and the line it starts on: a part of the
 * file whose text and line did not change is the same request object, whose findings the
 * engine keeps (a keystroke re-reads and re-checks only the part it touched).
 */
import type { LineIndex } from './positions.js';
import type { ContainerRequest } from './types.js';

export interface KeptRequest {
  request: ContainerRequest;
  /** Points the options' edits at a later lint's text, where the part now starts (its ranges are unchanged). */
  moveTo(index: LineIndex, start: number): void;
}

export class KeptRequests {
  /** By the line the part starts on, with the part's text (a number key: no string of the part is hashed). */
  private last = new Map<number, KeptRequest & { text: string }>();
  private next = new Map<number, KeptRequest & { text: string }>();

  /** The request read in the last lint from the same text on the same line as `start`..`end` of `index`'s text, moved there. */
  take(line: number, index: LineIndex, start: number, end: number): ContainerRequest | undefined {
    const kept = this.last.get(line);
    if (!kept || kept.text.length !== end - start || !index.text.startsWith(kept.text, start)) return undefined;
    this.last.delete(line);
    this.next.set(line, kept);
    kept.moveTo(index, start);
    return kept.request;
  }

  /** Keeps the request read from `text`, which starts on `line`. */
  keep(line: number, text: string, kept: KeptRequest): void {
    // A copy: a slice would keep the whole text of its lint alive, one text per kept part.
    this.next.set(line, { ...kept, text: (' ' + text).slice(1) });
  }

  /** Ends a lint: what it took or kept is what the next one finds. */
  commit(): void {
    this.last = this.next;
    this.next = new Map();
  }
}
