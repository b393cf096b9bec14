#!/usr/bin/env node
/** The `vmrt-lint` executable (package.json `bin`). */
import { text } from 'node:stream/consumers';
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2), {
  cwd: process.cwd(),
  stdout: (output) => process.stdout.write(output),
  stderr: (output) => process.stderr.write(output),
  readStdin: () => text(process.stdin),
  color: process.stdout.isTTY === true && !process.env['NO_COLOR'],
  env: process.env,
});
