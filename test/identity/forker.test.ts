/**
 * The forker (native/persona-forker.c, built into dist/libexec) for real, as root (as CI runs the suite). The test plays the launcher: it
 * starts a Forker and a worker program as a `pst-` pool account through setpriv, and tells the forker the worker's pid.
 * The worker starts processes with forkerSpawner (identity, environment, working directory, streams, stderr, kills,
 * limits, the pool policy) and, playing a compromised worker, sends the forker arbitrary and malformed bytes of its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { lookupOsAccount } from '../../src/identity/os-accounts.js';
import { connectionPrefix, encodeSpawnRequest, SPAWN_LIMITS } from '../../src/identity/forker-protocol.js';
import { SETPRIV } from '../../src/identity/setpriv.js';
import { spawnPolicyDecision } from '../../src/identity/spawn-policy.js';
import type { OsAccount, ProcessExit, SpawnRefusal } from '../../src/identity/spawn.js';
import { Forker, FORKER_BINARY, type ForkerEvent, type ForkerOptions } from '../../src/server/forker.js';
import { createTestAccounts, idOf, testAccountName, type TestAccounts } from '../helpers/os-accounts.js';
import { requireRoot } from '../helpers/root.js';
import { spawnRequest as request } from '../helpers/spawn-request.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'forker-worker.js');
const GROUP = testAccountName('fk', 'g');
const EXTRA = testAccountName('fk', 'x');
const POOL = testAccountName('fk', 'pool');
const USER = testAccountName('fk', 'user');
const WAIT_MS = 20_000;
const TEST_TIMEOUT = { timeout: 30_000 };

type Reported = { type: string; id?: number; status?: number; substatus?: number; reason?: string };

interface RunResult {
  readonly refused?: SpawnRefusal;
  readonly pid?: number;
  readonly account?: OsAccount;
  readonly exit?: ProcessExit;
  readonly stdout?: string;
  readonly stdoutLength?: number;
  readonly stdoutSha256?: string;
  readonly stdinSha256?: string;
  readonly stderr?: string;
  readonly stderrKept?: number;
  readonly heldBeforeRead?: number;
  readonly line?: string;
  readonly results?: RunResult[];
  readonly messages?: Reported[];
  readonly synced?: boolean;
  readonly controlError?: string;
}

function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True once `pid` no longer runs (a zombie, left when a container has no reaper, counts as gone). */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return / Z /.test(stat.slice(stat.lastIndexOf(')')));
  } catch {
    return true;
  }
}

/** The pid of the forker listening on `socket` (setpriv execs perl: found by its command line). */
function forkerPid(socket: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0] === FORKER_BINARY && argv.includes(socket) && !processGone(Number(entry))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

interface StartedForker {
  readonly forker: Forker;
  readonly socket: string;
  readonly events: ForkerEvent[];
  readonly pid: number;
}

interface Worker {
  readonly child: ChildProcess;
  readonly ready: { pid: number; uid: number; gid: number; groups: number[] };
  ask(command: Record<string, unknown>): Promise<RunResult>;
}

let runDir = '';
let sockets = 0;
let tags = 0;
const forkers: StartedForker[] = [];
const workers: ChildProcess[] = [];

async function startForker(options: Partial<ForkerOptions> = {}): Promise<StartedForker> {
  const group = (await lookupOsAccount(POOL))!.gid;
  const socket = path.join(runDir, `forker-${++sockets}.sock`);
  const events: ForkerEvent[] = [];
  const forker = new Forker({ pool: 'TestPool', poolAccount: POOL, replaceProcessToken: true, socket, group, ...options }, (e) => events.push(e), (why) => events.push({ kind: 'gave-up', pool: '', fields: [why] }));
  await within(forker.start(), 'forker start');
  const pid = forkerPid(socket);
  assert.ok(pid, `no forker process for ${socket}`);
  const started = { forker, socket, events, pid };
  forkers.push(started);
  return started;
}

/** Starts the worker program as `account` (setpriv, IPC channel) and, unless told not to, makes it the forker's worker. */
async function startWorker(account: string, forker: StartedForker, options: { attach?: boolean } = {}): Promise<Worker> {
  const resolved = await lookupOsAccount(account);
  assert.ok(resolved, account);
  const child = spawn(SETPRIV, [`--reuid=${resolved.uid}`, `--regid=${resolved.gid}`, `--groups=${resolved.groups.join(',')}`, '--inh-caps=-all', '--', process.execPath, WORKER, forker.socket], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: {} });
  workers.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  // setpriv execs node: this pid is the worker's, the one the forker accepts connections from.
  if (options.attach !== false) forker.forker.setWorker(child.pid!);
  const waiting = new Map<string, (result: RunResult) => void>();
  let onReady!: (ready: Worker['ready']) => void;
  const readyMessage = new Promise<Worker['ready']>((resolve) => (onReady = resolve));
  child.on('message', (message: { test?: string; tag?: string } & RunResult & Worker['ready']) => {
    if (message.test === 'ready') onReady(message);
    if (message.test === 'result' && message.tag) waiting.get(message.tag)?.(message);
  });
  const ready = await within(readyMessage, `worker ready (stderr: ${stderr})`);
  return {
    child,
    ready,
    ask(command) {
      const tag = (command.tag as string | undefined) ?? `t${++tags}`;
      const answer = new Promise<RunResult>((resolve) => waiting.set(tag, resolve));
      child.send({ tag, ...command });
      return within(answer, `worker answer to ${String(command.test)} (stderr: ${stderr})`);
    },
  };
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.child.once('exit', resolve));
  worker.child.kill('SIGKILL');
  await within(exited, 'worker exit');
}

/** The forker and one worker, its pool's. */
async function pool(options: Partial<ForkerOptions> = {}): Promise<{ f: StartedForker; worker: Worker }> {
  const f = await startForker(options);
  const worker = await startWorker(POOL, f);
  return { f, worker };
}

