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
}

// .html: every server's default MIME map knows it, so no server refuses the file for its extension (IIS 404.3).
export const FILES: readonly BenchFile[] = [
  { path: '/1k.html', bytes: 1024 },
  { path: '/1m.html', bytes: 1024 * 1024 },
];

const close = { Connection: 'close' };

export const CASES: readonly BenchCase[] = [
  { id: '1k-keepalive', name: '1 KiB keep-alive', path: '/1k.html', headers: {} },
  { id: '1k-close', name: '1 KiB Connection: close', path: '/1k.html', headers: close },
  { id: '1m-keepalive', name: '1 MiB keep-alive', path: '/1m.html', headers: {} },
  { id: '1m-close', name: '1 MiB Connection: close', path: '/1m.html', headers: close },
];

export function caseServers(c: BenchCase): readonly ServerId[] {
  return c.servers ?? SERVER_IDS;
}
