/**
 * runtime/common (frame codec, JSON parser/builder shared by the agent and the shim) and the
 * agent's seccomp compiler: their C unit tests, built with the project's static flags, plus the
 * agent build itself.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNTIME = join(fileURLToPath(new URL('../../../', import.meta.url)), 'runtime');

function make(target: string) {
  const run = spawnSync('make', ['-C', RUNTIME, '-s', target], { encoding: 'utf8' });
  if (run.error) throw new Error(`make is missing (apt-get install make gcc libc6-dev): ${run.error.message}`);
  return run;
}

describe('runtime/common', () => {
  it("passes its C unit tests (frames, malformed input, JSON parse/build; the agent's seccomp compiler)", () => {
    const run = make('check');
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), ['common: all checks passed', 'seccomp compiler: all checks passed']);
  });

  it('builds the agent with -Wall -Wextra -Werror as a static binary', () => {
    const run = make('agent');
    assert.equal(run.status, 0, run.stderr);
    const file = spawnSync('readelf', ['-l', join(RUNTIME, 'build', 'vmrt-agent')], { encoding: 'utf8' });
    assert.equal(file.status, 0, file.stderr);
    assert.doesNotMatch(file.stdout, /INTERP/, 'the agent must not need a dynamic loader');
  });
});
