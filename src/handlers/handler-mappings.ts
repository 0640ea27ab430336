/**
 * Handler mappings (IIS <handlers>): which configured handler serves a URL. IIS matches a mapping's `path` against
 * the file name (the last URL segment), ignoring case, first match wins; a script may be followed by extra path
 * (PATH_INFO: /cgi-bin/report.cgi/2026/11), so every segment is a candidate, the leftmost existing file wins —
 * as IIS and Apache find the script in /a/b.cgi/c/d. Pure: the caller checks which candidate is a file.
 */
import type { HandlerInput } from '../config/schema.js';

export function matchesHandlerPath(pattern: string, fileName: string): boolean {
  if (pattern === '*') return true;
  const name = fileName.toLowerCase();
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1).toLowerCase()) && name.length > pattern.length - 1;
  return name === pattern.toLowerCase();
}

/** The first mapping for this file name and method, or undefined (then the static handler serves the file). */
export function findHandler(handlers: readonly HandlerInput[], fileName: string, method: string): HandlerInput | undefined {
  for (const handler of handlers) {
    if (handler.verbs !== undefined && !handler.verbs.some((v) => v === '*' || v.toUpperCase() === method.toUpperCase())) continue;
    if (matchesHandlerPath(handler.path, fileName)) return handler;
  }
  return undefined;
}

export interface ScriptCandidate {
  readonly handler: HandlerInput;
  /** Index in `remainder` of the script's segment: the script is remainder[0..index], the rest is PATH_INFO. */
  readonly index: number;
}

/**
 * Candidates for the script, leftmost first: each segment below the virtual directory a mapping matches. A '*'
 * mapping matches every segment, so its candidates are all prefixes (the first that is a file is the script).
 */
export function scriptCandidates(handlers: readonly HandlerInput[], remainder: readonly string[], method: string): ScriptCandidate[] {
  if (handlers.length === 0) return [];
  const out: ScriptCandidate[] = [];
  remainder.forEach((segment, index) => {
    const handler = findHandler(handlers, segment, method);
    if (handler) out.push({ handler, index });
  });
  return out;
}
