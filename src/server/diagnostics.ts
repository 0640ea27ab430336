/**
 * The diagnostic endpoint (`server.diagnostics`, off by default): `<path>traces` lists the recent traces and
 * `<path>trace/<id>` returns one as JSON. It answers loopback clients only — like IIS's own diagnostic pages and
 * detailed errors, which are local-only — before authentication (it is the server's, not the site's). For anyone
 * else it does not exist: their request is served as if the endpoint were off (normally the site's 404, never a
 * 403), so nothing reveals it.
 *
 * A trace lives in the memory of the worker that served the request; every worker also appends it to its site's
 * trace file, so this worker answers from its own memory first, then from the files (which hold the other pools').
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledConfig } from '../config/compile.js';
import { findTrace, recentTraces } from '../pipeline/trace-files.js';
import { isTraceId, type TraceDocument } from '../pipeline/trace.js';
import type { TraceStore } from './generation.js';

export interface DiagnosticsOptions {
  readonly enabled: boolean;
  /** URL path prefix, starting and ending with '/'. */
  readonly path: string;
}

export const DEFAULT_DIAGNOSTICS: DiagnosticsOptions = { enabled: false, path: '/_persona/' };

// Read once per configuration generation (the compiled config is immutable), so a request pays one lookup.
const options = new WeakMap<CompiledConfig, DiagnosticsOptions>();

export function diagnosticsOptions(config: CompiledConfig): DiagnosticsOptions {
  let known = options.get(config);
  if (!known) {
    const input = config.loaded.input.server?.diagnostics;
    known = { enabled: input?.enabled ?? DEFAULT_DIAGNOSTICS.enabled, path: (input?.path ?? DEFAULT_DIAGNOSTICS.path).toLowerCase() };
    options.set(config, known);
  }
  return known;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export interface ClientDecision {
  readonly allowed: boolean;
  readonly reason: string;
}

/**
 * Whether the diagnostic endpoint answers this client: only loopback addresses (127.0.0.0/8, ::1, and their
 * IPv4-mapped forms). For a request another pool's worker received from the front, `remoteAddress` is the original
 * client's (from the MACed forwarded facts), so a remote client is refused there too.
 */
export function diagnosticClient(remoteAddress: string): ClientDecision {
  const family = isIP(remoteAddress);
  if (family === 0) return { allowed: false, reason: `the client address ${JSON.stringify(remoteAddress.slice(0, 64))} is not an IP address` };
  if (LOOPBACK.check(remoteAddress, family === 4 ? 'ipv4' : 'ipv6')) return { allowed: true, reason: `${remoteAddress} is a loopback address` };
  return { allowed: false, reason: `the diagnostic endpoint answers loopback clients only, and ${remoteAddress} is not one` };
}

export type DiagnosticRoute = { readonly kind: 'traces' } | { readonly kind: 'trace'; readonly id: string } | { readonly kind: 'unknown' };

/** The page asked for when `urlPath` (decoded, canonical) lies under the endpoint's prefix; undefined otherwise. */
export function diagnosticRoute(urlPath: string, prefix: string): DiagnosticRoute | undefined {
  const lower = urlPath.toLowerCase();
  if (!lower.startsWith(prefix) && lower !== prefix.slice(0, -1)) return undefined;
  const rest = lower.slice(prefix.length);
  if (rest === 'traces') return { kind: 'traces' };
  if (rest.startsWith('trace/') && isTraceId(rest.slice(6))) return { kind: 'trace', id: rest.slice(6) };
  return { kind: 'unknown' };
}

/** What the list shows of each trace. */
function summary(doc: TraceDocument): Record<string, unknown> {
  return { id: doc.id, time: doc.time, site: doc.site, method: doc.method, url: doc.url, user: doc.user, status: `${doc.status}.${doc.substatus}` };
}

const LIST_LENGTH = 100;

function send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = Buffer.from(`${JSON.stringify(body, null, 2)}\n`);
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', text.length);
  // Traces are about other people's requests: no cache keeps them, and no browser runs them as anything else.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** Answers a loopback client's request under the prefix (the caller checked diagnosticClient). */
export async function answerDiagnostics(
  req: IncomingMessage,
  res: ServerResponse,
  route: DiagnosticRoute,
  diagnostics: DiagnosticsOptions,
  store: TraceStore,
  logDirectory: string,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(req, res, 405, { error: 'the diagnostic endpoint answers GET and HEAD' }, { Allow: 'GET, HEAD' });
  if (route.kind === 'unknown') return send(req, res, 404, { error: `no such diagnostic page; see ${diagnostics.path}traces and ${diagnostics.path}trace/<id>` });
  if (route.kind === 'trace') {
    const doc = store.get(route.id) ?? (await store.flush(), await findTrace(logDirectory, route.id));
    if (!doc) return send(req, res, 404, { error: `no trace ${route.id} (not traced, or no longer kept)` });
    return send(req, res, 200, doc);
  }
  // This worker's own traces may still be on their way to the file: merge, newest last, one entry per id.
  await store.flush();
  const merged = new Map<string, TraceDocument>();
  for (const doc of await recentTraces(logDirectory, { last: LIST_LENGTH })) merged.set(doc.id, doc);
  for (const doc of store.recent(LIST_LENGTH)) merged.set(doc.id, doc);
  const list = [...merged.values()].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0)).slice(-LIST_LENGTH);
  return send(req, res, 200, { traces: list.map(summary) });
}
