/**
 * The Node load generator: what wrk cannot do. An NTLM handshake needs HMAC-MD5 over the server's CHALLENGE on the
 * connection that received it; wrk's Lua hooks neither compute it nor know which of a thread's connections a
 * response came on. This program drives the same shape of load as `wrk -t1 -c32` (one thread, N keep-alive
 * connections, one request in flight on each) with the handshake where a mode needs one, and prints its results in
 * the JSON shape of the harness's wrk `done` hook, plus the CPU it used. Its anonymous numbers are compared with
 * wrk's in every run (docs/BENCHMARKS.md), so a generator that became the bottleneck would show.
 *
 * With --versus it measures a second load in the same run, alternating with the first in slices (see
 * node-load-worker.ts): the ratio of the two is then immune to whatever else the machine does meanwhile.
 *
 * usage: node node-load.js --url URL --mode MODE --expect FILE
 *                          [--versus MODE --versus-path PATH --versus-expect FILE] [--slice-ms 500]
 *                          [--connections 32] [--seconds 5] [--warmup 1] [--threads 1] [--user NAME]
 *   MODE: keepalive | close | ntlm-keepalive | ntlm-handshake | digest-keepalive
 * The NTLM password comes from the environment (BENCH_LOAD_PASSWORD), never the command line, which `ps` shows.
 * Exit 0 when it measured (errors are in the JSON, for the harness to judge), 1 when it could not set up, 2 on usage.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { LatencyHistogram } from './latency.js';
import { LOAD_MARK, LOAD_MODES, PASSWORD_ENV, type FromWorker, type LoadCounts, type LoadMode, type LoadSpec, type ToWorker, type WorkerInput, type WorkerResult } from './node-load-protocol.js';

function usage(message: string): never {
  console.error(`node-load: ${message}`);
  process.exit(2);
}

function whole(name: string, v: string | undefined, min: number): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) usage(`--${name} takes a whole number ≥ ${min}, not "${v}"`);
  return Number(v);
}

function loadMode(name: string, v: string): LoadMode {
  if (!(LOAD_MODES as readonly string[]).includes(v)) usage(`--${name}: one of ${LOAD_MODES.join(', ')}`);
  return v as LoadMode;
}

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    mode: { type: 'string' },
    expect: { type: 'string' },
    versus: { type: 'string' },
    'versus-path': { type: 'string' },
    'versus-expect': { type: 'string' },
    'slice-ms': { type: 'string', default: '500' },
    connections: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
    user: { type: 'string' },
  },
});
if (!values.url || !values.mode || !values.expect) usage('--url, --mode and --expect are required');
const url = new URL(values.url);
if (url.protocol !== 'http:') usage('only http:// URLs');
const mainSpec: LoadSpec = { mode: loadMode('mode', values.mode), path: `${url.pathname}${url.search}`, expected: new Uint8Array(readFileSync(values.expect)) };
let versusSpec: LoadSpec | null = null;
if (values.versus !== undefined) {
  if (!values['versus-path'] || !values['versus-expect']) usage('--versus needs --versus-path and --versus-expect');
  versusSpec = { mode: loadMode('versus', values.versus), path: values['versus-path'], expected: new Uint8Array(readFileSync(values['versus-expect'])) };
}
const sliceMs = whole('slice-ms', values['slice-ms'], 50);
const connections = whole('connections', values.connections, 1);
const threads = Math.min(whole('threads', values.threads, 1), connections);
const seconds = whole('seconds', values.seconds, 1);
const warmup = whole('warmup', values.warmup, 0);
const password = process.env[PASSWORD_ENV];
const authenticated = [mainSpec, versusSpec].some((s) => s?.mode.startsWith('ntlm') || s?.mode.startsWith('digest'));
const account = authenticated ? (values.user && password !== undefined ? { user: values.user, password } : usage(`the NTLM and Digest modes need --user and ${PASSWORD_ENV}`)) : null;

interface Running {
  worker: Worker;
  ready: Promise<void>;
  result: Promise<WorkerResult>;
}

function start(share: number): Running {
  const input: WorkerInput = { host: url.hostname, port: Number(url.port || 80), connections: share, main: mainSpec, versus: versusSpec, sliceMs, account };
  const worker = new Worker(new URL('./node-load-worker.js', import.meta.url), { workerData: input });
  let onReady!: () => void;
  let onResult!: (r: WorkerResult) => void;
  let failReady!: (e: Error) => void;
  let failResult!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    failReady = rej;
  });
  const result = new Promise<WorkerResult>((res, rej) => {
    onResult = res;
    failResult = rej;
  });
  // a worker that fails before it is ready rejects both; keep the second from becoming an unhandled rejection
  result.catch(() => {});
  const fail = (e: Error): void => {
    failReady(e);
    failResult(e);
  };
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'ready') onReady();
    else if (m.type === 'failed') fail(new Error(m.message));
    else onResult(m.result);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`worker exited (${code}) before it reported`)));
  return { worker, ready, result };
}

const sleep = (s: number): Promise<void> => new Promise((r) => setTimeout(r, s * 1000));

/** The workers' counts of one load, in the shape of the harness's wrk results. */
function merge(parts: readonly LoadCounts[]) {
  const histogram = new LatencyHistogram();
  const errors = { connect: 0, read: 0, write: 0, status: 0, timeout: 0 };
  let requests = 0;
  let bytes = 0;
  let rps = 0;
  let firstError: string | null = null;
  for (const p of parts) {
    histogram.add(p.histogram);
    for (const k of Object.keys(errors) as (keyof typeof errors)[]) errors[k] += p.errors[k];
    requests += p.requests;
    bytes += p.bytes;
    rps += p.activeUs > 0 ? p.requests / (p.activeUs / 1e6) : 0;
    firstError ??= p.firstError;
  }
  const durationUs = parts.reduce((s, p) => s + p.activeUs, 0) / parts.length;
  return { requests, duration_us: Math.round(durationUs), bytes, rps, errors, latency_us: histogram.summary(), firstError };
}