function assertRefused(r: RunResult, status: string, reason: RegExp): SpawnRefusal {
  assert.ok(r.refused, `not refused: ${JSON.stringify(r).slice(0, 300)}`);
  assert.equal(`${r.refused.status}.${r.refused.substatus}`, status, r.refused.reason);
  assert.match(r.refused.reason, reason);
  return r.refused;
}

function assertRan(r: RunResult): void {
  assert.equal(r.refused, undefined, r.refused?.reason);
}

/** A spawn connection's bytes from raw fields (so that they can be wrong). */
/**
 * One field of the spawn request [id, account, file, cwd, purpose, argc, arg, envc, env] replaced by a value that
 * makes it invalid (`badId` says which ids count as that).
 */
function corruptedField(badId: (s: string) => boolean): fc.Arbitrary<{ index: number; value: string }> {
  const noNul = fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0'));
  return fc.oneof(
    fc.record({ index: fc.constant(0), value: noNul.filter(badId) }),
    fc.record({ index: fc.constant(1), value: noNul.filter((s) => !/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(s)) }),
    fc.record({ index: fc.constantFrom(2, 3), value: noNul.filter((s) => !s.startsWith('/')) }),
    fc.record({ index: fc.constant(5), value: noNul.filter((s) => s !== '1') }),
    fc.record({ index: fc.constant(7), value: noNul.filter((s) => s !== '1') }),
    fc.record({ index: fc.constant(8), value: noNul.filter((s) => !/^[^=]+=/.test(s)) }),
  );
}

function pspn(fields: readonly string[], length?: number): Buffer {
  const header = Buffer.from(fields.join('\0'));
  return Buffer.concat([connectionPrefix('PSPN', length ?? header.length), header]);
}

const b64 = (b: Buffer): string => b.toString('base64');

