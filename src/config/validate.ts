/**
 * Checks the shape of a configuration against the schema (schema.ts, via json-schema.ts) with ajv, and turns ajv's errors into
 * messages an operator can act on, each at the position of what is wrong: the key for an unknown key, the
 * value for a wrong value. ajv reports one error per failed keyword — a union of six literals fails six
 * `const` keywords and the `anyOf` — so errors are regrouped into one message per mistake.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ConfigPath, SourceMap } from './positions.js';
import { atKey, atValue, type ConfigProblem } from './problems.js';
import { configJsonSchema } from './json-schema.js';
import type { ConfigInput } from './schema.js';
import { closest } from './suggest.js';

/** The parts of a JSON Schema node the messages describe. */
interface SchemaNode {
  readonly type?: string;
  readonly const?: unknown;
  readonly anyOf?: readonly SchemaNode[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly pattern?: string;
  readonly minItems?: number;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly patternProperties?: Readonly<Record<string, SchemaNode>>;
}

let compiled: ValidateFunction<ConfigInput> | undefined;

function validator(): ValidateFunction<ConfigInput> {
  // strict: a schema keyword ajv does not know is a mistake in schema.ts, found by the first test run.
  // verbose: errors carry the schema and data they are about, which the messages describe.
  compiled ??= new Ajv({ allErrors: true, strict: true, verbose: true }).compile<ConfigInput>(configJsonSchema());
  return compiled;
}

export function validateSchema(value: unknown, map: SourceMap): { readonly input: ConfigInput } | { readonly problems: ConfigProblem[] } {
  const validate = validator();
  if (validate(value)) return { input: value };
  return { problems: explainErrors(validate.errors ?? [], value, map) };
}

/** Keywords about a value as a whole: one message per value says what was expected instead. */
const VALUE_KEYWORDS = new Set([
  'type', 'const', 'enum', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'minLength', 'maxLength', 'pattern', 'format',
]);

function explainErrors(errors: readonly ErrorObject[], root: unknown, map: SourceMap): ConfigProblem[] {
  const consumed = new Set<ErrorObject>();
  for (const union of errors) {
    if (union.keyword !== 'anyOf') continue;
    for (const other of errors) {
      if (other !== union && other.schemaPath.startsWith(`${union.schemaPath}/`) && within(other.instancePath, union.instancePath)) {
        consumed.add(other);
      }
    }
  }

  const problems: ConfigProblem[] = [];
  const valuesDone = new Set<string>();
  for (const error of errors) {
    if (consumed.has(error)) continue;
    const path = toPath(error.instancePath, root);
    const parent = (error.parentSchema ?? {}) as SchemaNode;
    const params = error.params as Record<string, unknown>;
    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String(params.additionalProperty);
        problems.push(atKey(map, [...path, key], unknownKey(key, parent)));
        break;
      }
      case 'required':
        problems.push(atValue(map, path, `missing required key '${String(params.missingProperty)}'`));
        break;
      case 'minItems': {
        const length = Array.isArray(error.data) ? error.data.length : 0;
        problems.push(atValue(map, path, `expected at least ${plural(Number(params.limit), 'item')}, got ${length === 0 ? 'an empty list' : length}`));
        break;
      }
      case 'uniqueItems': {
        // ajv names the two equal items; the later one is the repeat to remove.
        const index = Math.max(Number(params.i), Number(params.j));
        const item: unknown = Array.isArray(error.data) ? error.data[index] : undefined;
        problems.push(atValue(map, [...path, index], `${show(item)} is listed twice`));
        break;
      }
      case 'anyOf':
        if (once(valuesDone, error.instancePath)) problems.push(atValue(map, path, mismatch(parent, error.data)));
        break;
      default:
        if (VALUE_KEYWORDS.has(error.keyword)) {
          if (once(valuesDone, error.instancePath)) problems.push(atValue(map, path, mismatch(parent, error.data)));
        } else {
          problems.push(atValue(map, path, error.message ?? `fails the schema keyword '${error.keyword}'`));
        }
    }
  }
  return problems;
}

function once(done: Set<string>, key: string): boolean {
  if (done.has(key)) return false;
  done.add(key);
  return true;
}

function within(pointer: string, ancestor: string): boolean {
  return pointer === ancestor || pointer.startsWith(`${ancestor}/`);
}

