/**
 * One wrk run, read back as numbers. wrk's text output rounds and changes units; a Lua `done` hook prints the
 * raw summary as one JSON line instead, appended after the case's own Lua (wrk takes a single script).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTracked, stopTracked } from './processes.js';

export interface WrkStats {
  requests: number;
  durationUs: number;
  bytes: number;
  /** requests per second over the measured duration */
  rps: number;
  latencyUs: { mean: number; stdev: number; min: number; max: number; p50: number; p90: number; p99: number };
  /** socket errors, plus `status`: responses that were not 2xx or 3xx */
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

export interface WrkRun {
  wrk: string;
  url: string;
  seconds: number;
  threads: number;
  connections: number;
  headers: Record<string, string>;
  lua?: string;
  extraArgs?: readonly string[];
  /** Folder for the script and the output; `tag` names the files. */
  dir: string;
  tag: string;
}

const MARK = 'BENCH_JSON ';

// %.0f rather than %d: byte counts pass 2^31 and LuaJIT's %d is not 64-bit everywhere. `x ~= x` is NaN, which
// wrk reports for the latency of a run without a single response.
const DONE_LUA = `
local function num(x) if x ~= x then return 0 end return x end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n${MARK}{"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"latency_us":{"mean":%.2f,"stdev":%.2f,"min":%.0f,"max":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    num(latency.mean), num(latency.stdev), num(latency.min), num(latency.max),
    num(latency:percentile(50)), num(latency:percentile(90)), num(latency:percentile(99))))
end
`;

interface RawDone {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: WrkStats['errors'];
  latency_us: WrkStats['latencyUs'];
}

export async function runWrk(r: WrkRun): Promise<WrkStats> {
  const script = join(r.dir, `${r.tag}.lua`);
  writeFileSync(script, `${r.lua ?? ''}\n${DONE_LUA}`);
  const out = join(r.dir, `${r.tag}.out`);
  const args = [`-t${r.threads}`, `-c${r.connections}`, `-d${r.seconds}s`, '-s', script];
  for (const [k, v] of Object.entries(r.headers)) args.push('-H', `${k}: ${v}`);
  args.push(...(r.extraArgs ?? []), r.url);

  const proc = await startTracked('wrk', r.wrk, args, { log: out });
  // wrk stops itself after -d; the guard only covers a wrk stuck on a server that stopped answering.
  const guardMs = (r.seconds + 30) * 1000;
  const exit = await Promise.race([proc.exit, sleep(guardMs).then(() => null)]);
  if (exit === null) {
    await stopTracked(proc);
    throw new Error(`wrk did not finish within ${guardMs / 1000} s`);
  }
  await stopTracked(proc); // already exited: only forgets it
  const text = readFileSync(out, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(MARK));
  if (exit.code !== 0 || !line) {
    throw new Error(`wrk failed (exit ${exit.code ?? exit.signal}): ${text.trim().split('\n').slice(-5).join(' | ')}`);
  }
  const raw = JSON.parse(line.slice(MARK.length)) as RawDone;
  return {
    requests: raw.requests,
    durationUs: raw.duration_us,
    bytes: raw.bytes,
    rps: raw.duration_us > 0 ? raw.requests / (raw.duration_us / 1e6) : 0,
    latencyUs: raw.latency_us,
    errors: raw.errors,
  };
}
