import { randomBytes } from 'node:crypto';
import type { LoadMode } from './node-load-protocol.js';

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
  /** Fixed content instead of `bytes` random printable bytes (a script). */
  content?: string;
  /** File mode; default 0644. */
  mode?: number;
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
  /**
   * Measured by the Node load generator (bench/node-load.ts) in this mode instead of wrk, for loads wrk cannot
   * drive (an NTLM handshake). `headers`, `lua` and `wrkArgs` then only shape the pre-flight check, if anything.
   * `versus` is a second load the generator measures in the same run, in alternating slices of `sliceMs` on its own
   * connections, so that the ratio of the two does not depend on what else the machine did meanwhile; `goal` is
   * what that ratio should reach. Short slices average out other work best; a load with slow requests needs
   * longer ones, since the work on requests still in flight when a slice ends counts for neither load.
   */
  client?: { mode: LoadMode; versus?: { mode: LoadMode; path: string; sliceMs: number; goal?: number } };
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
   * The NTLM account of the case: the server makes it with an NT hash and protects NTLM_FOLDER with NTLM only; the
   * pre-flight check runs a handshake (and a refused one) instead of a plain GET.
   */
  ntlm?: Credentials;
  /**
   * The Digest account of the case: Persona makes it with Digest verifiers and protects DIGEST_FOLDER with Digest
   * only; the pre-flight check answers a challenge (and a wrong password, and a replay) instead of a plain GET.
   */
  digest?: Credentials;
  /**
   * Another case of the same run that Persona's number is divided by (e.g. Basic against anonymous on the same
   * file), with the goal that ratio should reach. Reported after the table.
   */
  reference?: { caseId: string; goal?: number };
  /**
   * The exact body the answer must have when it is not the bytes of the file at `path`: what a CGI program prints
   * or a JS handler module answers. The pre-flight check compares with it, so a 403.19 or a 500 page fails loudly.
   */
  expect?: Buffer;
  /**
   * The handler the servers must map for this case (cgi: `*.cgi` under CGI_FOLDER runs as CGI; module: Persona's
   * JS handler module at MODULE_URL). Set up only when a selected case needs it, as the Basic folder is.
   */
  handler?: 'cgi' | 'module';
  /**
   * Measured again after the sequential table with all of the case's servers running at once and short wrk runs
   * taking turns (bench/interleaved.ts): `rounds` rounds of `seconds` each per server, after each one's warm-up.
   * Persona's rate over each other server's is what `goal` is about: other work on the machine weighs on all alike.
   */
  interleaved?: { rounds: number; seconds: number; goal?: number };
}

export interface CaseLoad {
  connections?: number;
  /** Measured seconds at most (the run's --seconds when smaller). */
  maxSeconds?: number;
  /** Warm-up seconds at most (the run's --warmup when smaller). */
  maxWarmup?: number;
  /**
   * Warm-up seconds at least (unless the run asks for none: --warmup 0). V8 optimises a function after enough calls,
   * so a Node server reaches its steady state after a number of requests, not seconds: at ~1,000 req/s (CGI) the
   * worker's CPU per request fell from ~1,080 to ~400 µs over its first ~10 s, where at 20,000 req/s one second is
   * plenty. Every server of the case gets the same warm-up.
   */
  minWarmup?: number;
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
  // under the folder Persona protects with NTLM only
  { path: '/ntlm/1k.html', bytes: 1024 },
  // under the folder Persona protects with Digest only
  { path: '/digest/1k.html', bytes: 1024 },
  // the CGI case's script: run by the servers, never served as a file (0755: every OS account may run it)
  { path: '/cgi-bin/hello.cgi', bytes: 0, content: '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nhello\\n"\n', mode: 0o755 },
];

/** The CGI case's folder: `*.cgi` in it runs as CGI (Persona: a location with execute access and the mapping). */
export const CGI_FOLDER = '/cgi-bin';

/** The URL the JS handler module answers (resourceType Unspecified: no file behind it). */
export const MODULE_URL = '/js/hello';

/**
 * The JS handler module's answer: 1 KiB of printable text, as the static 1 KiB file is, made once per run (the
 * module's source embeds it), so that the pre-flight check knows the exact bytes.
 */
export const MODULE_BODY = Buffer.from(randomBytes(1024).toString('base64').slice(0, 1024), 'latin1');

/** The module's source: the least a handler does — answer the body with `res.end`, in process, as the request's identity. */
export const MODULE_SOURCE = [
  '// persona bench: a JS handler module answering 1 KiB of text (generated for the run)',
  `const body = ${JSON.stringify(MODULE_BODY.toString('latin1'))};`,
  'export default function (req, res) {',
  "  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });",
  '  res.end(body);',
  '}',
  '',
].join('\n');

/** The folder the Basic case's servers protect: Persona's location and nginx's `location /basic/`. */
export const BASIC_FOLDER = '/basic';

/** The folder the NTLM cases' server protects with NTLM (and nothing else): Persona's location. */
export const NTLM_FOLDER = '/ntlm';

/** The folder the Digest case's server protects with Digest (and nothing else): Persona's location. */
export const DIGEST_FOLDER = '/digest';

/**
 * A fresh password per run: the account exists only in the run's temporary folder, and wrk's command line (which
 * `ps` shows) carries the header, so a fixed one would be a password published in the repository for nothing.
 */
