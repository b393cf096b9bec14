#!/usr/bin/env node
/** The `vmrt-lint` executable (package.json `bin`). */
import { MAX_FILE_BYTES } from '../core/read.js';
import { run } from './run.js';

/** Standard input, read to one byte past the size limit at most (the engine then refuses it as too large). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    length += chunk.length;
    if (length > MAX_FILE_BYTES) {
      process.stdin.destroy();
      break;
    }
  }
  return Buffer.concat(chunks, length).toString('utf8');
}

// A reader that stops early (`vmrt-lint … | head`) closes the pipe: that is not an error of ours.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

process.exitCode = await run(process.argv.slice(2), {
  cwd: process.cwd(),
  stdout: (output) => process.stdout.write(output),
  stderr: (output) => process.stderr.write(output),
  readStdin,
  color: process.stdout.isTTY === true && !process.env['NO_COLOR'],
  columns: process.stdout.isTTY ? process.stdout.columns : undefined,
  env: process.env,
});
