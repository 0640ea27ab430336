/**
 * npm run bench: Persona against plain node:http, nginx and Apache serving the same static files on loopback,
 * measured with wrk one server at a time (and Persona's NTLM cases with the Node load generator, bench/node-load.ts,
 * since wrk cannot answer a CHALLENGE). See docs/BENCHMARKS.md for what the numbers mean.
 *
 * usage: node dist/bench/run.js [--seconds 5] [--warmup 1] [--only persona,node,nginx,apache]
 *                               [--cases id,...] [--json FILE] [--keep]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASES, FILES, MODULE_SOURCE, SERVER_IDS, caseServers, printableHeaders, type BenchCase, type CaseLoad, type ServerId } from './cases.js';
import { checkBody, checkChallenge, waitReady } from './http-check.js';
import { runNodeLoad } from './load-run.js';
import { machineFacts } from './machine.js';
import { killLeftovers, leftovers, stopAll, stopTracked, treeRss } from './processes.js';
import { checkNtlm } from './ntlm-check.js';
import { checkDigest } from './digest-check.js';
import { alternationLines, notes, ntlmLines, ratio, ratioLines, referenceRatio, table, versusRatio, type CaseResult } from './report.js';
import { SERVERS, type BenchEnv, type RunningServer, type ServerDef } from './servers.js';
import { findExecutable, tail } from './system.js';
import { interleavedLine, measureInterleaved, type InterleavedOutcome } from './interleaved.js';
import { runWrk } from './wrk.js';

const THREADS = 1;
const CONNECTIONS = 32;
const READY_MS = 15_000;

class UsageError extends Error {}

interface Options {
  seconds: number;
  warmup: number;
  only: ServerId[];
  cases: BenchCase[];
  json: string | null;
  keep: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      only: { type: 'string' },
      cases: { type: 'string' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      [
        'usage: npm run bench -- [options]',
        '  --seconds N     measured seconds per case and server (default 5)',
        '  --warmup N      warm-up seconds before each measurement, 0 for none (default 1)',
        `  --only LIST     servers to measure, comma-separated: ${SERVER_IDS.join(',')}`,
        `  --cases LIST    cases to run, comma-separated: ${CASES.map((c) => c.id).join(',')}`,
        '  --json FILE     also write the results and machine facts as JSON',
        '  --keep          keep the temporary folder (configurations and logs) for inspection',
      ].join('\n'),
    );
    process.exit(0);
  }
  const count = (name: string, v: string, min: number): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} takes a whole number ≥ ${min}, not "${v}"`);
    return Number(v);
  };
  const list = <T extends string>(name: string, v: string | undefined, known: readonly T[]): T[] => {
    if (v === undefined) return [...known];
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.filter((s) => !(known as readonly string[]).includes(s));
    if (bad.length > 0 || items.length === 0) throw new UsageError(`--${name}: unknown "${bad.join(',')}"; known: ${known.join(',')}`);
    return items as T[];
  };
  const caseIds = list('cases', values.cases, CASES.map((c) => c.id));
  return {
    seconds: count('seconds', values.seconds, 1),
    warmup: count('warmup', values.warmup, 0),
    only: list('only', values.only, SERVER_IDS),
    cases: CASES.filter((c) => caseIds.includes(c.id)),
    json: values.json ?? null,
    keep: values.keep,
  };
}

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled tree: dist/ under npm run bench, or a private outDir. */
const distDir = resolve(here, '..');

/** The repository, for the installer script: above the compiled tree normally, else above the current folder. */
function repoRoot(): string {
  for (const start of [distDir, process.cwd()]) {
    for (let d = start; ; d = dirname(d)) {
      if (existsSync(join(d, 'scripts', 'ensure-system-packages.sh'))) return d;
      if (dirname(d) === d) break;
    }
  }
  throw new Error('cannot find scripts/ensure-system-packages.sh above the compiled bench or the current folder');
}

