/**
 * Loading a configuration file: YAML → plain value (yaml-value.ts) → schema (validate.ts) → checks across
 * the file and against the disk (semantics.ts) → a configuration whose relative paths are made absolute.
 * Nothing here throws for a bad file: the result is either a configuration or every problem found, each
 * at file:line:column. This is the engine of `persona config test`; the server loads through it too.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ConfigPath, SourcePosition } from './positions.js';
import { atValue, fileProblem, sortProblems, type ConfigProblem } from './problems.js';
import type { ConfigInput, SettingsInput } from './schema.js';
import { semanticProblems } from './semantics.js';
import { show, validateSchema } from './validate.js';
import { parseYaml } from './yaml-value.js';

export type { ConfigProblem } from './problems.js';
export { formatProblems } from './problems.js';
export type { ConfigPath, SourcePosition } from './positions.js';

export interface LoadedConfig {
  /** Absolute path of the file. */
  readonly file: string;
  /** dirname(file): relative paths in the configuration resolve against it. */
  readonly directory: string;
  /**
   * The validated configuration, with every relative file path (physicalPath, tls files, httpErrors.pages
   * files, filters[].module, handlers[].module, logging.directory) made absolute and binding hosts lower-cased.
   */
  readonly input: ConfigInput;
  /** Where the value at `path` is written (1-based), for messages about it later; undefined if not written. */
  readonly positionOf: (path: ConfigPath) => SourcePosition | undefined;
  readonly text: string;
}

export type LoadResult = LoadedConfig | { readonly problems: ConfigProblem[] };

/** Far beyond any real configuration; a bigger file is a wrong path, and parsing it would only cost memory. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export async function loadConfigFile(file: string): Promise<LoadResult> {
  const absolute = resolve(file);
  let bytes: Buffer;
  try {
    const stats = await stat(absolute);
    if (stats.isDirectory()) return { problems: [fileProblem(absolute, 'is a folder, not a configuration file')] };
    if (!stats.isFile()) return { problems: [fileProblem(absolute, 'is not a regular file')] };
    if (stats.size > MAX_CONFIG_BYTES) return { problems: [fileProblem(absolute, `is ${stats.size} bytes, more than the ${MAX_CONFIG_BYTES} a configuration may have`)] };
    bytes = await readFile(absolute);
  } catch (error) {
    return { problems: [fileProblem(absolute, `cannot read the configuration: ${readReason(error)}`)] };
  }
  let text: string;
  try {
    // fatal: a Latin-1 file decoded leniently would turn paths into different paths, silently.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { problems: [fileProblem(absolute, 'is not valid UTF-8 text')] };
  }
  return loadConfigText(text, absolute);
}

/** `file` names the text in problems and anchors its relative paths; it is not read. */
export function loadConfigText(text: string, file: string): LoadResult {
  const absolute = resolve(file);
  if (text.length > MAX_CONFIG_BYTES) return { problems: [fileProblem(absolute, `is longer than the ${MAX_CONFIG_BYTES} characters a configuration may have`)] };
  const parsed = parseYaml(text, absolute);
  if ('problems' in parsed) return { problems: sortProblems(parsed.problems) };
  const { value, map } = parsed;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problems: [atValue(map, [], `the configuration must be a mapping (with a 'sites:' list), not ${show(value)}`)] };
  }

  const directory = dirname(absolute);
  const checked = validateSchema(value, map);
  const problems = [...('problems' in checked ? checked.problems : []), ...semanticProblems(value, directory, map)];
  if ('problems' in checked || problems.length > 0) return { problems: sortProblems(problems) };
  return { file: absolute, directory, input: absolutize(checked.input, directory), positionOf: (path) => map.value(path), text };
}

/**
 * Relative paths resolve against the configuration's folder, not the working directory, so the server
 * serves the same files wherever it is started from. The value was built by the loader for this call
 * alone, so it is completed in place.
 */
function absolutize(input: ConfigInput, directory: string): ConfigInput {
  const abs = (path: string): string => resolve(directory, path);
  const pages = (settings: SettingsInput | undefined): void => {
    for (const handler of settings?.handlers ?? []) if (handler.module !== undefined) handler.module = abs(handler.module);
    const map = settings?.httpErrors?.pages;
    if (!map) return;
    for (const [status, page] of Object.entries(map)) map[status] = abs(page);
  };
  pages(input.defaults);
  for (const site of input.sites) {
    site.physicalPath = abs(site.physicalPath);
    if (site.tls) {
      site.tls.certificate = abs(site.tls.certificate);
      site.tls.key = abs(site.tls.key);
    }
    // Host names compare case-insensitively; one spelling here spares every later comparison.
    for (const binding of site.bindings) if (binding.host !== undefined) binding.host = binding.host.toLowerCase();
    pages(site.settings);
    for (const app of site.applications ?? []) {
      if (app.physicalPath !== undefined) app.physicalPath = abs(app.physicalPath);
      pages(app.settings);
      for (const vdir of app.virtualDirectories ?? []) {
        vdir.physicalPath = abs(vdir.physicalPath);
        pages(vdir.settings);
      }
    }
    for (const vdir of site.virtualDirectories ?? []) {
      vdir.physicalPath = abs(vdir.physicalPath);
      pages(vdir.settings);
    }
    for (const location of site.locations ?? []) pages(location.settings);
  }
  const logging = input.server?.logging;
  if (logging?.directory !== undefined) logging.directory = abs(logging.directory);
  for (const filter of input.server?.filters ?? []) filter.module = abs(filter.module);
  const security = input.server?.security;
  if (security?.accountsDatabase !== undefined) security.accountsDatabase = abs(security.accountsDatabase);
  if (security?.auditLog !== undefined) security.auditLog = abs(security.auditLog);
  return input;
}

function readReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? (error as Error).message;
}