const basicAccount: Credentials = { user: 'bench', password: randomBytes(12).toString('base64url') };

/** Its own account (a Basic run may have made `bench` without an NT hash); the password never leaves the run. */
const ntlmAccount: Credentials = { user: 'ntlmbench', password: randomBytes(12).toString('base64url') };

/** Its own account with Digest verifiers; the password never leaves the run. */
const digestAccount: Credentials = { user: 'digestbench', password: randomBytes(12).toString('base64url') };

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
  // NTLM (Persona only: nginx and Apache have no NTLM). wrk cannot answer a CHALLENGE, so the NTLM cases run on the
  // Node load generator, each against an anonymous load of the same generator in the same run (alternating slices:
  // the ratio is apples to apples and immune to other work on the machine). The two anonymous generator cases
  // compare the generator with wrk on the same load: near 1, the generator is not what limits the numbers.
  {
    id: '1k-keepalive-node',
    name: '1 KiB keep-alive (Node client)',
    path: '/1k.html',
    headers: {},
    client: { mode: 'keepalive' },
    servers: ['persona'],
    reference: { caseId: '1k-keepalive' },
  },
  {
    id: '1k-ntlm',
    name: '1 KiB NTLM, authenticated keep-alive (Node client)',
    path: `${NTLM_FOLDER}/1k.html`,
    headers: {},
    client: { mode: 'ntlm-keepalive', versus: { mode: 'keepalive', path: '/1k.html', sliceMs: 100, goal: 0.9 } },
    ntlm: ntlmAccount,
    servers: ['persona'],
  },
  // Issue 7: Digest on keep-alive connections, one nonce per connection answered with nc 1, 2, 3 … (every request
  // checked: nonce MAC and age, nc above the last, response hash; the logon behind it from the token cache), against
  // anonymous keep-alive requests of the same generator in alternating slices, as the NTLM case.
  {
    id: '1k-digest',
    name: '1 KiB Digest, keep-alive, nonce reused with growing nc (Node client)',
    path: `${DIGEST_FOLDER}/1k.html`,
    headers: {},
    client: { mode: 'digest-keepalive', versus: { mode: 'keepalive', path: '/1k.html', sliceMs: 100, goal: 0.8 } },
    digest: digestAccount,
    servers: ['persona'],
  },
  {
    id: '1k-close-node',
    name: '1 KiB Connection: close (Node client)',
    path: '/1k.html',
    headers: close,
    client: { mode: 'close' },
    servers: ['persona'],
    reference: { caseId: '1k-close' },
  },
  {
    id: 'ntlm-handshake',
    name: 'NTLM full handshakes/s, fresh connections (Node client)',
    path: `${NTLM_FOLDER}/1k.html`,
    headers: {},
    client: { mode: 'ntlm-handshake', versus: { mode: 'close', path: '/1k.html', sliceMs: 500 } },
    ntlm: ntlmAccount,
    servers: ['persona'],
  },
  // Issue 5: a CGI process per request (fork + exec of /bin/sh), Persona against Apache's mod_cgid. Fewer connections
  // than the run's: a fork per request saturates 2 cores well before 32 requests are in flight, and more only
  // measures the queue. The same load for every server.
  {
    id: 'cgi-hello',
    name: 'CGI hello (shell), keep-alive',
    path: `${CGI_FOLDER}/hello.cgi`,
    headers: {},
    expect: Buffer.from('hello\n'),
    handler: 'cgi',
    servers: ['persona', 'apache', 'apache-tuned'],
    load: { persona: { connections: 8, minWarmup: 10 }, apache: { connections: 8, minWarmup: 10 }, 'apache-tuned': { connections: 8, minWarmup: 10 } },
    wrkArgs: ['--timeout', '10s'],
    // Issue 5's goal, measured where the machine's changing speed cannot decide it
    interleaved: { rounds: 12, seconds: 1, goal: 1.0 },
  },
  // Issue 5: a JS handler module (in process, impersonating IUSR) against Persona's own static 1 KiB file.
  {
    id: 'module-hello',
    name: 'JS handler module, keep-alive',
    path: MODULE_URL,
    headers: {},
    expect: MODULE_BODY,
    handler: 'module',
    servers: ['persona'],
    reference: { caseId: '1k-keepalive' },
  },
  // The same ratio without the noise of two runs one after the other: the Node load generator alternates 100 ms
  // slices of module requests and static /1k.html requests on its own connections (as the NTLM case does), and
  // checks every response's bytes.
  {
    id: 'module-hello-node',
    name: 'JS handler module vs static, alternating (Node client)',
    path: MODULE_URL,
    headers: {},
    expect: MODULE_BODY,
    handler: 'module',
    client: { mode: 'keepalive', versus: { mode: 'keepalive', path: '/1k.html', sliceMs: 100 } },
    servers: ['persona'],
  },
];

export function caseServers(c: BenchCase): readonly ServerId[] {
  return c.servers ?? SERVER_IDS;
}

/** The headers as they may be printed or stored: credentials replaced by their scheme. */
export function printableHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, /^authorization$/i.test(k) ? `${v.split(' ')[0] ?? ''} <redacted>` : v]));
}
