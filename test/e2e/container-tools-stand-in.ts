/**
 * A stand-in for Microsoft's Container Tools extension in the editor tests (the real one is not
 * installable here): the same extension id, and the one API call vmrt makes, as
 * @microsoft/vscode-container-client documents it (registerContainerRuntimeClient). It keeps the
 * clients registered with it in its exports, for the suite to drive.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './code-server.js';

const EXTENSION = `
const clients = [];
exports.activate = () => ({
  clients,
  registerContainerRuntimeClient(client) {
    clients.push(client);
    return { dispose() { clients.splice(clients.indexOf(client), 1); } };
  },
});
`;

/** Packs the stand-in into a .vsix in `workDir`; returns its path. */
export function packContainerToolsStandIn(workDir: string): string {
  const dir = join(workDir, 'container-tools-stand-in');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'vscode-containers',
      publisher: 'ms-azuretools',
      version: '0.0.1',
      description: 'Container Tools stand-in (vmrt editor tests)',
      engines: { vscode: '^1.91.0' },
      main: './extension.js',
      activationEvents: [],
    }),
  );
  writeFileSync(join(dir, 'extension.js'), EXTENSION);
  const vsix = join(workDir, 'container-tools-stand-in.vsix');
  execFileSync(
    join(ROOT, 'node_modules', '.bin', 'vsce'),
    ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '-o', vsix],
    { cwd: dir, stdio: 'pipe' },
  );
  return vsix;
}
