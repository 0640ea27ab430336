import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { JSON_SCHEMA_DRAFT } from '../../src/config/json-schema.js';
import { SCHEMA_FILE, schemaFileText } from '../../src/config/write-schema.js';
import { VALID } from './tree.js';

/** The repository root: tests run from it (npm test), or from a folder below it. */
function repositoryRoot(): string {
  for (let dir = resolve('.'); ; dir = dirname(dir)) {
    if (existsSync(join(dir, SCHEMA_FILE)) && existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve('.');
  }
}

test('the committed schema file is exactly what write-schema produces (regenerate it after changing schema.ts)', () => {
  const committed = readFileSync(join(repositoryRoot(), SCHEMA_FILE), 'utf8');
  assert.equal(committed, schemaFileText(), 'schema/persona.schema.json is stale: run `node dist/src/config/write-schema.js`');
});

test('the schema file is a draft-07 schema that ajv compiles and that accepts a valid configuration', () => {
  const schema = JSON.parse(schemaFileText()) as Record<string, unknown>;
  assert.equal(schema.$schema, JSON_SCHEMA_DRAFT);
  const validate = new Ajv({ strict: true, allErrors: true }).compile(schema);
  assert.equal(validate(parse(VALID)), true, JSON.stringify(validate.errors));
  assert.equal(validate({ sites: [] }), false);
});

test('dictionaries in the schema file are closed: a key that matches no pattern is refused', () => {
  const validate = new Ajv({ strict: true }).compile(JSON.parse(schemaFileText()) as Record<string, unknown>);
  const site = { name: 'a', bindings: [{ protocol: 'http', ip: '*', port: 80 }], physicalPath: 'www' };
  assert.equal(validate({ sites: [{ ...site, settings: { staticContent: { mimeMap: { '.html': 'text/html' } } } }] }), true);
  assert.equal(validate({ sites: [{ ...site, settings: { staticContent: { mimeMap: { html: 'text/html' } } } }] }), false);
});
