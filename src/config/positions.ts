/**
 * Where a configuration value was written. Every problem, and every value the server reports about later
 * (`explain`, 500.19 reasons), points back to file:line:column in the YAML the operator edits, so the YAML
 * document is kept next to the plain value built from it and looked up by the same path.
 */
import { isAlias, isMap, isScalar, isSeq, visit, type Alias, type Document, type LineCounter, type Node } from 'yaml';

/** 1-based line and column. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A path into the configuration: mapping keys and list indices, e.g. ['sites', 0, 'bindings', 1, 'port']. */
export type ConfigPath = readonly (string | number)[];

/** `sites[0].bindings[1].port`; keys that are not identifiers are quoted: `mimeMap[".html"]`. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/**
 * A mapping key as the configuration sees it. Plain scalars keep the text that was written, so that
 * `404.10:` names substatus 10 (YAML would read the float 404.1) and `0x50:` stays "0x50". Keys that are
 * collections have no text: the caller reports them.
 */
export function keyText(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  if (typeof key.value === 'string') return key.value;
  return key.source ?? String(key.value);
}

/**
 * Each alias's target: the last node before it with that anchor, as YAML defines. Computed once per document
 * (the library's own `resolve` walks the whole document for every alias).
 */
export function aliasTargets(doc: Document): ReadonlyMap<Alias, Node> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node>();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target) targets.set(node, target);
      } else if (node.anchor) {
        // Registered before its children are visited, so `&a [*a]` finds itself: the converter reports the cycle.
        anchors.set(node.anchor, node);
      }
    },
  });
  return targets;
}

/** Finds the YAML nodes behind configuration paths. */
export interface SourceMap {
  readonly file: string;
  /** Where the value at `path` starts; undefined when the path is not in the document. */
  value(path: ConfigPath): SourcePosition | undefined;
  /** Where the key naming the last segment of `path` is written (for a list item: the item itself). */
  key(path: ConfigPath): SourcePosition | undefined;
  /** The value at `path`, or its nearest ancestor that exists; the document start at worst. */
  nearest(path: ConfigPath): SourcePosition;
  /** The position of a byte offset in the text. */
  at(offset: number): SourcePosition;
}

interface Found {
  readonly node: Node | null;
  /** The key node, for paths ending in a mapping key. */
  readonly key: Node | null;
}

export function sourceMap(doc: Document, lineCounter: LineCounter, file: string, targets: ReadonlyMap<Alias, Node>): SourceMap {
  const at = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  const start = (node: Node | null): SourcePosition | undefined => (node?.range ? at(node.range[0]) : undefined);
  const deref = (node: unknown): unknown => (isAlias(node) ? targets.get(node) : node);

  const find = (path: ConfigPath): Found | undefined => {
    let found: Found = { node: doc.contents, key: null };
    for (const segment of path) {
      const parent = deref(found.node);
      if (isMap(parent) && typeof segment === 'string') {
        // The last pair wins, as in the converted value (duplicate keys are reported anyway).
        const pair = parent.items.findLast((p) => keyText(p.key) === segment);
        if (!pair) return undefined;
        found = { node: (pair.value as Node | null) ?? null, key: pair.key as Node };
      } else if (isSeq(parent) && typeof segment === 'number') {
        const item = parent.items[segment];
        if (item === undefined) return undefined;
        found = { node: item as Node | null, key: null };
      } else {
        return undefined;
      }
    }
    return found;
  };

  const value = (path: ConfigPath): SourcePosition | undefined => {
    const found = find(path);
    if (!found) return undefined;
    // `key:` with nothing after it: the value has no text of its own, so point at its key.
    return start(found.node) ?? start(found.key);
  };

  return {
    file,
    at,
    value,
    key: (path) => {
      const found = find(path);
      if (!found) return undefined;
      return start(found.key) ?? start(found.node);
    },
    nearest: (path) => {
      for (let n = path.length; n >= 0; n--) {
        const position = value(path.slice(0, n));
        if (position) return position;
      }
      return { file, line: 1, column: 1 };
    },
  };
}
