/**
 * `persona trace list [--site NAME|ID] [--last N] [--json]` and `persona trace show ID [--json]`: the per-request
 * traces every worker appends to <logs>/trace/W3SVC<id>/ (docs/TRACING.md), read from the folder the configuration
 * names, as the server writes them. The id is the W3C log's x-trace-id.
 */
import { existsSync } from 'node:fs';
import { compileConfig, type CompiledConfig } from '../config/compile.js';
import { formatProblems, loadConfigFile } from '../config/load.js';
import { findTrace, recentTraces } from '../pipeline/trace-files.js';
import { isTraceId, type TraceDocument } from '../pipeline/trace.js';
import { Exit } from './exit-codes.js';
import { layoutFrom, type GlobalOptions } from './options.js';

/** The log folder and the configuration's sites, or why they cannot be known. */
async function traceSources(opts: GlobalOptions): Promise<{ logDirectory: string; config: CompiledConfig | undefined } | { problems: string }> {
  const layout = layoutFrom(opts);
  if (!existsSync(layout.configFile)) return { logDirectory: layout.logDirectory, config: undefined };
  const loaded = await loadConfigFile(layout.configFile);
  if ('problems' in loaded) return { problems: formatProblems(loaded.problems) };
  const config = compileConfig(loaded, layout.logDirectory);
  return { logDirectory: config.server.logDirectory, config };
}

/** A site by name (ignoring case) or id. */
export function siteIdOf(config: CompiledConfig | undefined, site: string): number | undefined {
  const byName = config?.sites.find((s) => s.name.toLowerCase() === site.toLowerCase());
  if (byName) return byName.id;
  return /^\d{1,9}$/.test(site) ? Number(site) : undefined;
}

/**
 * Traces hold text clients chose (a URL path, a user name typed at a logon prompt): control characters are shown
 * escaped, so a line stays one line and cannot repaint the operator's terminal (as the audit log's lines).
 */
export function printable(value: unknown): string {
  return String(value).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function formatTraceSummary(doc: TraceDocument): string {
  const p = printable;
  return `${p(doc.time)} ${p(doc.id)} ${p(doc.site)} ${p(doc.method)} ${p(doc.url)} ${p(doc.status)}.${p(doc.substatus)} ${p(doc.user || '(anonymous)')} ${p(doc.timeTakenMs)} ms`;
}

export function formatTrace(doc: TraceDocument): string {
  const p = printable;
  const head = [
    `trace ${p(doc.id)}: ${p(doc.method)} ${p(doc.url)} on site "${p(doc.site)}" (id ${p(doc.siteId)}) from ${p(doc.clientIp)}`,
    `  ended ${p(doc.time)}: ${p(doc.status)}.${p(doc.substatus)}, win32 status ${p(doc.win32Status)}, ${p(doc.timeTakenMs)} ms, user ${p(doc.user || '(anonymous)')}`,
  ];
  const width = Math.max(...doc.entries.map((e) => p(e.stage).length), 0);
  const lines = doc.entries.map(
    (e) => `  ${`+${Number(e.atMs).toFixed(3)}ms`.padStart(12)}  ${p(e.stage).padEnd(width)}  ${p(e.decision)}\n  ${' '.repeat(12 + 2 + width)}  because ${p(e.reason)}`,
  );
  return [...head, ...lines].join('\n');
}

export async function traceListCommand(opts: GlobalOptions, args: { site?: string; last: number; json: boolean }): Promise<number> {
  const where = await traceSources(opts);
  if ('problems' in where) {
    console.error(where.problems);
    console.error('persona: cannot tell where the traces are until the configuration is valid');
    return Exit.FAILURE;
  }
  let sites: number[] | undefined;
  if (args.site !== undefined) {
    const id = siteIdOf(where.config, args.site);
    if (id === undefined) {
      console.error(`persona: no site ${JSON.stringify(args.site)} (give its name or id)`);
      return Exit.USAGE;
    }
    sites = [id];
  }
  const docs = await recentTraces(where.logDirectory, { sites, last: args.last });
  for (const doc of docs) process.stdout.write(`${args.json ? JSON.stringify(doc) : formatTraceSummary(doc)}\n`);
  if (docs.length === 0 && !args.json) console.error('persona: no traces (tracing is off unless a location sets trace: { enabled: true })');
  return Exit.OK;
}

export async function traceShowCommand(opts: GlobalOptions, id: string, args: { json: boolean }): Promise<number> {
  if (!isTraceId(id)) {
    console.error(`persona: ${JSON.stringify(id.slice(0, 64))} is not a trace id (the W3C log's x-trace-id, e.g. 3f2a9c1e-1k)`);
    return Exit.USAGE;
  }
  const where = await traceSources(opts);
  if ('problems' in where) {
    console.error(where.problems);
    console.error('persona: cannot tell where the traces are until the configuration is valid');
    return Exit.FAILURE;
  }
  const doc = await findTrace(where.logDirectory, id);
  if (!doc) {
    console.error(`persona: no trace ${id} under ${where.logDirectory}/trace (was the URL traced?)`);
    return Exit.FAILURE;
  }
  process.stdout.write(`${args.json ? JSON.stringify(doc, null, 2) : formatTrace(doc)}\n`);
  return Exit.OK;
}
