/**
 * Per-request trace (IIS Failed Request Tracing's spirit): one line per decision, with its reason. Off by default
 * (settings.trace.enabled); when off, no Trace object exists and recording costs one branch (`ctx.trace?.record`).
 *
 * Lines carry the reasons the server's own decision functions return — never a request header, a password, a hash
 * or a challenge's parameters: callers pass names and reasons, not request data.
 */
import type { StageName } from './context.js';

export interface TraceEntry {
  /** Milliseconds since the request began. */
  readonly atMs: number;
  readonly stage: StageName;
  readonly decision: string;
  readonly reason: string;
}

export class Trace {
  readonly entries: TraceEntry[] = [];
  constructor(private readonly start: bigint) {}

  record(stage: StageName, decision: string, reason: string): void {
    this.entries.push({ atMs: Math.round(Number(process.hrtime.bigint() - this.start) / 1e3) / 1e3, stage, decision, reason });
  }
}

/** A finished trace as stored (memory, the per-site JSON lines file) and served by the diagnostic endpoint. */
export interface TraceDocument {
  /** The request's id: the W3C log's x-trace-id. */
  readonly id: string;
  /** When the request ended, ISO 8601 UTC. */
  readonly time: string;
  readonly siteId: number;
  readonly site: string;
  readonly method: string;
  /** The path as received, without the query string (a query may carry secrets; the W3C log has it). */
  readonly url: string;
  readonly clientIp: string;
  /** '' for anonymous requests, as cs-username. */
  readonly user: string;
  readonly status: number;
  readonly substatus: number;
  readonly win32Status: number;
  readonly timeTakenMs: number;
  readonly entries: readonly TraceEntry[];
}

/** The scheme names of WWW-Authenticate lines ("Digest realm=…, nonce=…" → "Digest"): what a trace may show. */
export function challengeNames(lines: unknown): string[] {
  const list = Array.isArray(lines) ? lines : typeof lines === 'string' ? [lines] : [];
  return list.filter((l): l is string => typeof l === 'string').map((l) => l.trim().split(/[\s,]/, 1)[0] ?? '').filter((n) => n !== '');
}

// Trace ids are made by the pipeline as <8 hex>-<base36 counter>; the endpoint and the CLI accept nothing else, so
// an id can never be a path or a pattern.
const TRACE_ID = /^[0-9a-f]{8}-[0-9a-z]{1,13}$/;

export function isTraceId(value: string): boolean {
  return TRACE_ID.test(value);
}

/** Parses one stored line; undefined for anything that is not a trace document (a torn last line, a foreign file). */
export function parseTraceLine(line: string): TraceDocument | undefined {
  if (line.length === 0 || line[0] !== '{') return undefined;
  try {
    const doc = JSON.parse(line) as Partial<TraceDocument>;
    if (typeof doc.id !== 'string' || !isTraceId(doc.id) || !Array.isArray(doc.entries) || typeof doc.time !== 'string' || typeof doc.status !== 'number') return undefined;
    return doc as TraceDocument;
  } catch {
    return undefined;
  }
}
