import { randomBytes } from 'node:crypto';

/**
 * What the benchmark measures. A case is a URL path on the bench site, the wrk arguments that shape the load,
 * and the servers that take part; adding one is adding an entry here (plus its file in FILES if it needs a new
 * one). Servers that cannot express a case (say, Persona-only authentication) are left out of its `servers`.
 */
export const SERVER_IDS = ['persona', 'node', 'node-mem', 'nginx', 'apache', 'apache-tuned'] as const;
export type ServerId = (typeof SERVER_IDS)[number];

/** A file created under the web root before any server starts; the URL path is the file's path. */
export interface BenchFile {
  path: string;
  bytes: number;
}

export interface BenchCase {
  /** Short stable key, used by --cases and in the JSON. */
  id: string;
  /** What the table prints. */
  name: string;
  path: string;
  /** Sent by wrk (-H) and by the pre-flight check that the server answers 200 with the file's exact bytes. */
  headers: Record<string, string>;
  /**
   * Optional wrk Lua (request/response hooks) for loads a fixed request cannot describe, e.g. a multi-leg
   * handshake. It must not define `done`: the harness appends its own to read the results.
   */
  lua?: string;
  /** More wrk options for this case only (e.g. ['--timeout', '10s']); -t, -c and -d are the run's. */
  wrkArgs?: readonly string[];
  /** Default: every server. */
  servers?: readonly ServerId[];
  /**
   * A smaller load for the servers named, when the run's would only measure their queue: nginx checks a bcrypt
   * hash on every request (~15 req/s), so 32 connections would wait seconds each and the run would take minutes.
   */
  load?: Partial<Record<ServerId, CaseLoad>>;
  /** The account the servers must know for this case; its Authorization header is in `headers`. */
  credentials?: Credentials;
  /**
   * Another case of the same run that Persona's number is divided by (e.g. Basic against anonymous on the same
   * file), with the goal that ratio should reach. Reported after the table.
   */
  reference?: { caseId: string; goal?: number };
}

export interface CaseLoad {
  connections?: number;
  /** Measured seconds at most (the run's --seconds when smaller). */
  maxSeconds?: number;
  /** Warm-up seconds at most (the run's --warmup when smaller). */
  maxWarmup?: number;
}

export interface Credentials {
  user: string;
  password: string;
}

// .html: every server's default MIME map knows it, so no server refuses the file for its extension (IIS 404.3).
export const FILES: readonly BenchFile[] = [
  { path: '/1k.html', bytes: 1024 },
  { path: '/1m.html', bytes: 1024 * 1024 },
  // under the folder each server protects with Basic; the anonymous cases never touch it
  { path: '/basic/1k.html', bytes: 1024 },
];

/** The folder the Basic case's servers protect: Persona's location and nginx's `location /basic/`. */
export const BASIC_FOLDER = '/basic';

/**
 * A fresh password per run: the account exists only in the run's temporary folder, and wrk's command line (which
 * `ps` shows) carries the header, so a fixed one would be a password published in the repository for nothing.
 */
const basicAccount: Credentials = { user: 'bench', password: randomBytes(12).toString('base64url') };

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.user}:${c.password}`, 'utf8').toString('base64')}`;
}

const close = { Connection: 'close' };

export const CASES: readonly BenchCase[] = [
  { id: '1k-keepalive', name: '1 KiB keep-alive', path: '/1k.html', headers: {} },
  { id: '1k-close', name: '1 KiB Connection: close', path: '/1k.html', headers: close },
  { id: '1m-keepalive', name: '1 MiB keep-alive', path: '/1m.html', headers: {} },
  { id: '1m-close', name: '1 MiB Connection: close', path: '/1m.html', headers: close },
  {
    id: '1k-basic',
    name: '1 KiB Basic auth, keep-alive',
    path: `${BASIC_FOLDER}/1k.html`,
    headers: { Authorization: basicHeader(basicAccount) },
    credentials: basicAccount,
    servers: ['persona', 'nginx'],
    // bcrypt cost 10 in every request: 8 connections keep nginx's workers busy at ~0.5 s per answer, and 3 s are
    // enough to count ~50 of them.
    load: { nginx: { connections: 8, maxSeconds: 3, maxWarmup: 1 } },
    // on a busy machine nginx's answers near wrk's default 2 s timeout, which would drop them from the count
    wrkArgs: ['--timeout', '10s'],
    reference: { caseId: '1k-keepalive', goal: 0.8 },
  },
];

export function caseServers(c: BenchCase): readonly ServerId[] {
  return c.servers ?? SERVER_IDS;
}

/** The headers as they may be printed or stored: credentials replaced by their scheme. */
export function printableHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, /^authorization$/i.test(k) ? `${v.split(' ')[0] ?? ''} <redacted>` : v]));
}
