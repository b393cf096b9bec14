/**
 * A real VS Code for tests: code-server 4.100.3 (VS Code 1.100.3) with the packaged
 * vmrt.vsix installed, opened in Debian's chromium through playwright-core.
 * Missing prerequisites fail loudly: set-up installs them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CODE_SERVER = join(ROOT, 'node_modules', '.bin', 'code-server');
const CHROMIUM = '/usr/bin/chromium';
export const VSIX = join(ROOT, 'vmrt.vsix');
export const WORKSPACE_FIXTURE = join(ROOT, 'test', 'e2e', 'workspace');
export const SUITE = join(ROOT, 'out', 'test', 'e2e', 'extension-host', 'suite.cjs');

/** Throws (never skips) when something the editor tests need is missing. */
export function requirePrerequisites(): void {
  const missing = [
    [CODE_SERVER, 'code-server (devDependency 4.100.3: run scripts/setup.sh)'],
    [CHROMIUM, 'chromium (Debian package: run scripts/setup.sh)'],
    [VSIX, 'vmrt.vsix (npm run package)'],
    [SUITE, 'the extension-host suite bundle (npm run build:extension)'],
  ].filter(([path]) => !existsSync(path!));
  if (missing.length > 0) throw new Error(`editor tests cannot run, missing: ${missing.map(([, what]) => what).join('; ')}`);
}

export interface CodeServer {
  port: number;
  /** A copy of the workspace fixture, owned by this instance. */
  workspace: string;
  extensionDir: string;
  url(query?: Record<string, string>): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Installs the packaged extension into a fresh profile and starts code-server on a free port.
 * `extraVsix`: more extensions to install beside vmrt's (e.g. a stand-in for one vmrt talks to);
 * `workspace`: the folder to open (else a copy of the fixture); `env`: replaces the test's environment.
 */
export async function startCodeServer(
  settings: Record<string, unknown> = {},
  extraVsix: string[] = [],
  options: { workspace?: string; env?: Record<string, string> } = {},
): Promise<CodeServer> {
  requirePrerequisites();
  const home = mkdtempSync(join(tmpdir(), 'vmrt-e2e-'));
  const removeHome = () => rmSync(home, { recursive: true, force: true });
  const userData = join(home, 'user-data');
  const extensions = join(home, 'extensions');
  const workspace = options.workspace ?? join(home, 'workspace');
  if (!options.workspace) cpSync(WORKSPACE_FIXTURE, workspace, { recursive: true });
  mkdirSync(join(userData, 'User'), { recursive: true });
  writeFileSync(
    join(userData, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'update.mode': 'none',
        'editor.hover.delay': 100,
        'editor.stickyScroll.enabled': false,
        'editor.minimap.enabled': false,
        ...settings,
      },
      null,
      2,
    ),
  );
  writeFileSync(join(userData, 'config.yaml'), 'auth: none\ncert: false\n');
  // TMPDIR inside home: VS Code, its Git extension and js-debug leave their sockets in TMPDIR.
  mkdirSync(join(home, 'tmp'));
  const env = {
    ...(options.env ?? process.env),
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    HOME: home,
    TMPDIR: join(home, 'tmp'),
  };
  const common = ['--user-data-dir', userData, '--extensions-dir', extensions];
  for (const vsix of [VSIX, ...extraVsix]) {
    const install = spawnSync(CODE_SERVER, [...common, '--install-extension', vsix], { env, encoding: 'utf8', timeout: 120_000 });
    if (install.status !== 0) {
      removeHome();
      throw new Error(`code-server --install-extension ${vsix} failed (${install.status}): ${install.stderr}${install.stdout}`);
    }
  }
  const installed = readdirSync(extensions).find((name) => name.startsWith('vmrt.vmrt-'));
  if (!installed) {
    const found = readdirSync(extensions).join(', ');
    removeHome();
    throw new Error(`vmrt.vsix did not install into ${extensions}: ${found}`);
  }

  const port = await freePort();
  const child = spawn(
    CODE_SERVER,
    [
      '--config',
      join(userData, 'config.yaml'),
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      ...common,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      workspace,
    ],
    // Its own process group: VS Code's helpers (tsserver's type installer runs npm in HOME) outlive
    // code-server's own process, and stop() must end them before it removes HOME.
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  try {
    await waitForHealth(port, child, () => output);
  } catch (error) {
    await endProcessGroup(child.pid!);
    removeHome();
    throw error;
  }

  return {
    port,
    workspace,
    extensionDir: join(extensions, installed),
    url: (query = {}) => `http://127.0.0.1:${port}/?${new URLSearchParams({ folder: workspace, ...query }).toString()}`,
    stop: async () => {
      await endProcessGroup(child.pid!);
      removeHome();
    },
  };
}

/** SIGTERM to every process of the group, SIGKILL to those left after 10 s; resolves once none is left. */
async function endProcessGroup(group: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-group, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-group, name);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  const killAt = Date.now() + 10_000;
  while (alive()) {
    if (Date.now() > killAt) signal('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitForHealth(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}): ${output()}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`code-server did not answer /healthz within 60 s: ${output()}`);
}

/** Headless chromium with a fresh profile (flags that work as root here). */
export async function openBrowser(): Promise<{ context: BrowserContext; page: Page; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'vmrt-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The page URL that runs an extension-host test suite against the installed extension. */
export function testRunUrl(server: CodeServer, suite: string): string {
  const remote = (path: string) => `vscode-remote://127.0.0.1:${server.port}${path}`;
  return server.url({
    payload: JSON.stringify([
      ['extensionDevelopmentPath', remote(server.extensionDir)],
      ['extensionTestsPath', remote(suite)],
    ]),
  });
}

/** code-server-as-vscode.ts, which runTests launches with the Node running the tests. */
const CODE_SERVER_AS_VSCODE = join(ROOT, 'out', 'test', 'e2e', 'code-server-as-vscode.js');

/**
 * Runs an extension-host suite through @vscode/test-electron's runTests, in code-server (see
 * code-server-as-vscode.ts) or, with VMRT_E2E_DESKTOP=1 (`npm run test:e2e -- --desktop`), in a
 * desktop VS Code that runTests downloads, with this checkout as the extension. Rejects unless the
 * suite passed. `env` reaches the suite's extension host.
 */
export async function runSuite(suite: string, workspace: string, env: Record<string, string> = {}): Promise<void> {
  const desktop = process.env.VMRT_E2E_DESKTOP === '1';
  await runTests({
    vscodeExecutablePath: desktop ? undefined : process.execPath,
    launchArgs: desktop ? [workspace] : [CODE_SERVER_AS_VSCODE, workspace],
    extensionDevelopmentPath: ROOT,
    extensionTestsPath: suite,
    extensionTestsEnv: env,
  });
}
