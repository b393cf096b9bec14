// Compiles config.json's schema (runtime/src/config-schema.ts, built by tsc first) into a
// standalone ES module, out/runtime/src/config-validator.js, with Ajv's own code generator:
// compiling the schema at every `vmrt create` cost 60–100 ms, and the CLI carries no Ajv now.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Ajv } = require('ajv');
const standaloneCode = require('ajv/dist/standalone').default;
const { CONFIG_SCHEMA } = await import('../out/runtime/src/config-schema.js');

const ajv = new Ajv({ allErrors: false, strict: false, verbose: true, code: { source: true, esm: true } });
// The one runtime helper the schema needs (minLength counts characters, not UTF-16 units), inline:
// the module must not require Ajv where it runs (the bundled CLI has no node_modules).
const code = standaloneCode(ajv, ajv.compile(CONFIG_SCHEMA)).replaceAll(
  'require("ajv/dist/runtime/ucs2length").default',
  '((text) => [...text].length)',
);
if (/\brequire\(/.test(code)) throw new Error('build-config-validator: the generated validator still requires a module');
writeFileSync(new URL('../out/runtime/src/config-validator.js', import.meta.url), code);
