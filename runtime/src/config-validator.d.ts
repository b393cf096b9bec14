/**
 * config.json's schema (config-schema.ts) compiled by Ajv at build time: the module is generated
 * into out/runtime/src/config-validator.js by scripts/build-config-validator.mjs (`npm run build`).
 */
import type { ValidateFunction } from 'ajv';

export declare const validate: ValidateFunction;
