/**
 * One run of the Node load generator (bench/node-load.ts) from the harness, read back as the numbers a wrk run
 * gives (wrk.ts), plus what the generator says about itself. It runs in its own tracked process like wrk, so the
 * harness's stop and "nothing left behind" checks cover it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Credentials } from './cases.js';
import { LOAD_MARK, PASSWORD_ENV, type LoadMode } from './node-load-protocol.js';
import { startTracked, stopTracked } from './processes.js';
import type { WrkStats } from './wrk.js';

const script = fileURLToPath(new URL('./node-load.js', import.meta.url));

export interface LoadRun {
  url: string;
  mode: LoadMode;
  /** The file the server must send back, byte for byte, in every counted response. */
  expectFile: string;
  connections: number;
  threads: number;
  seconds: number;
  /** Seconds of load on the same connections before the measured window (wrk's cases use a separate run). */
  warmup: number;
  account?: Credentials;
  /** A second load measured in the same run, in alternating slices (node-load-worker.ts), on its own connections. */
  versus?: { mode: LoadMode; path: string; expectFile: string; sliceMs: number };
  /** Folder for the output; `tag` names the file. */
  dir: string;
  tag: string;
}

/** What the generator reports about itself, next to the wrk-shaped numbers. */
export interface ClientFacts {
  tool: 'node-load';
  mode: LoadMode;
  threads: number;
  connections: number;
  /** The generator's CPU time over the measured window, in % of one core (all its threads). */
  cpuPercent: number;
  /** NTLM handshakes done before the window (or on reconnects) to authenticate keep-alive connections. */
  setupHandshakes: number;
  /** The first response that was not 200 with the file, or the first socket error, described. */
  firstError: string | null;
  /** The second load of the run, when there was one: its numbers, measured in the slices between the first's. */
  versus?: VersusStats;
}

export interface VersusStats {
  mode: LoadMode;
  path: string;
  sliceMs: number;
  /** Slices each load ran inside the measured window. */
  slices: number;
  requests: number;
  duration_us: number;
  bytes: number;
  rps: number;
  errors: WrkStats['errors'];
  latency_us: WrkStats['latencyUs'];
  firstError: string | null;
}

interface RawLoad {
  requests: number;
  duration_us: number;
  bytes: number;
  rps: number;
  errors: WrkStats['errors'];
  latency_us: WrkStats['latencyUs'];
  client: ClientFacts;
}

export async function runNodeLoad(r: LoadRun): Promise<{ stats: WrkStats; client: ClientFacts }> {
  const out = join(r.dir, `${r.tag}.out`);
  const args = [
    script,
    '--url', r.url,
    '--mode', r.mode,
    '--expect', r.expectFile,
    '--connections', String(r.connections),
    '--threads', String(r.threads),
    '--seconds', String(r.seconds),
    '--warmup', String(r.warmup),
    ...(r.account ? ['--user', r.account.user] : []),
    ...(r.versus ? ['--versus', r.versus.mode, '--versus-path', r.versus.path, '--versus-expect', r.versus.expectFile, '--slice-ms', String(r.versus.sliceMs)] : []),
  ];
  const env = r.account ? { [PASSWORD_ENV]: r.account.password } : {};
  const proc = await startTracked('node-load', process.execPath, args, { log: out, env });
  // set-up (32 handshakes) takes well under a second; the guard only covers a generator stuck on a dead server
  const guardMs = (r.seconds + r.warmup + 30) * 1000 * (r.versus ? 2 : 1);
  const exit = await Promise.race([proc.exit, sleep(guardMs).then(() => null)]);
  if (exit === null) {
    await stopTracked(proc);
    throw new Error(`the Node load generator did not finish within ${guardMs / 1000} s`);
  }
  await stopTracked(proc); // already exited: only forgets it
  const text = readFileSync(out, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(LOAD_MARK));
  if (exit.code !== 0 || !line) {
    throw new Error(`the Node load generator failed (exit ${exit.code ?? exit.signal}): ${text.trim().split('\n').slice(-5).join(' | ')}`);
  }
  const raw = JSON.parse(line.slice(LOAD_MARK.length)) as RawLoad;
  return {
    stats: { requests: raw.requests, durationUs: raw.duration_us, bytes: raw.bytes, rps: raw.rps, latencyUs: raw.latency_us, errors: raw.errors },
    client: raw.client,
  };
}
