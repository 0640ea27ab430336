/** The results of a run as the table people read and the JSON machines keep. */
import { caseServers, type BenchCase, type ServerId } from './cases.js';
import type { ClientFacts } from './load-run.js';
import type { WrkStats } from './wrk.js';

export interface CaseResult {
  caseId: string;
  server: ServerId;
  stats?: WrkStats;
  /** Why there is no number (server could not start, wrong body, wrk failed). */
  error?: string;
  /** The load it was measured with, when the case gave this server a smaller one than the run's. */
  load?: { connections: number; seconds: number };
  /** Set when the Node load generator measured the case instead of wrk: what it says about itself. */
  client?: ClientFacts;
}

export interface ServerColumn {
  id: ServerId;
  label: string;
}

const RATIO_AGAINST: readonly ServerId[] = ['node', 'node-mem', 'nginx', 'apache', 'apache-tuned'];

function find(results: readonly CaseResult[], caseId: string, server: ServerId): CaseResult | undefined {
  return results.find((r) => r.caseId === caseId && r.server === server);
}

/** Persona's req/s divided by another server's, for one case; null when either is missing. */
export function ratio(results: readonly CaseResult[], caseId: string, other: ServerId): number | null {
  const p = find(results, caseId, 'persona')?.stats;
  const o = find(results, caseId, other)?.stats;
  return p && o && o.rps > 0 ? p.rps / o.rps : null;
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function cell(r: CaseResult | undefined): string {
  if (!r) return '—';
  if (!r.stats) return 'failed';
  const p99 = (r.stats.latencyUs.p99 / 1000).toFixed(r.stats.latencyUs.p99 < 10_000 ? 2 : 1);
  const bad = errorCount(r.stats) > 0 ? ' !' : '';
  return `${int.format(r.stats.rps)} (${p99})${bad}`;
}

function errorCount(s: WrkStats): number {
  const e = s.errors;
  return e.connect + e.read + e.write + e.status + e.timeout;
}

/** A Markdown table: one row per case, req/s with p99 latency per server, then Persona's ratios. */
export function table(cases: readonly BenchCase[], servers: readonly ServerColumn[], results: readonly CaseResult[]): string {
  const ids = new Set(servers.map((s) => s.id));
  const ratioCols = RATIO_AGAINST.filter((id) => ids.has(id) && ids.has('persona'));
  const label = (id: ServerId): string => servers.find((s) => s.id === id)?.label ?? id;
  const head = ['case', ...servers.map((s) => `${s.label} req/s (p99 ms)`), ...ratioCols.map((id) => `Persona/${label(id)}`)];
  const rows = cases.map((c) => [
    c.name,
    ...servers.map((s) => cell(find(results, c.id, s.id))),
    ...ratioCols.map((id) => {
      const r = ratio(results, c.id, id);
      // an authentication case can put Persona three orders of magnitude above a server that hashes every request
      return r === null ? '—' : r.toFixed(r >= 100 ? 0 : 2);
    }),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cols: readonly string[]): string => `| ${cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), sep, ...rows.map(line)].join('\n');
}

/** Persona's req/s in a case divided by its req/s in the case's reference case (same run); null when either is missing. */
export function referenceRatio(results: readonly CaseResult[], c: BenchCase): number | null {
  if (!c.reference) return null;
  const p = find(results, c.id, 'persona')?.stats;
  const r = find(results, c.reference.caseId, 'persona')?.stats;
  return p && r && r.rps > 0 ? p.rps / r.rps : null;
}

/**
 * For each case with a reference: Persona against itself in the reference case (with the goal), then Persona
 * against each other server of the case. Printed after the table, where a ratio across two rows has no column.
 */
export function ratioLines(cases: readonly BenchCase[], servers: readonly ServerColumn[], results: readonly CaseResult[]): string[] {
  const out: string[] = [];
  const fmt = (r: number): string => (r >= 10 ? r.toFixed(0) : r.toFixed(2));
  for (const c of cases) {
    if (!c.reference || !servers.some((s) => s.id === 'persona')) continue;
    const refName = cases.find((x) => x.id === c.reference!.caseId)?.name;
    const r = referenceRatio(results, c);
    const goal = c.reference.goal;
    if (!refName) out.push(`Persona ${c.name} / Persona ${c.reference.caseId}: — (run both in the same run: --cases ${c.reference.caseId},${c.id})`);
    else if (r === null) out.push(`Persona ${c.name} / Persona ${refName}: — (one of them was not measured)`);
    else out.push(`Persona ${c.name} / Persona ${refName} (same run): ${fmt(r)}${goal === undefined ? '' : ` (goal ≥ ${goal}: ${r >= goal ? 'met' : 'NOT met'})`}`);
    for (const s of servers) {
      if (s.id === 'persona' || !caseServers(c).includes(s.id)) continue;
      const x = ratio(results, c.id, s.id);
      out.push(`Persona ${c.name} / ${s.label} ${c.name}: ${x === null ? '— (one of them was not measured)' : fmt(x)}`);
    }
  }
  return out;
}

/** Lines explaining the '!' and 'failed' cells. */
export function notes(cases: readonly BenchCase[], servers: readonly ServerColumn[], results: readonly CaseResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const c = cases.find((x) => x.id === r.caseId)?.name ?? r.caseId;
    const s = servers.find((x) => x.id === r.server)?.label ?? r.server;
    if (r.error) out.push(`${s}, ${c}: ${r.error}`);
    else if (r.stats && errorCount(r.stats) > 0) {
      const e = r.stats.errors;
      const first = r.client?.firstError ? ` (first: ${r.client.firstError})` : '';
      out.push(`${s}, ${c}: ${r.client ? 'load generator' : 'wrk'} errors connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}, non-2xx/3xx ${e.status} of ${r.stats.requests} requests${first}`);
    }
    if (r.client) {
      const setup = r.client.setupHandshakes > 0 ? `, after ${r.client.setupHandshakes} NTLM handshakes that authenticated its connections` : '';
      const both = r.client.versus ? ` (and as many for the ${r.client.versus.mode} load it alternated with)` : '';
      out.push(
        `${s}, ${c}: measured by the Node load generator (${r.client.mode}, ${r.client.threads} thread, ${r.client.connections} connections${both}${setup}), which used ${r.client.cpuPercent}% of one core`,
      );
    }
    if (r.stats && r.load) out.push(`${s}, ${c}: measured with ${r.load.connections} connections for ${r.load.seconds} s (a smaller load than the run's; see the case in bench/cases.ts)`);
  }
  return out;
}

/** Persona's rate in a case divided by the rate of the case's `versus` load in the same generator run; null when missing. */
export function versusRatio(results: readonly CaseResult[], c: BenchCase): number | null {
  const r = find(results, c.id, 'persona');
  const v = r?.client?.versus;
  return r?.stats && v && v.rps > 0 ? r.stats.rps / v.rps : null;
}

/**
 * What the NTLM cases add to the report, in the issue's terms: requests/s on authenticated keep-alive connections
 * against anonymous keep-alive requests of the same generator in the same run (goal ≥ 0.9), and full handshakes/s
 * on fresh connections against anonymous Connection: close requests of the same generator, for scale.
 */
export function ntlmLines(cases: readonly BenchCase[], results: readonly CaseResult[]): string[] {
  const out: string[] = [];
  for (const c of cases) {
    if (!c.ntlm || !c.client) continue;
    const r = find(results, c.id, 'persona');
    if (!r?.stats) {
      out.push(`${c.name}: not measured`);
      continue;
    }
    const v = r.client?.versus;
    const x = versusRatio(results, c);
    const goal = c.client.versus?.goal;
    const vs =
      v && x !== null
        ? ` = ${x.toFixed(2)} × the ${int.format(v.rps)} req/s of anonymous ${v.mode === 'close' ? 'Connection: close requests (a connection each)' : 'keep-alive requests'} for ${v.path}` +
          ` (same generator, alternating ${v.sliceMs} ms slices, ${v.slices} each)${goal === undefined ? '' : `; goal ≥ ${goal}: ${x >= goal ? 'met' : 'NOT met'}`}`
        : '';
    if (c.client.mode === 'ntlm-handshake') {
      out.push(`${int.format(r.stats.rps)} full NTLM handshakes/s on fresh connections (connect, NEGOTIATE → 401, AUTHENTICATE → 200 with the file, close; a 4624 audit event each)${vs}`);
    } else {
      out.push(`${int.format(r.stats.rps)} req/s on NTLM-authenticated keep-alive connections${vs}`);
    }
  }
  return out;
}

/**
 * Cases other than NTLM's that the generator measured in alternation with a static load (the JS handler module
 * against the static 1 KiB file): the rate, and the ratio to the other load's in the same slices.
 */
export function alternationLines(cases: readonly BenchCase[], results: readonly CaseResult[]): string[] {
  const out: string[] = [];
  for (const c of cases) {
    if (c.ntlm || !c.client?.versus) continue;
    const r = find(results, c.id, 'persona');
    const v = r?.client?.versus;
    const x = versusRatio(results, c);
    if (!r?.stats || !v || x === null) {
      out.push(`${c.name}: not measured`);
      continue;
    }
    const goal = c.client.versus.goal;
    out.push(
      `Persona ${c.path}: ${int.format(r.stats.rps)} req/s = ${x.toFixed(2)} × the ${int.format(v.rps)} req/s of ${v.path} ` +
        `(same generator, ${v.mode}, alternating ${v.sliceMs} ms slices, ${v.slices} each)${goal === undefined ? '' : `; goal ≥ ${goal}: ${x >= goal ? 'met' : 'NOT met'}`}`,
    );
  }
  return out;
}
