#!/usr/bin/env node
/** The `vmrt-lint` executable (package.json `bin`). */
import { text } from 'node:stream/consumers';
import { run } from './run.js';

// A reader that stops early (`vmrt-lint … | head`) closes the pipe: that is not an error of ours.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

process.exitCode = await run(process.argv.slice(2), {
  cwd: process.cwd(),
  stdout: (output) => process.stdout.write(output),
  stderr: (output) => process.stderr.write(output),
  readStdin: () => text(process.stdin),
  color: process.stdout.isTTY === true && !process.env['NO_COLOR'],
  env: process.env,
});
