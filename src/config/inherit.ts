/**
 * IIS metabase inheritance for the `settings` bag.
 *
 * The configuration tree is a list of nodes along the URL namespace (server → site → application → virtual
 * directory → location). For one URL, the chain is every node whose path is a segment prefix of the URL, from
 * the shallowest to the deepest. Each leaf property takes its value from the deepest node of the chain that sets
 * it: setting it at a level stops inheritance from above for that level and everything below. Objects are merged
 * key by key; arrays and scalars are single values.
 */
import { BUILTIN_SETTINGS, type Settings, type SettingsInput } from './schema.js';
import type { SourcePosition } from './load.js';

export type LevelKind = 'built-in' | 'server' | 'site' | 'application' | 'virtualDirectory' | 'location';

export interface ConfigLevel {
  readonly kind: LevelKind;
  /** Site-relative URL path of the node ('' for built-in and server). */
  readonly urlPath: string;
  /** Human label: `site "Default"`, `application /app`, `location /secure`… */
  readonly label: string;
  readonly settings: SettingsInput | undefined;
  /** Where this node's `settings` sits in the YAML, for positions of each value. */
  readonly yamlPath: readonly (string | number)[];
}

export interface ValueOrigin {
  readonly level: ConfigLevel;
  readonly position: SourcePosition | undefined;
}

export interface EffectiveSettings {
  readonly settings: Settings;
  /** Dotted leaf path (e.g. `requestFiltering.maxUrl`, `staticContent.mimeMap..svg`) → where its value came from. */
  readonly origins: ReadonlyMap<string, ValueOrigin>;
}

const BUILT_IN_LEVEL: ConfigLevel = { kind: 'built-in', urlPath: '', label: 'built-in default', settings: undefined, yamlPath: [] };

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merges `source` into `target` (both plain objects), recording the origin of every leaf it sets. */
function mergeLevel(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
  prefix: string,
  yamlPath: readonly (string | number)[],
  level: ConfigLevel,
  positionOf: (path: readonly (string | number)[]) => SourcePosition | undefined,
  origins: Map<string, ValueOrigin>,
): void {
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (value === undefined) continue;
    const dotted = prefix ? `${prefix}.${key}` : key;
    const path = [...yamlPath, key];
    const current = target[key];
    if (isPlainObject(value)) {
      // Copy-on-write: the built-in objects and lower levels' objects are shared between resolutions.
      const copy: Record<string, unknown> = isPlainObject(current) ? { ...current } : {};
      target[key] = copy;
      mergeLevel(copy, value, dotted, path, level, positionOf, origins);
    } else {
      target[key] = Array.isArray(value) ? [...value] : value;
      // A new value replaces everything inherited under this key.
      for (const existing of [...origins.keys()]) if (existing.startsWith(`${dotted}.`)) origins.delete(existing);
      origins.set(dotted, { level, position: positionOf(path) });
    }
  }
}

function recordBuiltIns(value: unknown, prefix: string, origins: Map<string, ValueOrigin>): void {
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) recordBuiltIns(v, prefix ? `${prefix}.${k}` : k, origins);
    if (Object.keys(value).length > 0 || !prefix) return;
  }
  origins.set(prefix, { level: BUILT_IN_LEVEL, position: undefined });
}

/** Resolves the effective settings for a chain of levels, shallowest first. */
export function inheritSettings(
  chain: readonly ConfigLevel[],
  positionOf: (path: readonly (string | number)[]) => SourcePosition | undefined,
): EffectiveSettings {
  const origins = new Map<string, ValueOrigin>();
  recordBuiltIns(BUILTIN_SETTINGS, '', origins);
  const merged = structuredClone(BUILTIN_SETTINGS) as unknown as Record<string, unknown>;
  for (const level of chain) {
    if (level.settings) mergeLevel(merged, level.settings as Record<string, unknown>, '', level.yamlPath, level, positionOf, origins);
  }
  return { settings: merged as unknown as Settings, origins };
}

/** True when `urlPath` (lower-cased, canonical) is `nodePath` or lies below it. */
export function isUnder(urlPath: string, nodePath: string): boolean {
  if (nodePath === '/' || nodePath === '') return true;
  return urlPath === nodePath || (urlPath.startsWith(nodePath) && urlPath.charCodeAt(nodePath.length) === 47 /* '/' */);
}
