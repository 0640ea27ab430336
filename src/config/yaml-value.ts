/**
 * YAML text → a plain value, keeping the document for positions. Only what a configuration needs is
 * accepted: YAML 1.2 with the core schema (strings, numbers, booleans, null, mappings, lists). Anything
 * else — other tags, duplicate keys, keys that are not scalars, alias loops or alias bombs — is a problem
 * with a position, because a configuration that means something other than what it looks like is worse
 * than one that is refused.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Alias, type Document, type Node } from 'yaml';
import { aliasTargets, keyText, sourceMap, type SourceMap } from './positions.js';
import { atValue, fileProblem, problem, type ConfigProblem } from './problems.js';

/**
 * Aliases expanded per document, nested ones included. Sharing a settings block between a few sites needs
 * a handful; a "billion laughs" document needs exponentially many, and is refused long before it costs anything.
 */
export const MAX_ALIAS_EXPANSIONS = 100;
/** A configuration is about eight levels deep; this only stops pathological nesting from exhausting the stack. */
export const MAX_DEPTH = 64;

export interface YamlValue {
  readonly value: unknown;
  readonly map: SourceMap;
}

export function parseYaml(text: string, file: string): YamlValue | { readonly problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  let targets: ReadonlyMap<Alias, Node>;
  try {
    doc = parseDocument(text, {
      lineCounter,
      version: '1.2',
      schema: 'core',
      // Without this the library still honours !!binary, !!set, !!timestamp… outside the core schema.
      resolveKnownTags: false,
      merge: false,
      uniqueKeys: true,
      strict: true,
      prettyErrors: false,
      keepSourceTokens: false,
    });
    targets = aliasTargets(doc);
  } catch (error) {
    // The parser recurses on nesting; absurd input can exhaust the stack. Still a problem, not a crash.
    return { problems: [fileProblem(file, `cannot parse YAML: ${(error as Error).message}`)] };
  }
  const map = sourceMap(doc, lineCounter, file, targets);

  const problems: ConfigProblem[] = [];
  for (const error of [...doc.errors, ...doc.warnings]) {
    problems.push(problem(map.at(error.pos[0]), [], yamlMessage(error.code, error.message)));
  }
  const version = doc.directives?.yaml.explicit ? doc.directives.yaml.version : undefined;
  if (version !== undefined && version !== '1.2') {
    problems.push(problem(map.at(0), [], `YAML ${version} is not supported: configurations are YAML 1.2 (remove the %YAML directive)`));
  }
  if (problems.length > 0) return { problems };

  if (doc.contents === null) {
    return { problems: [fileProblem(file, 'the configuration is empty: it needs at least a `sites:` list')] };
  }
  const converter = new Converter(targets, map);
  const value = converter.convert(doc.contents, [], 0, []);
  if (converter.problems.length > 0) return { problems: converter.problems };
  return { value, map };
}

function yamlMessage(code: string, message: string): string {
  // The library's messages end with a code excerpt when prettyErrors is on; keep the first line only.
  const first = message.split('\n')[0] ?? message;
  if (code === 'DUPLICATE_KEY') return 'duplicate key: each key may appear once in a mapping';
  if (code === 'TAG_RESOLVE_FAILED') {
    const tag = first.replace(/^Unresolved tag: /, '').replace(/^tag:yaml\.org,2002:/, '!!');
    return `tag ${tag} is not allowed: only plain YAML values are (strings, numbers, true/false, null, mappings and lists)`;
  }
  if (first.includes('Maximum call stack')) return `nesting too deep to parse`;
  if (code === 'MULTIPLE_DOCS') return 'the file holds several YAML documents (`---`); a configuration is one document';
  return `YAML syntax: ${first}`;
}

class Converter {
  readonly problems: ConfigProblem[] = [];
  private expansions = 0;

  constructor(
    private readonly targets: ReadonlyMap<Alias, Node>,
    private readonly map: SourceMap,
  ) {}

  /** `path` is for messages; `open` holds the collections being converted, to catch an alias inside its own anchor. */
  convert(node: unknown, path: (string | number)[], depth: number, open: Node[]): unknown {
    if (depth > MAX_DEPTH) return this.fail(node, path, `nesting deeper than ${MAX_DEPTH} levels`);
    if (isAlias(node)) return this.alias(node, path, depth, open);
    if (isScalar(node)) {
      const v: unknown = node.value;
      if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
      if (typeof v === 'number') return this.fail(node, path, `${node.source ?? String(v)} is not a usable number`);
      return this.fail(node, path, 'only plain YAML values are allowed: strings, numbers, true/false, null, mappings and lists');
    }
    if (isSeq(node)) {
      open.push(node);
      const out = node.items.map((item, i) => this.convert(item, [...path, i], depth + 1, open));
      open.pop();
      return out;
    }
    if (isMap(node)) {
      open.push(node);
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = keyText(pair.key);
        if (key === undefined) {
          this.fail(pair.key, path, 'mapping keys must be plain strings, not lists, mappings or aliases');
          continue;
        }
        // defineProperty: a key named `__proto__` must become a key (and be refused as unknown), not a prototype.
        Object.defineProperty(out, key, {
          value: this.convert(pair.value, [...path, key], depth + 1, open),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      open.pop();
      return out;
    }
    // `key:` with no value: the document has no node at all there.
    return node === null || node === undefined ? null : this.fail(node, path, 'unsupported YAML node');
  }

  private alias(node: Alias, path: (string | number)[], depth: number, open: Node[]): unknown {
    const target = this.targets.get(node);
    if (!target) return this.fail(node, path, `alias *${node.source} has no anchor &${node.source} before it`);
    if (open.includes(target)) return this.fail(node, path, `alias *${node.source} is inside its own anchor &${node.source}: the value would be infinite`);
    if (++this.expansions > MAX_ALIAS_EXPANSIONS) {
      // Reported once; every later alias is dropped at once, which is what bounds the work.
      if (this.expansions > MAX_ALIAS_EXPANSIONS + 1) return undefined;
      return this.fail(node, path, `more than ${MAX_ALIAS_EXPANSIONS} alias expansions: the document would grow without bound`);
    }
    return this.convert(target, path, depth, open);
  }

  private fail(node: unknown, path: (string | number)[], message: string): undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    // One problem per cause: an alias bomb must not produce a million lines either.
    if (this.problems.length < 100) {
      this.problems.push(range ? problem(this.map.at(range[0]), path, message) : atValue(this.map, path, message));
    }
    return undefined;
  }
}
