// `npm run test:e2e [-- --desktop]`: the editor tests; --desktop runs the extension-host suites in a
// desktop VS Code that @vscode/test-electron downloads (machines that can), else in code-server.
import { spawnSync } from 'node:child_process';

const desktop = process.argv.includes('--desktop');
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', 'out/test/e2e/'], {
  stdio: 'inherit',
  env: { ...process.env, ...(desktop ? { VMRT_E2E_DESKTOP: '1' } : {}) },
});
process.exit(run.status ?? 1);
