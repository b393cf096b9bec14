/** Reads source files for the front ends, refusing what no front end should parse. */
import { readFileSync, statSync } from 'node:fs';
import type { FileProblem, Range } from './types.js';

export const MAX_FILE_BYTES = 10 * 1024 * 1024;

export const FILE_START: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

export type ReadResult = { text: string } | { problem: FileProblem };

/** Decodes bytes as UTF-8 text, or says why the file is not text a front end can read. */
export function decodeSource(path: string, bytes: Buffer): ReadResult {
  if (bytes.length > MAX_FILE_BYTES) return { problem: tooLarge(path, bytes.length) };
  if (bytes.includes(0)) return { problem: problem(path, 'binary-file', 'the file is binary (it contains NUL bytes): not linted') };
  const text = bytes.toString('utf8');
  // Editors hide a byte order mark; dropping it keeps columns equal to theirs.
  return { text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
}

/**
 * An in-memory text (editor buffer, stdin) over the size limit, as `readSource` would
 * report the file. Bytes are counted only for a text long enough to be over it: a UTF-16
 * code unit is at most 3 UTF-8 bytes.
 */
export function oversizedText(path: string, text: string): FileProblem | undefined {
  if (text.length <= MAX_FILE_BYTES / 3) return undefined;
  const bytes = Buffer.byteLength(text);
  return bytes > MAX_FILE_BYTES ? tooLarge(path, bytes) : undefined;
}

export function readSource(path: string): ReadResult {
  try {
    // Front ends probe for files that usually do not exist (compose .env): no exception for those.
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return { problem: problem(path, 'unreadable', 'cannot read the file: it does not exist') };
    if (stat.size > MAX_FILE_BYTES) return { problem: tooLarge(path, stat.size) };
    return decodeSource(path, readFileSync(path));
  } catch (error) {
    return { problem: problem(path, 'unreadable', `cannot read the file: ${(error as Error).message}`) };
  }
}

function tooLarge(path: string, size: number): FileProblem {
  return problem(
    path,
    'file-too-large',
    `the file is ${(size / 1024 / 1024).toFixed(1)} MB, over the ${MAX_FILE_BYTES / 1024 / 1024} MB limit: not linted`,
  );
}

function problem(file: string, rule: FileProblem['rule'], message: string): FileProblem {
  return { rule, file, range: FILE_START, message, severity: 'error' };
}
