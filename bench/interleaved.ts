/**
 * A case measured on several servers in turn: all of them running at once, short wrk runs taking turns (the order
 * rotating each round), each server's rate its requests over its own measured time. The sequential table measures
 * each server minutes apart, one 5 s window each; on a shared machine whose speed changes by half within minutes
 * that ratio says as much about the minute as about the servers. Interleaved, whatever the machine does weighs on
 * every server alike — the Node generator's alternating slices do the same for the authentication cases.
 *
 * Two figures per pair: the ratio of the totals, and the median of the rounds' own ratios (a round's runs are
 * seconds apart). The machine this was written on stalls now and then for seconds (another tenant's work: a 2 s run
 * that normally counts 1,500 requests counted 8); a stall weighs on whichever server was running in the total, on
 * one round's ratio in the median. The goal is judged on the median.
 */
import type { BenchCase, ServerId } from './cases.js';
import { checkBody, waitReady } from './http-check.js';
import { stopTracked } from './processes.js';
import type { BenchEnv, RunningServer, ServerDef } from './servers.js';
import { runWrk } from './wrk.js';

export interface InterleavedRun {
  readonly wrk: string;
  readonly threads: number;
  readonly dir: string;
  /** The file every server must answer 200 with, checked before any load. */
  readonly expected: Buffer;
  /** Readiness URL path (a static file every server serves). */
  readonly readyPath: string;
  readonly readyMs: number;
  readonly warmupSeconds: number;
}

export interface InterleavedResult {
  readonly server: ServerId;
  readonly label: string;
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** wrk's socket and status errors over all rounds. */
  readonly errors: number;
  /** Each round's rate, in round order. */
  readonly roundRps: readonly number[];
}

export interface InterleavedOutcome {
  readonly caseId: string;
  readonly rounds: number;
  readonly roundSeconds: number;
  readonly results?: readonly InterleavedResult[];
  readonly error?: string;
}

export async function measureInterleaved(c: BenchCase, defs: readonly ServerDef[], env: BenchEnv, run: InterleavedRun): Promise<InterleavedOutcome> {
  const plan = c.interleaved!;
  const base = { caseId: c.id, rounds: plan.rounds, roundSeconds: plan.seconds };
  const started: { def: ServerDef; srv: RunningServer; url: string; connections: number }[] = [];
  try {
    for (const def of defs) {
      const srv = await def.start(env);
      const url = `http://127.0.0.1:${srv.port}`;
      started.push({ def, srv, url, connections: c.load?.[def.id]?.connections ?? 32 });
      const dead = (): string | null => (srv.proc.exited ? `${def.label} exited (${srv.proc.exited.code ?? srv.proc.exited.signal})` : null);
      await waitReady(`${url}${run.readyPath}`, run.readyMs, dead);
      const wrong = await checkBody(`${url}${c.path}`, c.headers, run.expected);
      if (wrong) return { ...base, error: `${def.label}: pre-flight check failed: ${wrong}` };
    }
    const wrkRun = (s: (typeof started)[number], seconds: number, tag: string) =>
      runWrk({
        wrk: run.wrk,
        url: `${s.url}${c.path}`,
        threads: run.threads,
        connections: s.connections,
        headers: c.headers,
        dir: run.dir,
        tag,
        seconds,
        ...(c.lua === undefined ? {} : { lua: c.lua }),
        ...(c.wrkArgs === undefined ? {} : { extraArgs: c.wrkArgs }),
      });
    if (run.warmupSeconds > 0) for (const s of started) await wrkRun(s, run.warmupSeconds, `interleaved-${c.id}-${s.def.id}-warmup`);
    const totals = new Map(started.map((s) => [s.def.id, { requests: 0, us: 0, errors: 0, rounds: [] as number[] }]));
    for (let round = 0; round < plan.rounds; round++) {
      // rotated, so that no server always follows the same one
      for (let k = 0; k < started.length; k++) {
        const s = started[(round + k) % started.length]!;
        const stats = await wrkRun(s, plan.seconds, `interleaved-${c.id}-${s.def.id}-${round}`);
        const t = totals.get(s.def.id)!;
        t.requests += stats.requests;
        t.us += stats.durationUs;
        t.errors += stats.errors.connect + stats.errors.read + stats.errors.write + stats.errors.status + stats.errors.timeout;
        t.rounds.push(stats.rps);
      }
    }
    return {
      ...base,
      results: started.map((s) => {
        const t = totals.get(s.def.id)!;
        return { server: s.def.id, label: s.def.label, requests: t.requests, seconds: t.us / 1e6, rps: t.us > 0 ? t.requests / (t.us / 1e6) : 0, errors: t.errors, roundRps: t.rounds };
      }),
    };
  } catch (e) {
    return { ...base, error: (e as Error).message };
  } finally {
    for (const s of started) await stopTracked(s.srv.proc);
  }
}

/** The median of the rounds' ratios of `a` over `b` (rounds where `b` answered nothing are left out). */
export function medianRoundRatio(a: InterleavedResult, b: InterleavedResult): number | null {
  const ratios = a.roundRps.map((x, i) => x / (b.roundRps[i] ?? 0)).filter((r) => Number.isFinite(r)).sort((x, y) => x - y);
  if (ratios.length === 0) return null;
  const mid = Math.floor(ratios.length / 2);
  return ratios.length % 2 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
}

/** "Persona 1,234 req/s; against Apache (1,100 req/s): 1.12 × in total, median of the rounds 1.10 × …". */
export function interleavedLine(c: BenchCase, outcome: InterleavedOutcome): string {
  if (outcome.error || !outcome.results) return `${c.name}: not measured: ${outcome.error ?? 'no result'}`;
  const [first, ...others] = outcome.results;
  if (!first) return `${c.name}: no server`;
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const f = (x: number | null): string => (x === null ? '—' : x.toFixed(2));
  const versus = others.map((o) => `against ${o.label} (${n(o.rps)} req/s): ${f(o.rps > 0 ? first.rps / o.rps : null)} × in total, median of the rounds ${f(medianRoundRatio(first, o))} ×`).join('; ');
  const errors = outcome.results.filter((r) => r.errors > 0).map((r) => `${r.label} ${r.errors} wrk errors`);
  const goal = c.interleaved?.goal;
  const verdict = goal === undefined || others.length === 0 ? '' : `; goal (median) ≥ ${goal}: ${others.every((o) => (medianRoundRatio(first, o) ?? 0) >= goal) ? 'met' : 'NOT met'}`;
  return `${c.name}: ${first.label} ${n(first.rps)} req/s; ${versus} (${outcome.rounds} rounds of ${outcome.roundSeconds} s each, in turn, all servers running${errors.length ? `; ${errors.join(', ')}` : ''})${verdict}`;
}
