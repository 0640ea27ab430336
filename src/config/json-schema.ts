/**
 * The JSON Schema of the configuration, as both the validator and editors (schema/persona.schema.json) use
 * it: the TypeBox schema of schema.ts, made plain JSON, with one tightening. TypeBox's `Record` lists the
 * key pattern in `patternProperties` but leaves keys that match no pattern open, so `mimeMap: { html: … }`
 * (no dot) would pass and never match anything. Every dictionary of a configuration is closed here instead,
 * which keeps "an unknown key is an error" true for dictionaries too.
 */
import { ConfigSchema } from './schema.js';

/** The draft ajv's default class validates, so the shipped file means exactly what the server checks. */
export const JSON_SCHEMA_DRAFT = 'http://json-schema.org/draft-07/schema#';

export function configJsonSchema(): Record<string, unknown> {
  // Through JSON: TypeBox's symbol-keyed metadata is dropped, and the result is a copy we may change.
  const plain = JSON.parse(JSON.stringify(ConfigSchema)) as Record<string, unknown>;
  closeDictionaries(plain);
  return { $schema: JSON_SCHEMA_DRAFT, ...plain };
}

function closeDictionaries(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) closeDictionaries(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  if ('patternProperties' in schema && !('additionalProperties' in schema)) schema.additionalProperties = false;
  for (const value of Object.values(schema)) closeDictionaries(value);
}
