/**
 * Child processes of the benchmark: every server and every wrk run is started here, in its own process group,
 * and remembered with all its descendants so that stopping it, and the final "nothing left behind" check, do
 * not depend on the server cooperating (nginx and Apache fork workers; Persona may too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** Set in every child's environment; children inherit it, so a scan of /proc finds strays we never saw. */
export const MARKER_NAME = 'PERSONA_BENCH_RUN';
const runId = randomBytes(8).toString('hex');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Tracked {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves when the direct child exits. */
  exit: Promise<ExitInfo>;
  exited: ExitInfo | null;
  /** Where its stdout and stderr go. */
  log: string;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
  start: string;
}

const live = new Set<Tracked>();
/** pid → start time of every process of ours ever observed, to recognise them later despite pid reuse. */
const observed = new Map<number, string>();

function readProc(pid: number): ProcInfo | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm may hold spaces and parentheses; the fields after the last ')' are fixed.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: f[0] ?? '?', ppid: Number(f[1]), pgrp: Number(f[2]), start: f[19] ?? '' };
}

function processTable(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

function isAlive(pid: number, start: string): boolean {
  const p = readProc(pid);
  return p !== null && p.start === start && p.state !== 'Z';
}

/** The process, its process group and all descendants, as they are now. */
function tree(root: number): ProcInfo[] {
  const table = processTable();
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of table) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const found = new Map<number, ProcInfo>();
  for (const p of table) if (p.pid === root || p.pgrp === root) found.set(p.pid, p);
  const queue = [...found.values()];
  for (let p = queue.shift(); p; p = queue.shift()) {
    for (const c of byParent.get(p.pid) ?? []) {
      if (!found.has(c.pid)) {
        found.set(c.pid, c);
        queue.push(c);
      }
    }
  }
  for (const p of found.values()) observed.set(p.pid, p.start);
  return [...found.values()];
}

export async function startTracked(
  name: string,
  command: string,
  args: readonly string[],
  opts: { log: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<Tracked> {
  const fd = openSync(opts.log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      detached: true, // own process group: Ctrl-C in the terminal reaches us only, and we stop it in order
      stdio: ['ignore', fd, fd],
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env, [MARKER_NAME]: runId },
    });
  } finally {
    closeSync(fd);
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new Error(`cannot start ${name} (${command}): ${e.message}`)));
  });
  const t: Tracked = {
    name,
    pid: child.pid!,
    child,
    log: opts.log,
    exited: null,
    exit: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        t.exited = { code, signal };
        resolve(t.exited);
      });
    }),
  };
  live.add(t);
  tree(t.pid);
  return t;
}

function signalAll(procs: readonly ProcInfo[], pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // group already empty
  }
  for (const p of procs) {
    if (!isAlive(p.pid, p.start)) continue;
    try {
      process.kill(p.pid, sig);
    } catch {
      // exited between the check and the signal
    }
  }
}

async function waitGone(procs: readonly ProcInfo[], ms: number): Promise<ProcInfo[]> {
  const until = Date.now() + ms;
  for (;;) {
    const left = procs.filter((p) => isAlive(p.pid, p.start));
    if (left.length === 0 || Date.now() >= until) return left;
    await sleep(50);
  }
}

/** SIGTERM to the whole tree, SIGKILL to whatever is left after a grace period. */
export async function stopTracked(t: Tracked, graceMs = 5000): Promise<void> {
  const procs = tree(t.pid);
  signalAll(procs, t.pid, 'SIGTERM');
  let left = await waitGone(procs, graceMs);
  if (left.length > 0) {
    signalAll(left, t.pid, 'SIGKILL');
    left = await waitGone(left, 2000);
  }
  if (t.exited === null) await Promise.race([t.exit, sleep(2000)]);
  live.delete(t);
}

export async function stopAll(): Promise<void> {
  for (const t of [...live].reverse()) await stopTracked(t);
}

/** Processes of this run still alive: anything observed earlier, or anything carrying the run marker. */
export function leftovers(): { pid: number; cmd: string }[] {
  const out = new Map<number, string>();
  for (const [pid, start] of observed) if (pid !== process.pid && isAlive(pid, start)) out.set(pid, cmdline(pid));
  for (const p of processTable()) {
    if (p.pid === process.pid || p.state === 'Z' || out.has(p.pid)) continue;
    let env = '';
    try {
      env = readFileSync(`/proc/${p.pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (env.split('\0').includes(`${MARKER_NAME}=${runId}`)) out.set(p.pid, cmdline(p.pid));
  }
  return [...out].map(([pid, cmd]) => ({ pid, cmd }));
}

export function killLeftovers(list: readonly { pid: number }[]): void {
  for (const { pid } of list) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '?';
  }
}

/** Resident memory of a process and its descendants, in bytes (nginx and Apache count their workers). */
export function treeRss(t: Tracked): { bytes: number; processes: number } {
  let kb = 0;
  const procs = tree(t.pid);
  for (const p of procs) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return { bytes: kb * 1024, processes: procs.length };
}

// Last resort when the harness dies on an exception: never leave a server holding a port.
process.on('exit', () => {
  for (const t of live) {
    try {
      process.kill(-t.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
