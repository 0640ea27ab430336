/**
 * A configuration problem is a value, never an exception: `persona config test` lists them all, the way
 * `nginx -t` and compilers do, so the operator fixes a file in one pass instead of one error per run.
 */
import { formatPath, type ConfigPath, type SourceMap, type SourcePosition } from './positions.js';

export interface ConfigProblem {
  readonly file: string;
  /** 1-based; 0 when the problem is about the file as a whole (missing, unreadable, empty). */
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** Where in the configuration, e.g. `sites[0].bindings[1].port`; '' for the document itself. */
  readonly path: string;
}

export function problem(position: SourcePosition, path: ConfigPath, message: string): ConfigProblem {
  return { file: position.file, line: position.line, column: position.column, message, path: formatPath(path) };
}

/** A problem about the value at `path` (or, if it has no text, the closest thing that does). */
export function atValue(map: SourceMap, path: ConfigPath, message: string): ConfigProblem {
  return problem(map.value(path) ?? map.nearest(path), path, message);
}

/** A problem about the key that names `path` (unknown keys: the key is what is wrong, not its value). */
export function atKey(map: SourceMap, path: ConfigPath, message: string): ConfigProblem {
  return problem(map.key(path) ?? map.nearest(path), path, message);
}

export function fileProblem(file: string, message: string): ConfigProblem {
  return { file, line: 0, column: 0, message, path: '' };
}

/** In reading order, without repeats: several checks may notice the same thing. */
export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const id = `${p.file}\0${p.line}\0${p.column}\0${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return unique.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1));
}

/** One `file:line:column: message` per line, like gcc and `nginx -t`; `file: message` for whole-file problems. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => (p.line > 0 ? `${p.file}:${p.line}:${p.column}: ${p.message}` : `${p.file}: ${p.message}`)).join('\n');
}