function ensurePackages(repo: string): string {
  const r = spawnSync('bash', [join(repo, 'scripts', 'ensure-system-packages.sh'), 'bench'], { stdio: 'inherit' });
  const wrk = findExecutable('wrk');
  if (!wrk) {
    const why = r.status === 3 ? 'not root, so it cannot be installed' : `scripts/ensure-system-packages.sh bench exited ${r.status ?? r.signal}`;
    throw new Error(`wrk is missing and could not be installed (${why}). As root: apt-get install wrk`);
  }
  if (r.status !== 0) console.error(`warning: scripts/ensure-system-packages.sh bench exited ${r.status ?? r.signal}; servers that are missing are skipped`);
  return wrk;
}

function prepareSite(): { tmp: string; www: string; bodies: Map<string, Buffer> } {
  const tmp = mkdtempSync(join(tmpdir(), 'persona-bench-'));
  // nginx and Apache workers run as www-data and must reach the web root through the temp folder
  chmodSync(tmp, 0o755);
  const www = join(tmp, 'www');
  mkdirSync(www, { mode: 0o755 });
  const bodies = new Map<string, Buffer>();
  for (const f of FILES) {
    // printable random text: nothing compresses or dedupes it, and it is valid as the .html it claims to be
    const body = f.content === undefined ? Buffer.from(randomBytes(f.bytes).toString('base64').slice(0, f.bytes), 'latin1') : Buffer.from(f.content);
    const file = join(www, f.path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, body);
    // explicit, whatever the umask: the CGI script must be executable by www-data (Apache) and nobody (Persona)
    chmodSync(file, f.mode ?? 0o644);
    bodies.set(f.path, body);
  }
  return { tmp, www, bodies };
}

/** The generator reads the bytes every response must have from a file: the case's own when it is not the file at its path. */
function expectedFile(tmp: string, c: BenchCase): string {
  const file = join(tmp, `${c.id}.expected`);
  writeFileSync(file, c.expect!);
  return file;
}

/** The JS handler module of the module case, outside the web root (it is code, not content); readable by the worker. */
function writeModule(tmp: string): string {
  const dir = join(tmp, 'handlers');
  mkdirSync(dir, { mode: 0o755 });
  const file = join(dir, 'hello.mjs');
  writeFileSync(file, MODULE_SOURCE);
  chmodSync(file, 0o644);
  return file;
}

/** The run's warm-up within a case's bounds for a server; none when the run asks for none. */
function warmupFor(o: Options, load: CaseLoad | undefined): number {
  return o.warmup === 0 ? 0 : Math.max(load?.minWarmup ?? 0, Math.min(o.warmup, load?.maxWarmup ?? Infinity));
}

interface ServerOutcome {
  id: ServerId;
  label: string;
  version: string | null;
  skipped?: string;
  error?: string;
  rss?: { bytes: number; processes: number };
}

let interrupted = false;

