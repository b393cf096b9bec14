/**
 * What @vscode/test-electron's runTests launches where desktop VS Code cannot be downloaded: given
 * as `vscodeExecutablePath: process.execPath` with this file first in `launchArgs`, it takes VS
 * Code's test arguments (the folder, --extensionTestsPath; the profile flags are its own), starts
 * code-server with the packaged vmrt.vsix, runs the suite in its extension host through Chromium,
 * and exits with the suite's status. The packaged extension is under test, so
 * --extensionDevelopmentPath points at its installed folder, not the checkout.
 *
 * Environment (runTests' extensionTestsEnv): VMRT_E2E_SETTINGS, user settings (JSON);
 * VMRT_E2E_EXTRA_VSIX, more extensions to install (':'-separated); VMRT_E2E_FRESH_MACHINE=1, a
 * clean user (empty HOME, Debian's PATH without this checkout) and screenshots named fresh-<name>; VMRT_E2E_RESULTS, where to save the screenshots the suite asks for: once the page
 * shows the text it names, <results>/vscode-<name>.png, answered in <folder>/.vmrt-e2e/<name>.done;
 * a `click` request then clicks the button of that text (a modal dialog's, which the suite cannot).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBrowser, startCodeServer, testRunUrl } from './code-server.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const folder = argv.find((arg) => !arg.startsWith('-'));
const suite = flag('extensionTestsPath');
if (!folder || !suite) throw new Error(`usage: code-server-as-vscode <folder> --extensionTestsPath=<suite> (got ${argv.join(' ')})`);
const results = process.env.VMRT_E2E_RESULTS;

const settings = JSON.parse(process.env.VMRT_E2E_SETTINGS ?? '{}') as Record<string, unknown>;
const fresh = process.env.VMRT_E2E_FRESH_MACHINE === '1';
const server = await startCodeServer(settings, process.env.VMRT_E2E_EXTRA_VSIX?.split(':').filter(Boolean) ?? [], {
  workspace: folder,
  env: fresh ? { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } : undefined,
});
let code = 1;
try {
  const { page, close } = await openBrowser();
  try {
    let screenshots = Promise.resolve();
    page.on('console', (message) => {
      const text = message.text();
      if (!text.includes('vmrt')) return;
      console.log(text);
      const request = /vmrt-e2e: (screenshot|click) (\S+) (.+)$/.exec(text);
      if (!request || !results) return;
      const [, action, name, expectedText] = request;
      screenshots = screenshots.then(async () => {
        let answer = 'ok';
        try {
          const shown = action === 'click' ? page.getByRole('button', { name: expectedText, exact: true }) : page.getByText(expectedText!);
          await shown.first().waitFor({ state: 'visible', timeout: 30_000 });
        } catch {
          answer = `the page does not show "${expectedText}"`;
        }
        mkdirSync(results, { recursive: true });
        await page.screenshot({ path: join(results, `vscode-${fresh ? 'fresh-' : ''}${name}.png`) });
        if (action === 'click' && answer === 'ok') await page.getByRole('button', { name: expectedText, exact: true }).first().click();
        mkdirSync(join(folder, '.vmrt-e2e'), { recursive: true });
        writeFileSync(join(folder, '.vmrt-e2e', `${name}.done`), answer);
      });
    });
    const exit = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (status: number) => resolve(status));
    });
    await page.goto(testRunUrl(server, suite));
    code = await exit;
    await screenshots;
  } catch (error) {
    if (results) await page.screenshot({ path: join(results, 'vscode-failure.png') }).catch(() => undefined);
    throw error;
  } finally {
    await close();
  }
} finally {
  await server.stop();
}
process.exit(code);