async function main(): Promise<void> {
  const shares = Array.from({ length: threads }, (_, i) => Math.floor(connections / threads) + (i < connections % threads ? 1 : 0));
  const running = shares.map(start);
  try {
    await Promise.all(running.map((r) => r.ready));
  } catch (e) {
    for (const r of running) void r.worker.terminate();
    console.error(`node-load: ${(e as Error).message}`);
    process.exit(1);
  }
  if (warmup > 0) await sleep(warmup);
  const send = (m: ToWorker): void => running.forEach((r) => r.worker.postMessage(m));
  send({ type: 'measure' });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await sleep(seconds);
  send({ type: 'stop' });
  const cpu = process.cpuUsage(cpu0);
  const wallUs = (performance.now() - wall0) * 1000;
  const results = await Promise.all(running.map((r) => r.result));

  const { firstError, ...main } = merge(results.map((r) => r.main));
  const versus = versusSpec ? merge(results.map((r) => r.versus!)) : null;
  const out = {
    ...main,
    client: {
      tool: 'node-load',
      mode: mainSpec.mode,
      threads,
      connections,
      // user + system time of the whole generator (all its threads) over the measured window, in % of one core
      cpuPercent: Math.round(((cpu.user + cpu.system) / wallUs) * 1000) / 10,
      setupHandshakes: results.reduce((s, r) => s + r.setupHandshakes, 0),
      firstError,
      ...(versus ? { versus: { mode: versusSpec!.mode, path: versusSpec!.path, sliceMs, slices: Math.min(...results.map((r) => r.slices)), ...versus } } : {}),
    },
  };
  console.log(`\n${LOAD_MARK}${JSON.stringify(out)}`);
  process.exit(0);
}

void main();
