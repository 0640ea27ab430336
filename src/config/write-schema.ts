/**
 * Writes schema/persona.schema.json, the JSON Schema editors use to complete and check persona.yaml
 * (`$schema: ./schema/persona.schema.json`, or the YAML language server's modeline). It is generated from
 * schema.ts and committed; a test compares the committed file with `schemaFileText()` so it cannot drift.
 *
 * Usage: node dist/src/config/write-schema.js [output]   (default: schema/persona.schema.json under the
 * working directory, i.e. the repository root when run through npm).
 */
import { realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { configJsonSchema } from './json-schema.js';

export const SCHEMA_FILE = 'schema/persona.schema.json';

/** The exact text of the schema file: two-space JSON and a final newline, stable for diffs. */
export function schemaFileText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

export async function writeSchemaFile(file: string = resolve(SCHEMA_FILE)): Promise<string> {
  const target = resolve(file);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, schemaFileText());
  return target;
}

function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  const written = await writeSchemaFile(process.argv[2]);
  process.stdout.write(`wrote ${written}\n`);
}