describe('persona-forker (run as root)', { concurrency: false }, () => {
  before(requireRoot);
  let accounts: TestAccounts | undefined;
  let dir = '';
  let marker = '';

  before(async () => {
    accounts = createTestAccounts(
      [GROUP, EXTRA],
      [
        { name: POOL, group: GROUP, extraGroups: [] },
        { name: USER, group: GROUP, extraGroups: [EXTRA] },
      ],
    );
    runDir = await mkdtemp(path.join(os.tmpdir(), 'persona-forker-run-'));
    await chmod(runDir, 0o755);
    dir = await mkdtemp(path.join(os.tmpdir(), 'persona-forker-files-'));
    await chmod(dir, 0o755);
    // Written by `touch` in the requests that must never run: its existence would mean one did.
    await mkdir(path.join(dir, 'shared'));
    await chmod(path.join(dir, 'shared'), 0o1777);
    marker = path.join(dir, 'shared', 'marker');
  });

  after(async () => {
    // Workers first (userdel refuses an account that still has processes); the forker kills what they started.
    await Promise.all(
      workers.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await within(exited, 'worker exit').catch(() => undefined);
      }),
    );
    for (const f of forkers) f.forker.stop();
    for (const f of forkers) await eventually(() => processGone(f.pid), `forker ${f.pid} did not exit after stop()`).catch(() => undefined);
    accounts?.remove();
    if (runDir) await rm(runDir, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('processes run with exactly the account: uids, gids, groups, no capabilities, saved ids', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const expected = await lookupOsAccount(USER);
    assert.ok(expected);
    const status = await worker.ask({ test: 'run', request: request(USER, '/bin/cat', ['/proc/self/status']) });
    assertRan(status);
    assert.deepEqual(status.account, expected);
    const field = (name: string): string => status.stdout!.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1]?.trim() ?? 'missing';
    assert.deepEqual(field('Uid').split(/\s+/), Array(4).fill(String(expected.uid)), 'real, effective, saved and filesystem uid');
    assert.deepEqual(field('Gid').split(/\s+/), Array(4).fill(String(expected.gid)), 'real, effective, saved and filesystem gid');
    assert.deepEqual(field('Groups').split(/\s+/).map(Number).sort(), [...expected.groups].sort());
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) assert.equal(field(set), '0000000000000000', set);
    // What `id` prints as the process and about the account agree (the extra group is really there).
    const id = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id') });
    assert.equal(id.stdout?.trim(), idOf(USER));
    assert.deepEqual(id.exit, { code: 0, signal: null });
    const names = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-Gn']) });
    assert.deepEqual(names.stdout!.trim().split(' ').sort(), [EXTRA, GROUP].sort());
    const own = await worker.ask({ test: 'run', request: request(POOL, '/usr/bin/id') });
    assert.equal(own.stdout?.trim(), idOf(POOL));
    // The worker itself runs as its pool account.
    const poolAccount = await lookupOsAccount(POOL);
    assert.equal(worker.ready.uid, poolAccount!.uid);
    assert.deepEqual([...worker.ready.groups].sort(), [...poolAccount!.groups].sort());
  });

  test('a program gets only stdin, stdout and stderr, default signal dispositions and no blocked signals', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    // ls's own directory descriptor is 3.
    const fds = await worker.ask({ test: 'run', request: request(USER, '/bin/ls', ['/proc/self/fd']) });
    assert.deepEqual(fds.stdout!.trim().split('\n'), ['0', '1', '2', '3'], 'a descriptor of the forker leaked into the program');
    const status = await worker.ask({ test: 'run', request: request(USER, '/bin/cat', ['/proc/self/status']) });
    assert.match(status.stdout!, /^SigBlk:\s*0+$/m);
    assert.match(status.stdout!, /^SigIgn:\s*0+$/m, 'an ignored signal survived exec (e.g. SIGPIPE)');
  });

  test('the environment is exactly the request\'s: nothing of the forker, nothing added', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const env = { ONLY: 'this', SPACED: 'a b\nc\td', EMPTY: '', EQUALS: 'x=y=z', UNICODE: 'héllo wörld €', PERCENT: '100%25' };
    const r = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/env', ['-0'], { env }) });
    const seen = Object.fromEntries(
      r.stdout!
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    assert.deepEqual(seen, env);
    const empty = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/env', [], { env: {} }) });
    assert.equal(empty.stdout, '');
  });

  test('the working directory is entered as the account: one it cannot reach is 502.2, not entered for it by root', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const locked = path.join(dir, 'locked');
    const inner = path.join(locked, 'inner');
    await mkdir(inner, { recursive: true });
    await chmod(locked, 0o700); // root only: the account cannot search it…
    await chmod(inner, 0o755); // …even though the directory itself would be open to it
    await writeFile(path.join(inner, 'secret'), 'not for the user');
    const denied = await worker.ask({ test: 'run', request: request(USER, '/bin/cat', ['secret'], { cwd: inner }) });
    assertRefused(denied, '502.2', new RegExp(`cannot enter the working directory ${inner} as ${USER}: Permission denied`));
    const open = path.join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o755);
    const allowed = await worker.ask({ test: 'run', request: request(USER, '/bin/pwd', [], { cwd: open }) });
    assert.equal(allowed.stdout, `${open}\n`);
    const missing = await worker.ask({ test: 'run', request: request(USER, '/bin/pwd', [], { cwd: path.join(dir, 'nowhere') }) });
    assertRefused(missing, '502.2', /cannot enter the working directory .*No such file or directory/);
  });

  test('a program whose path contains "=" is run with its arguments as given', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const sub = path.join(dir, 'a=b');
    await mkdir(sub);
    await chmod(sub, 0o755);
    const script = path.join(sub, 'x=y.sh');
    await writeFile(script, '#!/bin/sh\necho "args:$0:$1:$2:$#"\n');
    await chmod(script, 0o755);
    const r = await worker.ask({ test: 'run', request: request(USER, script, ['one', 'two=2 three'], { cwd: sub }) });
    assert.equal(r.stdout, `args:${script}:one:two=2 three:2\n`);
  });

  test('a program that cannot be executed is 502.2 with the reason (ENOENT, EACCES)', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    const missing = await worker.ask({ test: 'run', request: request(USER, '/no/such/program') });
    assertRefused(missing, '502.2', new RegExp(`could not start test program as ${USER}: exec /no/such/program: No such file or directory`));
    const notExecutable = path.join(dir, 'not-executable.sh');
    await writeFile(notExecutable, '#!/bin/sh\necho no\n');
    await chmod(notExecutable, 0o644);
    const denied = await worker.ask({ test: 'run', request: request(USER, notExecutable) });
    assertRefused(denied, '502.2', /exec .*not-executable\.sh: Permission denied/);
    assert.ok(f.events.some((e) => e.kind === 'refused' && e.fields[1] === USER && /No such file/.test(e.fields[2] ?? '')), JSON.stringify(f.events));
  });

  test('root is refused with 403.19 even for a pool with replaceProcessToken; an unknown account is a 500', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool({ replaceProcessToken: true });
    const root = await worker.ask({ test: 'run', request: request('root', '/usr/bin/id') });
    assertRefused(root, '403.19', /cannot run test id as OS account "root": it is uid 0 \(root\), and no request code ever runs as root/);
    const unknown = testAccountName('fk', 'nobody-here');
    const r = await worker.ask({ test: 'run', request: request(unknown, '/usr/bin/id') });
    assertRefused(r, '500.0', new RegExp(`OS account "${unknown}" is unknown to NSS`));
    // Both are logged by the launcher: purpose, account, reason.
    assert.ok(f.events.some((e) => e.kind === 'refused' && e.fields[0] === 'test id' && e.fields[1] === 'root'), JSON.stringify(f.events));
  });

  test('without replaceProcessToken: another account is 403.19 with exactly spawnPolicyDecision\'s reason; its own runs', TEST_TIMEOUT, async () => {
    const policy = { pool: 'NoTokenPool', poolAccount: POOL, replaceProcessToken: false };
    const { worker } = await pool(policy);
    // Spaces, a tab, "%" and non-ASCII text in the purpose: the reason crosses the control connection %XX-escaped.
    const asked = request(USER, '/usr/bin/id', [], { purpose: 'CGI /cgi-bin/ünïcode 100%\tid.cgi as MACHINE\\bob' });
    const other = await worker.ask({ test: 'run', request: asked });
    assert.deepEqual(other.refused, spawnPolicyDecision(policy, asked));
    const own = await worker.ask({ test: 'run', request: request(POOL, '/usr/bin/id', ['-un']) });
    assert.equal(own.stdout, `${POOL}\n`);
  });

  test('stdin and stdout flow between the worker and the program directly: 2 MiB through cat, both ways intact', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const r = await worker.ask({ test: 'run', request: request(USER, '/bin/cat'), stdinBytes: 2 * 1024 * 1024 });
    assert.equal(r.stdoutLength, 2 * 1024 * 1024);
    assert.equal(r.stdoutSha256, r.stdinSha256);
    assert.deepEqual(r.exit, { code: 0, signal: null });
  });

  test("stdin 'none' (SPAWN on the control connection): the program reads /dev/null, writes to a pipe the forker relays, and what is written to it is dropped", TEST_TIMEOUT, async () => {
    const { worker, f } = await pool();
    const none = { stdin: 'none' as const };
    const fds = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/readlink', ['/proc/self/fd/0', '/proc/self/fd/1'], none), stdin: 'ignored by /dev/null' });
    assert.match(fds.stdout ?? '', /^\/dev\/null\npipe:\[\d+\]\n$/);
    assert.deepEqual(fds.exit, { code: 0, signal: null });
    // cat ends at once: nothing to read, and the bytes the worker wrote went nowhere
    const cat = await worker.ask({ test: 'run', request: request(USER, '/bin/cat', [], none), stdinBytes: 100_000 });
    assert.equal(cat.stdoutLength, 0);
    assert.deepEqual(cat.exit, { code: 0, signal: null });
    // with a pipe, as before: connections of its own are its stdin and stdout
    const piped = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/readlink', ['/proc/self/fd/0', '/proc/self/fd/1']) });
    assert.match(piped.stdout ?? '', /^socket:\[\d+\]\nsocket:\[\d+\]\n$/);
    assert.equal(f.events.filter((e) => e.kind === 'invalid').length, 0);
  });

  test('a relayed stdout loses nothing and holds little: 8 MiB to a reader that starts late (PAUSE/RESUME)', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const size = 8 * 1024 * 1024;
    const r = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/head', ['-c', String(size), '/dev/zero'], { stdin: 'none' }), readDelayMs: 1000 });
    assert.equal(r.stdoutLength, size);
    assert.equal(r.stdoutSha256, createHash('sha256').update(Buffer.alloc(size)).digest('hex'));
    assert.deepEqual(r.exit, { code: 0, signal: null });
    // Paused at the spawner's high-water mark: what was already on its way (the forker's control backlog limit of
    // 1 MiB, one 64 KiB chunk, socket buffers), not the 8 MiB the program had to write.
    assert.ok(r.heldBeforeRead! > 0 && r.heldBeforeRead! <= 3 * 1024 * 1024, `the spawner held ${r.heldBeforeRead} bytes for a reader that had not started`);
  });

  test("a relayed stdout the reader drops (DROP): the program's next write fails, it ends, and the pool goes on", TEST_TIMEOUT, async () => {
    const { worker, f } = await pool();
    const r = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/yes', [], { stdin: 'none' }), dropAfter: 100_000 });
    assert.ok(r.stdoutLength! >= 100_000);
    // As on a closed connection: SIGPIPE (the forker gives programs the default disposition).
    assert.deepEqual(r.exit, { code: null, signal: 'SIGPIPE' });
    const ok = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un'], { stdin: 'none' }) });
    assert.equal(ok.stdout, `${USER}\n`);
    assert.equal(f.events.filter((e) => e.kind === 'invalid').length, 0);
  });

  test('a relayed stdout ends when every holder closed it: output after the program exited still arrives', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const r = await worker.ask({ test: 'run', request: request(USER, '/bin/sh', ['-c', '(sleep 0.3; echo late) & echo early'], { stdin: 'none' }) });
    assert.equal(r.stdout, 'early\nlate\n');
    assert.deepEqual(r.exit, { code: 0, signal: null });
  });

  test('a program that exits without reading a large stdin still delivers all of its output', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    // The worker's writes fail once the program is gone; its output, on a connection of its own, is all there.
    const r = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/head', ['-c', '1000000', '/dev/zero']), stdinBytes: 8 * 1024 * 1024 });
    assert.equal(r.stdoutLength, 1_000_000);
    assert.deepEqual(r.exit, { code: 0, signal: null });
  });

  test('stderr is relayed separately from stdout, and the exit code and signal are reported', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const r = await worker.ask({ test: 'run', request: request(USER, '/bin/sh', ['-c', 'echo out; echo err >&2; echo more-err >&2; exit 3']) });
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\nmore-err\n');
    assert.deepEqual(r.exit, { code: 3, signal: null });
    // Signal 29: Node names it SIGIO (its child_process does); the forker sends the number.
    const signalled = await worker.ask({ test: 'run', request: request(USER, '/bin/sh', ['-c', 'kill -TERM $$']) });
    assert.deepEqual(signalled.exit, { code: null, signal: 'SIGTERM' });
    const io = await worker.ask({ test: 'run', request: request(USER, '/bin/sh', ['-c', 'kill -IO $$']) });
    assert.deepEqual(io.exit, { code: null, signal: 'SIGIO' });
  });

  test('stderr nobody reads is kept only up to a bound, and does not hold up the program', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const r = await worker.ask({ test: 'run', ignoreStderr: true, request: request(USER, '/bin/sh', ['-c', 'head -c 8388608 /dev/zero >&2; echo done']) });
    assert.equal(r.stdout, 'done\n');
    assert.deepEqual(r.exit, { code: 0, signal: null });
    // forker-spawner's STDERR_BACKLOG_LIMIT (1 MiB) plus one chunk of the forker's (64 KiB).
    assert.ok(r.stderrKept! <= 1024 * 1024 + 65536, `the spawner kept ${r.stderrKept} bytes of unread stderr`);
  });

  test('many programs writing much stderr at once all finish (the forker resumes reading stderr after a backlog)', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    // 32 × 64 KiB read in one pass of the forker's loop exceeds its 1 MiB control backlog.
    const { results } = await worker.ask({ test: 'many', count: 32, request: request(USER, '/bin/sh', ['-c', 'head -c 1000000 /dev/zero >&2; echo done']) });
    assert.equal(results?.length, 32);
    for (const r of results!) {
      assert.equal(r.stdout, 'done\n');
      assert.equal(r.stderr?.length, 1_000_000);
    }
  });

  test('concurrent spawns: each gets its own process and all of its output', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const { results } = await worker.ask({ test: 'many', count: 24, request: request(USER, '/usr/bin/head', ['-c', '300000', '/dev/zero']) });
    assert.equal(results?.length, 24);
    for (const r of results!) {
      assertRan(r);
      assert.equal(r.stdoutLength, 300000);
      assert.deepEqual(r.exit, { code: 0, signal: null });
    }
    assert.equal(new Set(results!.map((r) => r.pid)).size, 24);
    // Programs that exit at once, many at a time: every output and exit reaches its own caller.
    for (let round = 0; round < 3; round++) {
      const quick = await worker.ask({ test: 'many', count: 32, request: request(USER, '/usr/bin/id', ['-un']) });
      for (const r of quick.results!) {
        assertRan(r);
        assert.equal(r.stdout, `${USER}\n`);
        assert.deepEqual(r.exit, { code: 0, signal: null });
      }
    }
  });

  test('killGroup kills the whole process group, also after the program itself has exited', TEST_TIMEOUT, async () => {
    const { worker } = await pool();
    const started = await worker.ask({ test: 'start', tag: 'sleeper', request: request(USER, '/bin/sh', ['-c', 'sleep 1000 & echo $!; wait']) });
    const sleeper = Number(started.line);
    assert.ok(Number.isInteger(sleeper) && sleeper > 0, String(started.line));
    assert.equal(processGone(sleeper), false);
    assert.match(readFileSync(`/proc/${sleeper}/status`, 'utf8'), new RegExp(`^Uid:\\t${(await lookupOsAccount(USER))!.uid}\\t`, 'm'), 'the background child runs as the account too');
    const killed = await worker.ask({ test: 'kill', tag: 'sleeper', signal: 'SIGKILL' });
    assert.deepEqual(killed.exit, { code: null, signal: 'SIGKILL' });
    await eventually(() => processGone(sleeper), `sleep ${sleeper} survived the kill`);
    // The leader exits at once and leaves a background process in its group: the kill still reaches it.
    const left = await worker.ask({ test: 'start', tag: 'leftover', request: request(USER, '/bin/sh', ['-c', 'sleep 1000 >/dev/null 2>&1 & echo $!']) });
    const orphan = Number(left.line);
    const exited = await worker.ask({ test: 'kill', tag: 'leftover', signal: 'SIGTERM' });
    assert.deepEqual(exited.exit, { code: 0, signal: null });
    await eventually(() => processGone(orphan), `sleep ${orphan} (left by its exited leader) survived the kill`);
  });

  test('a kill for a program that has exited never reaches a process group that now has its pid', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    // A program that exits at once (its group is empty after), then a process of the test's own (root) made to get
    // the same pid (ns_last_pid: the kernel hands out the pid after it next), leader of its own group, as any process
    // could be once pids wrap around (pid_max is often 32768).
    let bystander: ChildProcess | undefined;
    let tag = '';
    for (let attempt = 0; attempt < 20 && !bystander; attempt++) {
      tag = `gone${attempt}`;
      const started = await worker.ask({ test: 'start', tag, request: request(USER, '/bin/sh', ['-c', 'echo $$']) });
      const pid = Number(started.line);
      await eventually(() => !existsSync(`/proc/${pid}`), `${pid} was not reaped`);
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
      const candidate = spawn('/bin/sleep', ['1000'], { detached: true, stdio: 'ignore' });
      if (candidate.pid === pid) bystander = candidate;
      else candidate.kill('SIGKILL');
    }
    assert.ok(bystander, 'could not start a process with a reused pid (ns_last_pid)');
    try {
      // The worker kills its (exited) program's group, as it may for a while after the exit…
      await worker.ask({ test: 'kill', tag, signal: 'SIGKILL' });
      // …and once a later spawn is done, that KILL line has been handled.
      await worker.ask({ test: 'run', request: request(USER, '/bin/true') });
      assert.equal(processGone(bystander.pid!), false, 'KILL for an exited program killed an unrelated process group that reuses its pid');
      // The worker goes: the forker kills its processes' groups, exited ones included.
      f.forker.setWorker(0);
      const refused = await worker.ask({ test: 'run', request: request(USER, '/bin/true') });
      assert.ok(refused.refused);
      assert.equal(processGone(bystander.pid!), false, 'the worker\'s end killed an unrelated process group that reuses a pid of its processes');
    } finally {
      bystander.kill('SIGKILL');
    }
  });

  test('kills reach only the worker\'s own processes: not another pool\'s ids, never a pid', TEST_TIMEOUT, async () => {
    const a = await pool();
    const b = await startForker({ pool: 'OtherPool' });
    const intruder = await startWorker(POOL, b);
    const started = await a.worker.ask({ test: 'start', tag: 'victim', request: request(USER, '/bin/sh', ['-c', 'echo $$; exec sleep 1000']) });
    const victim = Number(started.line);
    // A process of the test's own (root), leader of its own group: a kill by pid or group id would reach it.
    const bystander = spawn('/bin/sleep', ['1000'], { detached: true, stdio: 'ignore' });
    try {
      const lines = [...Array.from({ length: 8 }, (_, i) => `KILL ${i + 1} SIGKILL\n`), `KILL ${victim} SIGKILL\n`, `KILL ${bystander.pid} SIGKILL\n`];
      const r = await intruder.ask({ test: 'raw', lines, syncId: 999 });
      assert.equal(r.synced, true, JSON.stringify(r));
      assert.equal(processGone(victim), false, 'another pool\'s worker killed the process');
      // Its own forker, with the pids as ids: a new control connection kills the worker's earlier processes (its own),
      // but the ids name no process of the forker's.
      const own = await a.worker.ask({ test: 'raw', lines: [`KILL ${bystander.pid} SIGKILL\n`, `KILL ${process.pid} SIGKILL\n`], syncId: 998 });
      assert.equal(own.synced, true, JSON.stringify(own));
      await eventually(() => processGone(victim), 'the processes of a replaced control connection were not killed');
      assert.equal(processGone(bystander.pid!), false, 'a KILL naming a pid killed a process the forker did not start');
    } finally {
      bystander.kill('SIGKILL');
    }
  });

  test('when the worker goes (setWorker(0), or its control connection closes) its processes are killed', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    const first = await worker.ask({ test: 'start', tag: 'w1', request: request(USER, '/bin/sh', ['-c', 'sleep 1000 & echo $!; wait']) });
    const sleeper = Number(first.line);
    assert.equal(processGone(sleeper), false);
    f.forker.setWorker(0);
    await eventually(() => processGone(sleeper), `sleep ${sleeper} outlived setWorker(0)`);
    // No worker now: the old one is refused…
    const refused = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id') });
    assertRefused(refused, '500.0', /the forker at .* is not available/);
    await eventually(() => f.events.some((e) => e.kind === 'refused-connection' && e.fields.some((x) => x.includes(`pid ${worker.ready.pid} `))), 'no refused-connection event');
    // …until it is the worker again.
    f.forker.setWorker(worker.ready.pid);
    const again = await worker.ask({ test: 'start', tag: 'w2', request: request(USER, '/bin/sh', ['-c', 'sleep 1000 & echo $!; wait']) });
    const second = Number(again.line);
    assert.equal(processGone(second), false);
    // A worker that dies closes its control connection.
    await stopWorker(worker);
    await eventually(() => processGone(second), `sleep ${second} outlived its worker`);
    assert.equal(processGone(f.pid), false, 'the forker itself went');
  });

  test('the number of live processes is bounded (--max-live): 503.2 beyond it', TEST_TIMEOUT, async () => {
    const { worker } = await pool({ maxLive: 2 });
    await worker.ask({ test: 'start', tag: 'one', request: request(USER, '/bin/sh', ['-c', 'echo 1; exec sleep 1000']) });
    await worker.ask({ test: 'start', tag: 'two', request: request(USER, '/bin/sh', ['-c', 'echo 2; exec sleep 1000']) });
    const third = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id') });
    assertRefused(third, '503.2', /application pool TestPool already has 2 processes started by its forker \(limit 2\)/);
    await worker.ask({ test: 'kill', tag: 'one', signal: 'SIGKILL' });
    const after = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un']) });
    assert.equal(after.stdout, `${USER}\n`);
    await worker.ask({ test: 'kill', tag: 'two', signal: 'SIGKILL' });
  });

  test('a connection from any process but the worker is refused (event refused-connection)', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    // The test process (root!) is not the worker.
    const received = await within(
      new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        const c = net.connect(f.socket);
        c.on('data', (d: Buffer) => chunks.push(d));
        c.on('error', () => undefined);
        c.on('close', () => resolve(Buffer.concat(chunks)));
        c.write(connectionPrefix('PCTL', 0));
      }),
      'refused connection closed',
    );
    assert.equal(received.length, 0, 'the forker answered a process that is not the worker');
    await eventually(() => f.events.some((e) => e.kind === 'refused-connection' && e.fields[0]!.startsWith(`pid ${process.pid} uid 0 is not the pool's worker (pid ${worker.ready.pid})`)), JSON.stringify(f.events));
    // Another worker program of the same account, not the one the launcher named.
    const other = await startWorker(POOL, f, { attach: false });
    const r = await other.ask({ test: 'run', request: request(USER, '/usr/bin/id') });
    assertRefused(r, '500.0', /not available/);
    const ok = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un']) });
    assert.equal(ok.stdout, `${USER}\n`);
  });

  test('hostile input: arbitrary bytes on fresh connections never start a process nor stop the forker', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    const touch = encodeSpawnRequest(5, request(USER, '/usr/bin/touch', [marker]));
    const connection = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      fc.tuple(fc.constantFrom('PSPN', 'PSIN', 'PCTX', 'pspn'), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 64 })).map(([kind, n, rest]) => Buffer.concat([connectionPrefix(kind as 'PSPN', n), Buffer.from(rest)])),
      // The valid request, cut short or followed by junk.
      fc.integer({ min: 0, max: touch.length - 1 }).map((n) => touch.subarray(0, n)),
      fc.uint8Array({ minLength: 1, maxLength: 16 }).map((junk) => Buffer.concat([touch.subarray(0, 8), Buffer.from(junk), touch.subarray(8)])),
    );
    // PCTL would replace this session's control connection (a test of its own below).
    const notControl = connection.filter((b) => b.subarray(0, 4).toString('latin1') !== 'PCTL');
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(notControl, { minLength: 1, maxLength: 3 }), async (connections) => {
        const before = f.events.length;
        const r = await worker.ask({ test: 'raw', connections: connections.map(b64), syncId: 1000 + (runs++ % 1000) });
        assert.equal(r.synced, true, `no answer after ${JSON.stringify(connections.map(b64))}: ${JSON.stringify(r)}`);
        assert.ok(!r.messages!.some((m) => m.type === 'started'), `a process started for ${JSON.stringify(connections.map(b64))}`);
        for (const m of r.messages!) assert.ok(m.type === 'hello' || m.type === 'refused', JSON.stringify(m));
        for (const e of f.events.slice(before)) assert.ok(['invalid', 'refused'].includes(e.kind), JSON.stringify(e));
      }),
      { numRuns: 150 },
    );
    assert.equal(existsSync(marker), false, 'a hostile request ran');
    assert.equal(forkerPid(f.socket), f.pid, 'the forker was restarted or replaced');
    assert.ok(!f.events.some((e) => e.kind === 'restarting' || e.kind === 'gave-up'));
    const ok = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un']) });
    assert.equal(ok.stdout, `${USER}\n`);
  });

  test('hostile input: malformed spawn headers and input connections are refused (invalid or REFUSED), never run', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    const good = ['7', USER, '/usr/bin/touch', '/', 'hostile', '1', marker, '1', 'PATH=/usr/bin:/bin'];
    const input = b64(connectionPrefix('PSIN', 7));
    const replace = (index: number, value: string): string[] => good.map((v, i) => (i === index ? value : v));
    const big = 'x'.repeat(SPAWN_LIMITS.maxStringBytes + 1);
    const cases: Record<string, string[]> = {
      'id 0': [b64(pspn(replace(0, '0'))), b64(connectionPrefix('PSIN', 0))],
      'id with a leading zero': [b64(pspn(replace(0, '07'))), input],
      'id 2^31': [b64(pspn(replace(0, String(2 ** 31)))), b64(connectionPrefix('PSIN', 2 ** 31))],
      'id not a number': [b64(pspn(replace(0, 'seven'))), input],
      'account with a space': [b64(pspn(replace(1, 'a b'))), input],
      'account empty': [b64(pspn(replace(1, ''))), input],
      'account starting with -': [b64(pspn(replace(1, '-rf'))), input],
      'account with a colon': [b64(pspn(replace(1, 'root:x'))), input],
      'relative file': [b64(pspn(replace(2, 'usr/bin/touch'))), input],
      'relative cwd': [b64(pspn(replace(3, '.'))), input],
      'file too long': [b64(pspn(replace(2, `/${'d'.repeat(SPAWN_LIMITS.maxPathBytes)}`))), input],
      'purpose too long': [b64(pspn(replace(4, 'p'.repeat(SPAWN_LIMITS.maxPurposeBytes + 1)))), input],
      'argc not a number': [b64(pspn(replace(5, 'x'))), input],
      'argc too large': [b64(pspn(replace(5, '5'))), input],
      'argc beyond the limit': [b64(pspn(replace(5, '99999'))), input],
      'envc mismatch': [b64(pspn(replace(7, '2'))), input],
      'envc missing': [b64(pspn(good.slice(0, 7))), input],
      'an env entry without "="': [b64(pspn(replace(8, 'PATH'))), input],
      'an env entry with an empty name': [b64(pspn(replace(8, '=x'))), input],
      'an env name given twice': [b64(pspn([...replace(7, '2'), 'PATH=/tmp'])), input],
      'an extra field': [b64(pspn([...good, 'extra'])), input],
      'an argument too long': [b64(pspn(replace(6, big))), input],
      'too few fields': [b64(pspn(good.slice(0, 4))), input],
      'arguments and environment too large': [b64(pspn([...good.slice(0, 5), '9', ...Array(9).fill('y'.repeat(120_000)), '0'])), input],
      'header shorter than its length': [b64(pspn(good, 4096)), input],
      'header length beyond the limit': [b64(pspn(good, 2 ** 31)), input],
      'input for another id': [b64(pspn(good)), b64(connectionPrefix('PSIN', 8))],
      'input of another kind': [b64(pspn(good)), b64(connectionPrefix('PSPN', 7))],
      'input cut short': [b64(pspn(good)), b64(Buffer.from('PSIN'))],
      'no input connection': [b64(pspn(good))],
      'input first, then the request': [input, b64(pspn(good))],
    };
    for (const [name, connections] of Object.entries(cases)) {
      const before = f.events.length;
      const r = await worker.ask({ test: 'raw', connections, syncId: 4242 });
      assert.equal(r.synced, true, `${name}: no answer (${JSON.stringify(r)})`);
      assert.ok(!r.messages!.some((m) => m.type === 'started'), `${name}: a process started`);
      const refused = r.messages!.filter((m) => m.type === 'refused' && m.id !== 4242);
      for (const m of refused) assert.match(m.reason!, /^forker: malformed spawn request: /, name);
      // Events come over the forker's stdout, the answers over the worker's control connection and IPC: either
      // may arrive first, so an expected event is waited for (bounded).
      const invalid = (): number => f.events.slice(before).filter((e) => e.kind === 'invalid').length;
      if (refused.length === 0) await eventually(() => invalid() > 0, `${name}: neither invalid nor REFUSED (${JSON.stringify(f.events.slice(before))})`);
    }
    assert.equal(existsSync(marker), false, 'a malformed request ran');
    // The same request, well formed, does run (so the cases above were refused for what they changed).
    // (Its exit is awaited: the session's end closes the control connection, which kills what it started.)
    const r = await worker.ask({ test: 'raw', connections: [b64(pspn(good)), input], syncId: 4242, awaitId: 7 });
    assert.ok(r.messages!.some((m) => m.type === 'started' && m.id === 7), JSON.stringify(r));
    await eventually(() => existsSync(marker), 'the well-formed request did not run');
    await rm(marker, { force: true });
    assert.equal(forkerPid(f.socket), f.pid);
  });

  test('hostile input: arbitrarily corrupted spawn fields are refused, never run (property)', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    const good = ['9', USER, '/usr/bin/touch', '/', 'hostile', '1', marker, '1', 'PATH=/usr/bin:/bin'];
    // any other id is not the input connection's
    const corruption = corruptedField((s) => s !== '9');
    await fc.assert(
      fc.asyncProperty(corruption, async ({ index, value }) => {
        const fields = good.map((v, i) => (i === index ? value : v));
        const before = f.events.length;
        const r = await worker.ask({ test: 'raw', connections: [b64(pspn(fields)), b64(connectionPrefix('PSIN', 9))], syncId: 4343 });
        assert.equal(r.synced, true, JSON.stringify(r));
        assert.ok(!r.messages!.some((m) => m.type === 'started'), `a process started for ${JSON.stringify(fields)}`);
        const refused = r.messages!.filter((m) => m.type === 'refused' && m.id !== 4343);
        // An 'invalid' event comes on the forker's stdout, independently of the worker's answer: waited for (bounded).
        if (refused.length === 0) await eventually(() => f.events.slice(before).some((e) => e.kind === 'invalid'), `neither invalid nor REFUSED for ${JSON.stringify(fields)}`);
      }),
      { numRuns: 100 },
    );
    assert.equal(existsSync(marker), false);
    assert.equal(forkerPid(f.socket), f.pid);
  });

  test('hostile input: bogus control lines are logged as invalid, a line too long drops the control connection', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    const bogus = fc.oneof(
      fc.string({ maxLength: 200 }).filter((s) => !s.includes('\n')),
      fc.constantFrom('KILL 1 SIGFOO', 'KILL 0 SIGKILL', 'kill 1 SIGKILL', 'KILL 1 9', 'KILL 1 KILL', 'KILL 01 SIGKILL', 'KILL 1 SIGKILL ', 'KILL -1 SIGKILL', 'KILL 1 SIGSEGV', 'KILL 12345678901 SIGKILL', 'HELLO x', ''),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(bogus, { minLength: 1, maxLength: 5 }), async (lines) => {
        const before = f.events.length;
        const r = await worker.ask({ test: 'raw', lines: lines.map((l) => `${l}\n`), syncId: 4444 });
        assert.equal(r.synced, true, JSON.stringify(r));
        await eventually(() => f.events.slice(before).filter((e) => e.kind === 'invalid').length >= lines.length, `not every bogus line was logged: ${JSON.stringify(lines)}`);
        const invalid = f.events.slice(before).filter((e) => e.kind === 'invalid');
        assert.equal(invalid.length, lines.length);
        for (const e of invalid) assert.equal(e.fields[0], 'an unknown control message');
      }),
      { numRuns: 60 },
    );
    // More than 4 KiB without a newline: the forker drops the connection (no answer to the sync request).
    const long = await worker.ask({ test: 'raw', lines: ['x'.repeat(5000)], syncId: 4445 });
    assert.equal(long.synced, false);
    assert.equal(forkerPid(f.socket), f.pid);
    const ok = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un']) });
    assert.equal(ok.stdout, `${USER}\n`);
  });

  test('hostile input: SPAWN on the control connection — corrupted fields are refused, never run; a bad length drops the connection', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    const good = ['11', USER, '/usr/bin/touch', '/', 'hostile', '1', marker, '1', 'PATH=/usr/bin:/bin'];
    const spawnLine = (fields: string[]): string => `SPAWN ${Buffer.byteLength(fields.join('\0'))}\n${fields.join('\0')}`;
    // any id that is not a valid one (a valid other id would be a valid request)
    const corruption = corruptedField((s) => !/^[1-9][0-9]{0,9}$/.test(s));
    await fc.assert(
      fc.asyncProperty(corruption, async ({ index, value }) => {
        const fields = good.map((v, i) => (i === index ? value : v));
        const before = f.events.length;
        // The synchronising SPAWN follows on the same connection: once it is refused, this one was handled.
        const r = await worker.ask({ test: 'raw', lines: [spawnLine(fields)], syncId: 4545, controlSync: true });
        assert.equal(r.synced, true, JSON.stringify(r));
        assert.ok(!r.messages!.some((m) => m.type === 'started' || m.type === 'stdout'), `a process started for ${JSON.stringify(fields)}`);
        const refused = r.messages!.filter((m) => m.type === 'refused' && m.id !== 4545);
        for (const m of refused) assert.match(m.reason!, /^forker: malformed spawn request: /);
        if (refused.length === 0) await eventually(() => f.events.slice(before).some((e) => e.kind === 'invalid'), `neither invalid nor REFUSED for ${JSON.stringify(fields)}`);
      }),
      { numRuns: 60 },
    );
    // A length that is no number, 0, or beyond the limit: what follows cannot be framed, the connection is dropped.
    for (const line of ['SPAWN x\n', 'SPAWN 0\n', 'SPAWN 012\n', 'SPAWN -1\n', `SPAWN ${2 * 1024 * 1024}\n`]) {
      const before = f.events.length;
      const r = await worker.ask({ test: 'raw', lines: [line], syncId: 4546, controlSync: true });
      assert.equal(r.synced, false, `${JSON.stringify(line)}: ${JSON.stringify(r)}`);
      await eventually(() => f.events.slice(before).some((e) => e.kind === 'invalid' && /SPAWN line/.test(e.fields[0] ?? '')), `no event for ${JSON.stringify(line)}`);
    }
    assert.equal(existsSync(marker), false);
    // The well-formed SPAWN does run, and its stdout comes back relayed (touch writes none; its exit is awaited).
    const r = await worker.ask({ test: 'raw', lines: [spawnLine(good)], syncId: 4547, controlSync: true, awaitId: 11 });
    assert.ok(r.messages!.some((m) => m.type === 'started' && m.id === 11), JSON.stringify(r));
    await eventually(() => existsSync(marker), 'the well-formed SPAWN did not run');
    await rm(marker, { force: true });
    assert.equal(forkerPid(f.socket), f.pid);
  });

  test('hostile input: an input connection from another process is refused; a new control connection replaces the old', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    // The spawner's control connection exists once it has started something.
    const sleeping = await worker.ask({ test: 'start', tag: 'held', request: request(USER, '/bin/sh', ['-c', 'echo $$; exec sleep 1000']) });
    const held = Number(sleeping.line);
    const before = f.events.length;
    // The worker sends a valid request but no input connection; the test (root, not the worker) sends it instead.
    await worker.ask({ test: 'connect', bytes: b64(encodeSpawnRequest(77, request(USER, '/usr/bin/touch', [marker]))) });
    await new Promise<void>((resolve) => {
      const c = net.connect(f.socket);
      c.on('error', () => resolve());
      c.on('close', () => resolve());
      c.resume();
      c.end(connectionPrefix('PSIN', 77));
    });
    await eventually(() => f.events.slice(before).some((e) => e.kind === 'invalid'), `no invalid event: ${JSON.stringify(f.events.slice(before))}`);
    assert.equal(existsSync(marker), false, 'a request with another process\'s input ran');
    assert.equal(processGone(held), false);
    // A second control connection from the worker takes over: the first one's processes are killed.
    const r = await worker.ask({ test: 'raw', syncId: 4646 });
    assert.equal(r.synced, true);
    await eventually(() => processGone(held), `sleep ${held} survived its control connection's replacement`);
    const ok = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un']) });
    assert.equal(ok.stdout, `${USER}\n`);
  });

  test('a forker that dies is restarted by the Forker, told the worker again, and serves it', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    const first = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un']) });
    assert.equal(first.stdout, `${USER}\n`);
    process.kill(f.pid, 'SIGKILL');
    await eventually(() => f.events.some((e) => e.kind === 'restarting' && e.fields[0] === 'killed by SIGKILL'), `no restarting event: ${JSON.stringify(f.events)}`);
    await eventually(() => (forkerPid(f.socket) ?? f.pid) !== f.pid, 'no new forker');
    // The worker learns of the restart when its next spawn finds the socket: until the new forker listens, that spawn
    // is refused (500, "not available") and the next one tries again.
    let again: RunResult = {};
    for (let attempt = 0; attempt < 50 && again.stdout === undefined; attempt++) {
      again = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un']) });
      if (again.refused) {
        assert.match(again.refused.reason, /is not available/);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(again.stdout, `${USER}\n`, JSON.stringify(again));
    forkers.push({ ...f, pid: forkerPid(f.socket)! });
  });

  test('stop(): the forker kills what it started, removes its socket and exits', TEST_TIMEOUT, async () => {
    const { f, worker } = await pool();
    const started = await worker.ask({ test: 'start', tag: 's', request: request(USER, '/bin/sh', ['-c', 'sleep 1000 & echo $!; wait']) });
    const sleeper = Number(started.line);
    f.forker.stop();
    await eventually(() => processGone(f.pid), 'the forker did not exit');
    await eventually(() => processGone(sleeper), `sleep ${sleeper} outlived the forker`);
    assert.equal(existsSync(f.socket), false);
    assert.ok(!f.events.some((e) => e.kind === 'restarting'));
  });
});
