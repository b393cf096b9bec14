/**
 * Extension-host tests: the suite in extension-host/suite.ts runs inside code-server's
 * real extension host, against the packaged vmrt.vsix, and reports through
 * window.codeAutomationExit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBrowser, startCodeServer, SUITE, testRunUrl } from './code-server.js';

test('the extension-host suite passes in a real VS Code with the packaged extension', { timeout: 300_000 }, async () => {
  const server = await startCodeServer();
  const browser = await openBrowser().catch(async (error: unknown) => {
    await server.stop();
    throw error;
  });
  const lines: string[] = [];
  try {
    browser.page.on('console', (message) => {
      if (message.text().includes('vmrt-e2e')) lines.push(message.text());
    });
    const exit = new Promise<number>((resolve) => {
      void browser.page.exposeFunction('codeAutomationExit', (code: number) => {
        resolve(code);
      });
    });
    await browser.page.goto(testRunUrl(server, SUITE));
    const timeout = new Promise<number>((_, reject) => {
      setTimeout(() => reject(new Error(`the suite did not finish within 240 s:\n${lines.join('\n')}`)), 240_000).unref();
    });
    const code = await Promise.race([exit, timeout]);
    console.log(lines.join('\n'));
    assert.equal(code, 0, `extension-host suite failed:\n${lines.join('\n')}`);
    assert.ok(
      lines.some((line) => line.includes('vmrt-e2e: passed')),
      'the suite reported its results',
    );
  } finally {
    await browser.close();
    await server.stop();
  }
});
