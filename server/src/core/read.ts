/** Reads source files for the front ends, refusing what no front end should parse. */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import type { FileProblem, Range } from './types.js';

export const MAX_FILE_BYTES = 10 * 1024 * 1024;

export const FILE_START: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

/** `missing`: the file does not exist (front ends probe for optional files, such as compose's .env). */
export type ReadResult = { text: string } | { problem: FileProblem; missing?: boolean };

/** Decodes bytes as UTF-8 text, or says why the file is not text a front end can read. */
export function decodeSource(path: string, bytes: Buffer): ReadResult {
  if (bytes.length > MAX_FILE_BYTES) return { problem: tooLarge(path, bytes.length) };
  if (bytes.includes(0)) return { problem: binary(path) };
  const text = bytes.toString('utf8');
  // Editors hide a byte order mark; dropping it keeps columns equal to theirs.
  return { text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
}

/**
 * What is wrong with an in-memory text (editor buffer, stdin) as `readSource` would report
 * the file: over the size limit, or binary. Bytes are counted only for a text long enough
 * to be over it: a UTF-16 code unit is at most 3 UTF-8 bytes.
 */
export function textProblem(path: string, text: string): FileProblem | undefined {
  if (text.includes('\0')) return binary(path);
  if (text.length <= MAX_FILE_BYTES / 3) return undefined;
  const bytes = Buffer.byteLength(text);
  return bytes > MAX_FILE_BYTES ? tooLarge(path, bytes) : undefined;
}

/**
 * Reads a file for a front end, bounded: only a regular file is read (a FIFO would block
 * forever, /dev/zero never end; their stat size is 0), opened without blocking, and no
 * more than the size limit is read even when the file grows meanwhile.
 */
export function readSource(path: string): ReadResult {
  let fd: number | undefined;
  try {
    // Front ends probe for files that usually do not exist (compose .env): no exception for those.
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return { problem: problem(path, 'unreadable', 'cannot read the file: it does not exist'), missing: true };
    if (!stat.isFile()) return { problem: notRegular(path, stat) };
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const opened = fstatSync(fd);
    // The path may have been replaced between the two looks.
    if (!opened.isFile()) return { problem: notRegular(path, opened) };
    if (opened.size > MAX_FILE_BYTES) return { problem: tooLarge(path, opened.size) };
    // Read to the end, not to the stat size: files in /proc say 0 and others grow meanwhile.
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(opened.size - length, 0) + 1, MAX_FILE_BYTES + 1 - length, 1 << 20) || 1);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      length += n;
      if (length > MAX_FILE_BYTES) return { problem: tooLarge(path, length) };
    }
    return decodeSource(path, Buffer.concat(chunks, length));
  } catch (error) {
    // A file under something that is not a folder (`app/.env` when `app` is a file) does not exist either.
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR')
      return { problem: problem(path, 'unreadable', 'cannot read the file: it does not exist'), missing: true };
    return { problem: problem(path, 'unreadable', `cannot read the file: ${(error as Error).message}`) };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function notRegular(path: string, stat: Stats): FileProblem {
  const what = stat.isDirectory()
    ? 'a folder'
    : stat.isFIFO()
      ? 'a FIFO'
      : stat.isCharacterDevice()
        ? 'a character device'
        : stat.isBlockDevice()
          ? 'a block device'
          : stat.isSocket()
            ? 'a socket'
            : 'not a regular file';
  return problem(path, 'unreadable', `the file is ${what}, not a regular file: not read`);
}

function binary(path: string): FileProblem {
  return problem(path, 'binary-file', 'the file is binary (it contains NUL bytes): not linted');
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