/** A JSON pointer from ajv → a configuration path, with list indices as numbers. */
function toPath(pointer: string, root: unknown): ConfigPath {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let node = root;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const index = Number(segment);
      path.push(index);
      node = node[index];
    } else {
      path.push(segment);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

function unknownKey(key: string, parent: SchemaNode): string {
  const known = Object.keys(parent.properties ?? {});
  const patterns = Object.keys(parent.patternProperties ?? {});
  if (known.length === 0 && patterns.length > 0) {
    return `invalid key '${key}': expected ${patterns.map(describePattern).join(' or ')}`;
  }
  if (known.length === 0) return `unknown key '${key}' (this mapping takes no keys)`;
  if (key === '<<') return "merge keys ('<<') are not supported: use an alias for the whole value, or repeat the keys";
  const guess = closest(key, known);
  return `unknown key '${key}' (expected one of: ${known.join(', ')}${guess ? `; did you mean '${guess}'?` : ''})`;
}

/** "expected integer 1–65535, got 'eighty'", with a hint for the usual YAML surprises. */
function mismatch(schema: SchemaNode, data: unknown): string {
  const expected = describe(schema);
  // After a list of choices a comma would read as one more choice.
  let message = `expected ${expected}${expected.startsWith('one of:') ? ';' : ','} got ${show(data)}`;
  const choices = literals(schema);
  if (choices && typeof data === 'string') {
    const guess = closest(data, choices.map(String));
    if (guess) message += ` (did you mean '${guess}'?)`;
  } else if (schema.type === 'boolean' && typeof data === 'string' && /^(yes|no|on|off|y|n)$/i.test(data)) {
    message += ' (YAML 1.2 booleans are true and false)';
  } else if ((schema.type === 'integer' || schema.type === 'number') && typeof data === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(data)) {
    message += ' (a quoted number is a string: remove the quotes)';
  } else if (schema.type === 'string' && (typeof data === 'number' || typeof data === 'boolean')) {
    message += ' (quote it to make it a string)';
  }
  return message;
}

/** The choices of a union of literals, or undefined for any other schema. */
function literals(schema: SchemaNode): unknown[] | undefined {
  if (!schema.anyOf || !schema.anyOf.every((branch) => 'const' in branch)) return undefined;
  return schema.anyOf.map((branch) => branch.const);
}

function describe(schema: SchemaNode): string {
  if ('const' in schema) return show(schema.const);
  if (schema.anyOf) {
    const choices = literals(schema);
    return choices ? `one of: ${choices.map((c) => (typeof c === 'string' ? c : show(c))).join(', ')}` : schema.anyOf.map(describe).join(' or ');
  }
  switch (schema.type) {
    case 'integer':
    case 'number': {
      const { minimum: min, maximum: max } = schema;
      if (min !== undefined && max !== undefined) return `${schema.type} ${min}–${max}`;
      if (min !== undefined) return `${schema.type} ≥ ${min}`;
      if (max !== undefined) return `${schema.type} ≤ ${max}`;
      return schema.type;
    }
    case 'string':
      if (schema.pattern !== undefined) return describePattern(schema.pattern);
      return (schema.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return schema.minItems ? `a list of at least ${plural(schema.minItems, 'item')}` : 'a list';
    case 'object':
      return 'a mapping';
    case 'null':
      return 'nothing';
    default:
      return 'a value matching the schema';
  }
}

/** The schema's patterns in words; an unknown pattern is shown as it is. */
const PATTERN_WORDS: Readonly<Record<string, string>> = {
  '^/': "a URL path starting with '/'",
  '^\\.[^/\\\\]*$': "a file extension with its dot, like '.html'",
  "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$": "an HTTP token (letters, digits and !#$%&'*+.^_`|~-), like 'GET' or 'X-Custom'",
  '^$|^[^\\s/]+/[^\\s]+$': "a media type like 'text/html' (or '' to remove an inherited mapping)",
  '^[45][0-9][0-9](\\.[0-9]+)?$': "an error status like '404' or '404.13'",
};

function describePattern(pattern: string): string {
  return PATTERN_WORDS[pattern] ?? `a string matching /${pattern}/`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A value as the operator wrote it, short enough for one line. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') {
    const short = value.length > 60 ? `${value.slice(0, 57)}…` : value;
    return `'${short.replace(/[\u0000-\u001f\u007f\\']/g, (c) => (c === "'" ? "\\'" : c === '\\' ? '\\\\' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}'`;
  }
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
