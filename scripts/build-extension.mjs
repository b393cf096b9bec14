// Bundles the VS Code extension (client), the language server it starts, and the
// extension-host test suite into CommonJS files: VS Code 1.100's extension host
// require()s extensions, and this package is ESM ("type": "module"). Bundles the runtime
// CLI too, for the platform-specific VSIX that carries the runtime.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  logLevel: 'warning',
  // ESM builds first: jsonc-parser's UMD build require()s its parts dynamically, which a bundle cannot follow.
  mainFields: ['module', 'main'],
  // Code written for ESM may locate files through import.meta.url; give it the bundle's own URL.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: 'const importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  // dockerode's ssh transport (ssh2) tries optional native add-ons inside try/catch: bundle them as empty modules.
  loader: { '.node': 'empty' },
};

/**
 * runtime/src/bundle.ts imports config.json's validator, which `npm run build` generates into out/
 * (scripts/build-config-validator.mjs): the bundle takes it from there.
 */
const generatedValidator = {
  name: 'generated-validator',
  setup(build) {
    build.onResolve({ filter: /^\.\/config-validator\.js$/ }, (args) =>
      args.importer.endsWith(join('runtime', 'src', 'bundle.ts'))
        ? { path: join(process.cwd(), 'out', 'runtime', 'src', 'config-validator.js') }
        : undefined,
    );
  },
};

await Promise.all([
  // The runtime CLI as one ES module (its main.ts awaits at the top): runtime/build/cli/main.js, so that
  // runtime/src/paths.ts finds the guest, the shim and the launcher three folders up, as it does from
  // out/runtime/src/ in a checkout, and the CLI re-runs itself as main.js (network-sync).
  build({
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    minify: true,
    mainFields: common.mainFields,
    entryPoints: ['runtime/src/main.ts'],
    outfile: 'runtime/build/cli/main.js',
    // CommonJS dependencies require() Node's modules, which an ES module has no require for.
    banner: { js: 'import { createRequire as bundleRequire } from "node:module"; const require = bundleRequire(import.meta.url);' },
    plugins: [generatedValidator],
  }),
  build({ ...common, entryPoints: ['client/src/extension.ts'], outfile: 'dist/extension.cjs', minify: true }),
  build({ ...common, entryPoints: ['server/src/lsp/main.ts'], outfile: 'dist/server.cjs', minify: true }),
  // Native debugging without the C/C++ extension: Eclipse CDT's GDB adapter, for gdbserver in the VM.
  build({
    ...common,
    entryPoints: ['node_modules/cdt-gdb-adapter/dist/debugTargetAdapter.js'],
    outfile: 'dist/gdb-adapter.cjs',
    minify: true,
    alias: { serialport: './client/src/gdb-adapter-serialport.ts' },
  }),
  build({
    ...common,
    entryPoints: ['test/e2e/extension-host/suite.ts'],
    outfile: 'out/test/e2e/extension-host/suite.cjs',
    sourcemap: 'inline',
  }),
  build({ ...common, entryPoints: ['test/e2e/vm-runtime/suite.ts'], outfile: 'out/test/e2e/vm-runtime/suite.cjs', sourcemap: 'inline' }),
]);

// The .vmrt-lint.yaml schema, generated from the engine's lists (server/src/lsp/config-schema.ts).
const temp = mkdtempSync(join(tmpdir(), 'vmrt-schema-'));
try {
  await build({ ...common, entryPoints: ['server/src/lsp/config-schema.ts'], outfile: join(temp, 'schema.cjs') });
  const { configSchema } = createRequire(import.meta.url)(join(temp, 'schema.cjs'));
  writeFileSync('dist/vmrt-lint.schema.json', `${JSON.stringify(configSchema(), null, 2)}\n`);
} finally {
  rmSync(temp, { recursive: true, force: true });
}
