/**
 * The editor as a person sees it: code-server in headless chromium, the compose file
 * opened from the Explorer, the squiggle, the hover text, the Problems panel, the
 * profile in the status bar. Leaves a screenshot in test-results/ (look at it).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBrowser, ROOT, startCodeServer } from './code-server.js';

const RESULTS = join(ROOT, 'test-results');

test('a person opens compose.yaml: squiggle, hover, Problems panel, status bar', { timeout: 300_000 }, async () => {
  const server = await startCodeServer();
  const browser = await openBrowser().catch(async (error: unknown) => {
    await server.stop();
    throw error;
  });
  const { page } = browser;
  mkdirSync(RESULTS, { recursive: true });
  try {
    await page.goto(server.url());
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'compose.yaml' }).first().click({ timeout: 60_000 });

    const squiggle = page.locator('.monaco-editor .squiggly-error').first();
    await squiggle.waitFor({ timeout: 60_000 });
    const status = page.locator('#vmrt\\.vmrt\\.vmrt\\.profile, .statusbar-item', { hasText: 'vmrt: vmrt' }).first();
    await status.waitFor({ timeout: 30_000 });

    // Hover the flagged key's text (the squiggle itself is a zero-height decoration).
    await page.locator('.view-lines .view-line span', { hasText: 'network_mode' }).last().hover();
    const hover = page.locator('.monaco-hover-content', { hasText: 'Why a VM differs' }).first();
    await hover.waitFor({ timeout: 30_000 });
    const hoverText = await hover.innerText();
    assert.match(hoverText, /vmrt: host-network \(rule host-network-mode\): unsupported under vmrt, reported as error/);
    assert.match(hoverText, /Workaround: publish the ports you need/);
    await page.screenshot({ path: join(RESULTS, 'vscode-hover.png') });

    await page.mouse.move(700, 850);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+M');
    const markers = page.locator('.markers-panel');
    await markers.locator('.monaco-list-row', { hasText: 'host network mode' }).first().waitFor({ timeout: 30_000 });
    const problems = await markers.innerText();
    assert.match(problems, /The host network mode is not supported by vmrt/);
    assert.match(problems, /host-network-mode/);
    assert.match(problems, /The GPU request all is not implemented yet by vmrt/);
    await page.screenshot({ path: join(RESULTS, 'vscode-problems.png') });
  } catch (error) {
    await page.screenshot({ path: join(RESULTS, 'vscode-failure.png') }).catch(() => undefined);
    throw error;
  } finally {
    await browser.close();
    await server.stop();
  }
});