async function measureServer(
  def: ServerDef,
  env: BenchEnv,
  o: Options,
  wrk: string,
  bodies: Map<string, Buffer>,
  results: CaseResult[],
): Promise<ServerOutcome> {
  const outcome: ServerOutcome = { id: def.id, label: def.label, version: def.version(env) };
  const cases = o.cases.filter((c) => caseServers(c).includes(def.id));
  const fail = (error: string): ServerOutcome => {
    const short = `not measured: ${def.label} failed`;
    for (const c of cases) if (!results.some((r) => r.caseId === c.id && r.server === def.id)) results.push({ caseId: c.id, server: def.id, error: short });
    console.error(`   failed: ${error}`);
    return { ...outcome, error };
  };
  const skipped = def.unavailable(env);
  if (skipped) return { ...outcome, skipped };
  if (cases.length === 0) return { ...outcome, skipped: 'takes part in none of the selected cases' };

  console.error(`\n== ${def.label}${outcome.version ? ` (${outcome.version})` : ''}`);
  let srv: RunningServer | null = null;
  try {
    srv = await def.start(env);
    const running = srv;
    const base = `http://127.0.0.1:${running.port}`;
    const dead = (): string | null => {
      const x = running.proc.exited;
      if (!x) return null;
      const logs = running.logs.map((f) => tail(f)).filter(Boolean).join('\n');
      return `${def.label} exited (${x.code ?? x.signal})${logs ? `; its logs end with:\n${logs}` : ''}`;
    };
    try {
      await waitReady(`${base}${FILES[0]!.path}`, READY_MS, dead);
    } catch (e) {
      return fail(`${(e as Error).message}${dead() ? '' : `\n${running.logs.map((f) => tail(f, 5)).filter(Boolean).join('\n')}`}`);
    }
    // Every case's exact bytes before any load: a fast wrong answer must not become a number.
    for (const c of cases) {
      // a CGI's or a module's answer is not the file at its path: the case says what it must be
      const expected = c.expect ?? bodies.get(c.path);
      if (!expected) return fail(`case ${c.id} asks for ${c.path}, which is not in FILES and says no expected body`);
      const wrong = c.ntlm
        ? await checkNtlm(base, c.path, c.ntlm, expected)
        : c.digest
          ? await checkDigest(base, c.path, c.digest, expected)
          : ((await checkBody(`${base}${c.path}`, c.headers, expected)) ?? (c.credentials ? await checkChallenge(`${base}${c.path}`, c.headers) : null));
      if (wrong) return fail(`pre-flight check failed: ${wrong}`);
    }
    for (const c of cases) {
      if (interrupted) break;
      const load = c.load?.[def.id];
      const connections = load?.connections ?? CONNECTIONS;
      const seconds = Math.min(o.seconds, load?.maxSeconds ?? Infinity);
      const warmup = warmupFor(o, load);
      const smaller = connections !== CONNECTIONS || seconds !== o.seconds;
      const run = {
        wrk,
        url: `${base}${c.path}`,
        threads: THREADS,
        connections,
        headers: c.headers,
        dir: env.tmp,
        ...(c.lua === undefined ? {} : { lua: c.lua }),
        ...(c.wrkArgs === undefined ? {} : { extraArgs: c.wrkArgs }),
      };
      try {
        if (c.client) {
          // the generator warms up on the same connections (for NTLM: already authenticated) before its window
          const { stats, client } = await runNodeLoad({
            url: run.url,
            mode: c.client.mode,
            expectFile: c.expect ? expectedFile(env.tmp, c) : join(env.www, c.path),
            connections,
            threads: THREADS,
            seconds,
            warmup,
            ...(c.ntlm ? { account: c.ntlm } : c.digest ? { account: c.digest } : {}),
            ...(c.client.versus ? { versus: { ...c.client.versus, expectFile: join(env.www, c.client.versus.path) } } : {}),
            dir: env.tmp,
            tag: `${def.id}-${c.id}`,
          });
          const gone = dead();
          if (gone) return fail(gone);
          // every counted response was 200 with the file; any other answer (a 401 in an NTLM case) voids the number
          const versusBad = client.versus?.errors.status ?? 0;
          if (stats.errors.status > 0 || versusBad > 0) {
            const error =
              stats.errors.status > 0
                ? `${stats.errors.status} responses were not 200 with the file's bytes (first: ${client.firstError ?? '?'}); not a number`
                : `${versusBad} responses of the ${client.versus!.mode} load it is compared with were not 200 with the file's bytes (first: ${client.versus!.firstError ?? '?'}); not a number`;
            results.push({ caseId: c.id, server: def.id, error, client });
            console.error(`   ${c.name}: ${error}`);
            continue;
          }
          results.push({ caseId: c.id, server: def.id, stats, client, ...(smaller ? { load: { connections, seconds } } : {}) });
          const vs = client.versus ? `; ${client.versus.mode} ${Math.round(client.versus.rps)} req/s in the slices between` : '';
          console.error(`   ${c.name.padEnd(28)} ${Math.round(stats.rps).toString().padStart(7)} ${c.client.mode === 'ntlm-handshake' ? 'handshakes' : 'req'}/s  p99 ${(stats.latencyUs.p99 / 1000).toFixed(2)} ms  (Node client ${client.cpuPercent}% CPU${vs})`);
          continue;
        }
        if (warmup > 0) await runWrk({ ...run, seconds: warmup, tag: `${def.id}-${c.id}-warmup` });
        const stats = await runWrk({ ...run, seconds, tag: `${def.id}-${c.id}` });
        const gone = dead();
        if (gone) return fail(gone);
        results.push({ caseId: c.id, server: def.id, stats, ...(smaller ? { load: { connections, seconds } } : {}) });
        const shape = smaller ? `  (-c${connections}, ${seconds} s)` : '';
        console.error(`   ${c.name.padEnd(28)} ${Math.round(stats.rps).toString().padStart(7)} req/s  p99 ${(stats.latencyUs.p99 / 1000).toFixed(2)} ms${shape}`);
      } catch (e) {
        const gone = dead();
        if (gone) return fail(gone);
        results.push({ caseId: c.id, server: def.id, error: (e as Error).message });
        console.error(`   ${c.name}: ${(e as Error).message}`);
      }
    }
    outcome.rss = treeRss(running.proc);
    return outcome;
  } catch (e) {
    return fail((e as Error).message);
  } finally {
    if (srv) await stopTracked(srv.proc);
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function main(): Promise<number> {
  const o = options();
  const isRoot = process.getuid?.() === 0;
  const repo = repoRoot();
  const wrk = ensurePackages(repo);
  const { tmp, www, bodies } = prepareSite();
  const env: BenchEnv = {
    tmp,
    www,
    distDir,
    isRoot,
    basic: o.cases.find((c) => c.credentials)?.credentials ?? null,
    ntlm: o.cases.find((c) => c.ntlm)?.ntlm ?? null,
    digest: o.cases.find((c) => c.digest)?.digest ?? null,
    cgi: o.cases.some((c) => c.handler === 'cgi'),
    module: o.cases.some((c) => c.handler === 'module') ? writeModule(tmp) : null,
  };
  const facts = machineFacts(repo, wrk);
  const results: CaseResult[] = [];
  const outcomes: ServerOutcome[] = [];
  const interleaved: InterleavedOutcome[] = [];
  let stray: { pid: number; cmd: string }[] = [];

  const onSignal = (sig: NodeJS.Signals): void => {
    // a second Ctrl-C does not wait: the exit hook in processes.ts SIGKILLs every process group still running
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${sig}: stopping the servers and wrk`);
    // The measuring loop sees `interrupted` once wrk dies; cleanup in `finally` does the rest.
    void stopAll();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  console.error(`bench: ${o.cases.length} cases × ${o.only.length} servers, ${o.warmup} s warm-up + ${o.seconds} s each, wrk -t${THREADS} -c${CONNECTIONS} or the Node client with as many (less where a case says so); files in ${tmp}`);
  const busy = facts.loadAverage[0] ?? 0;
  if (busy > 0.5) console.error(`warning: load average ${busy} before the run: other work competes for the ${facts.cores} cores and skews every number`);
  try {
    for (const def of SERVERS) {
      if (!o.only.includes(def.id)) continue;
      if (interrupted) break;
      outcomes.push(await measureServer(def, env, o, wrk, bodies, results));
    }
    for (const c of o.cases) {
      if (!c.interleaved || interrupted) continue;
      const defs = SERVERS.filter((d) => caseServers(c).includes(d.id) && o.only.includes(d.id) && !d.unavailable(env));
      if (defs.length < 2 || defs[0]!.id !== 'persona') continue;
      const warmup = warmupFor(o, c.load?.persona);
      console.error(`\n== ${c.name}: ${defs.map((d) => d.label).join(', ')} running at once, ${c.interleaved.rounds} rounds of ${c.interleaved.seconds} s each in turn`);
      const expected = c.expect ?? bodies.get(c.path)!;
      const outcome = await measureInterleaved(c, defs, env, { wrk, threads: THREADS, dir: env.tmp, expected, readyPath: FILES[0]!.path, readyMs: READY_MS, warmupSeconds: warmup });
      interleaved.push(outcome);
      console.error(`   ${interleavedLine(c, outcome)}`);
    }
  } finally {
    await stopAll();
    stray = leftovers();
    if (stray.length > 0) killLeftovers(stray);
    if (o.keep) console.error(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
  if (interrupted) {
    console.error(stray.length > 0 ? `interrupted; killed ${stray.length} leftover processes` : 'interrupted; no process left behind');
    return 130;
  }

  const columns = outcomes.filter((s) => !s.skipped).map((s) => ({ id: s.id, label: s.label }));
  console.log(`\n${table(o.cases, columns, results)}`);
  const failedIds = new Set(outcomes.filter((s) => s.error).map((s) => s.id));
  for (const n of notes(o.cases, columns, results.filter((r) => !failedIds.has(r.server)))) console.log(`note: ${n}`);
  for (const l of ratioLines(o.cases, columns, results)) console.log(`ratio: ${l}`);
  for (const l of ntlmLines(o.cases, results)) console.log(`ntlm: ${l}`);
  for (const l of alternationLines(o.cases, results)) console.log(`ratio: ${l}`);
  for (const i of interleaved) console.log(`interleaved: ${interleavedLine(o.cases.find((c) => c.id === i.caseId)!, i)}`);
  for (const s of outcomes) {
    if (s.error) console.log(`FAILED ${s.label}: ${s.error}`);
    else if (s.skipped) console.log(`skipped ${s.label}: ${s.skipped}`);
    else if (s.rss) console.log(`RSS after the run, ${s.label}: ${mib(s.rss.bytes)} (${s.rss.processes} process${s.rss.processes === 1 ? '' : 'es'})`);
  }
  console.log(`${facts.cores} cores (${facts.cpuModel}), node ${facts.node}, ${outcomes.map((s) => `${s.label} ${s.version ?? '?'}`).join(', ')}, wrk ${facts.wrk ?? '?'}`);
  if (stray.length > 0) console.log(`ERROR: ${stray.length} processes were left behind and have been killed: ${stray.map((s) => `${s.pid} ${s.cmd}`).join('; ')}`);
  else console.log('process check: no server or wrk process left behind');
  if (busy > 0.5) console.log(`warning: the 1-minute load average was ${busy} at the start; rerun on an idle machine before comparing`);

  if (o.json) {
    const json = {
      machine: { ...facts, versions: Object.fromEntries(outcomes.map((s) => [s.id, s.version])) },
      settings: { seconds: o.seconds, warmupSeconds: o.warmup, threads: THREADS, connections: CONNECTIONS, nodeClientThreads: THREADS },
      servers: outcomes,
      interleaved,
      cases: o.cases.map((c) => ({
        id: c.id,
        name: c.name,
        path: c.path,
        ...(c.client ? { client: `node-load ${c.client.mode}${c.client.versus ? `, alternating with ${c.client.versus.mode} ${c.client.versus.path}` : ''}` } : {}),
        // the Basic case's password is the run's own, but a result file is no place for credentials
        headers: printableHeaders(c.headers),
        ratios: {
          ...Object.fromEntries((['node', 'node-mem', 'nginx', 'apache', 'apache-tuned'] as const).map((s) => [`persona/${s}`, ratio(results, c.id, s)])),
          ...(c.reference ? { [`persona/persona ${c.reference.caseId}`]: referenceRatio(results, c) } : {}),
          ...(c.client?.versus ? { [`persona/persona ${c.client.versus.mode} ${c.client.versus.path}, same generator, alternating slices`]: versusRatio(results, c) } : {}),
        },
      })),
      results,
    };
    mkdirSync(dirname(resolve(o.json)), { recursive: true });
    writeFileSync(o.json, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`results written to ${o.json}`);
  }
  const failed = outcomes.some((s) => s.error) || results.some((r) => r.error) || interleaved.some((i) => i.error) || stray.length > 0;
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench: ${e instanceof UsageError ? '' : 'error: '}${(e as Error).message}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
