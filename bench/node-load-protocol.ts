/** What the Node load generator's main thread (bench/node-load.ts) and its workers (node-load-worker.ts) exchange. */
import type { LatencyHistogram } from './latency.js';
import type { NtlmAccount } from './ntlm-handshake.js';

/** The line prefix of the results on stdout, as the harness's wrk `done` hook prints them. */
export const LOAD_MARK = 'BENCH_JSON ';
/** The environment variable that carries the NTLM or Digest account's password (never the command line, which `ps` shows). */
export const PASSWORD_ENV = 'BENCH_LOAD_PASSWORD';

/** The loads it can drive; node-load-worker.ts describes each. */
export const LOAD_MODES = ['keepalive', 'close', 'ntlm-keepalive', 'ntlm-handshake', 'digest-keepalive'] as const;
export type LoadMode = (typeof LOAD_MODES)[number];

/** One load: what each of its connections does, on which path, and the bytes every answer must carry. */
export interface LoadSpec {
  mode: LoadMode;
  path: string;
  expected: Uint8Array;
}

export interface WorkerInput {
  host: string;
  port: number;
  connections: number;
  /** The load measured; with `versus`, the two alternate in slices of `sliceMs`, each on its own connections. */
  main: LoadSpec;
  versus: LoadSpec | null;
  sliceMs: number;
  account: NtlmAccount | null;
}

export type ToWorker = { type: 'measure' } | { type: 'stop' };

export interface LoadCounts {
  requests: number;
  /** Time this load was running inside the measured window (all of it without `versus`). */
  activeUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  firstError: string | null;
  histogram: Pick<LatencyHistogram, 'counts' | 'count' | 'sum' | 'sumSquares' | 'min' | 'max'>;
}

export interface WorkerResult {
  main: LoadCounts;
  versus: LoadCounts | null;
  /** Handshakes done outside the measured window to (re)authenticate keep-alive connections. */
  setupHandshakes: number;
  /** Slices each load ran inside the measured window. */
  slices: number;
}

export type FromWorker = { type: 'ready' } | { type: 'failed'; message: string } | { type: 'result'; result: WorkerResult };
