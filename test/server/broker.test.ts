/**
 * The spawn broker for real (as root, as CI runs the suite). The test plays the launcher: it starts a real worker
 * program as a `pst-` pool account through setpriv with a Node IPC channel, attaches the broker with the real setpriv
 * spawner, and drives the worker, which starts processes with brokerSpawner: `id` as another account and as its own,
 * stdin streamed through `cat`, concurrent spawns, kills, the pool policy (403.19), root (403.19), the per-worker
 * limit, a worker's death, and arbitrary malformed messages from the worker (fast-check) as well as Node-internal
 * commands and handles of its own, which never crash the launcher side and never start a process.
 */
import { after, before, describe, test } from 'node:test';
import { spawnRequest } from '../helpers/spawn-request.js';
import { requireRoot } from '../helpers/root.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { lookupOsAccount } from '../../src/identity/os-accounts.js';
import { setprivArgs, setprivSpawner, SETPRIV } from '../../src/identity/setpriv-spawner.js';
import type { OsAccount, ProcessExit, ProcessSpawner, SpawnRefusal, SpawnRequest } from '../../src/identity/spawn.js';
import { attachBroker, type AttachBrokerOptions, type BrokerEvent, type BrokerPolicy } from '../../src/server/broker.js';
import { BROKER_LIMITS, isValidId } from '../../src/server/broker-protocol.js';
import { createTestAccounts, idOf, testAccountName, type TestAccounts } from '../helpers/os-accounts.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'broker-worker.js');
const GROUP = testAccountName('bk', 'g');
const EXTRA = testAccountName('bk', 'x');
const POOL = testAccountName('bk', 'pool');
const USER = testAccountName('bk', 'user');
const WAIT_MS = 20_000;

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
  readonly line?: string;
  readonly results?: RunResult[];
}

function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** A spawner that records what reached it and passes everything to the real one. */
function recording(inner: ProcessSpawner): ProcessSpawner & { readonly calls: SpawnRequest[] } {
  const calls: SpawnRequest[] = [];
  return {
    calls,
    capability: inner.capability,
    spawn(request) {
      calls.push(request);
      return inner.spawn(request);
    },
  };
}

interface Worker {
  readonly child: ChildProcess;
  readonly ready: { uid: number; gid: number; groups: number[] };
  readonly stderr: () => string;
  ask(command: Record<string, unknown>): Promise<RunResult>;
  readonly spawner: ReturnType<typeof recording>;
  readonly events: BrokerEvent[];
  readonly detach: () => void;
}

const workers: ChildProcess[] = [];
let tags = 0;

/** Starts the worker program as `account` (setpriv, IPC channel on fd 3) and attaches the broker to it. */
async function startWorker(account: string, policy: Partial<BrokerPolicy> = {}, options: AttachBrokerOptions & { timeoutMs?: number; attach?: boolean } = {}): Promise<Worker> {
  const resolved = await lookupOsAccount(account);
  assert.ok(resolved, account);
  const argv = [WORKER, ...(options.timeoutMs ? [String(options.timeoutMs)] : [])];
  const child = spawn(SETPRIV, setprivArgs(resolved, process.execPath, argv, '/'), { stdio: ['pipe', 'pipe', 'pipe', 'ipc'], env: {} });
  workers.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  const spawner = recording(setprivSpawner());
  const events: BrokerEvent[] = [];
  const detach = options.attach === false ? () => undefined : attachBroker(child, spawner, { pool: 'TestPool', poolAccount: account, replaceProcessToken: true, ...policy }, { ...options, onEvent: (e) => events.push(e) });
  const waiting = new Map<string, (result: RunResult) => void>();
  let onReady!: (ready: Worker['ready']) => void;
  const readyMessage = new Promise<Worker['ready']>((resolve) => (onReady = resolve));
  child.on('message', (message: { test?: string; tag?: string } & RunResult & Worker['ready']) => {
    if (typeof message !== 'object' || message === null) return; // relayed junk, meant for the broker
    if (message.test === 'ready') onReady(message);
    if (message.test === 'result' && message.tag) waiting.get(message.tag)?.(message);
  });
  const ready = await within(readyMessage, `worker ready (stderr: ${stderr})`);
  return {
    child,
    ready,
    stderr: () => stderr,
    spawner,
    events,
    detach,
    ask(command) {
      const tag = (command.tag as string | undefined) ?? `t${++tags}`;
      const answer = new Promise<RunResult>((resolve) => waiting.set(tag, resolve));
      child.send({ tag, ...command });
      return within(answer, `worker answer to ${String(command.test)} (stderr: ${stderr})`);
    },
  };
}

const request = spawnRequest;

/** True once `pid` no longer runs (a zombie, left when a container has no reaper, counts as gone). */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return / Z /.test(stat.slice(stat.lastIndexOf(')')));
  } catch {
    return true;
  }
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('spawn broker (run as root)', () => {
  before(requireRoot);
  let accounts: TestAccounts | undefined;

  before(() => {
    accounts = createTestAccounts(
      [GROUP, EXTRA],
      [
        { name: POOL, group: GROUP, extraGroups: [] },
        { name: USER, group: GROUP, extraGroups: [EXTRA] },
      ],
    );
  });

  after(async () => {
    // Workers first (userdel refuses an account that still has processes); the broker kills what they started.
    await Promise.all(
      workers.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await within(exited, 'worker exit').catch(() => undefined);
      }),
    );
    accounts?.remove();
  });

  test('the worker runs as its pool account (uid, gid, groups) and its IPC channel survives setpriv', async () => {
    const worker = await startWorker(POOL);
    const pool = await lookupOsAccount(POOL);
    assert.equal(worker.ready.uid, pool!.uid);
    assert.equal(worker.ready.gid, pool!.gid);
    assert.deepEqual([...worker.ready.groups].sort(), [...pool!.groups].sort());
    worker.child.send({ test: 'exit' });
  });

  test('replaceProcessToken: the worker runs `id` as another account and as its own, with their groups', async () => {
    const worker = await startWorker(POOL, { replaceProcessToken: true });
    const asUser = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id') });
    assert.equal(asUser.refused, undefined, asUser.refused?.reason);
    assert.equal(asUser.stdout?.trim(), idOf(USER));
    assert.equal(asUser.account?.name, USER);
    assert.deepEqual(asUser.exit, { code: 0, signal: null });
    const asPool = await worker.ask({ test: 'run', request: request(POOL, '/usr/bin/id') });
    assert.equal(asPool.stdout?.trim(), idOf(POOL));
    assert.ok(worker.events.some((e) => e.kind === 'spawned' && e.account === USER));
    worker.child.send({ test: 'exit' });
  });

  test('without replaceProcessToken: another account is refused with 403.19 and the reason, its own account runs', async () => {
    const worker = await startWorker(POOL, { pool: 'NoTokenPool', replaceProcessToken: false });
    const other = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id') });
    assert.ok(other.refused);
    assert.equal(`${other.refused.status}.${other.refused.substatus}`, '403.19');
    assert.match(other.refused.reason, /^application pool NoTokenPool is not granted replaceProcessToken \(IIS: Replace a process level token\), so it cannot start CGI as the user/);
    assert.equal(worker.spawner.calls.length, 0, 'the refused request never reached the spawner');
    const own = await worker.ask({ test: 'run', request: request(POOL, '/usr/bin/id', ['-un']) });
    assert.equal(own.stdout, `${POOL}\n`);
    assert.equal(worker.spawner.calls.length, 1);
    worker.child.send({ test: 'exit' });
  });

  test('root is refused with 403.19 even for a pool with replaceProcessToken', async () => {
    const worker = await startWorker(POOL, { replaceProcessToken: true });
    const r = await worker.ask({ test: 'run', request: request('root', '/usr/bin/id') });
    assert.ok(r.refused);
    assert.equal(`${r.refused.status}.${r.refused.substatus}`, '403.19');
    assert.match(r.refused.reason, /uid 0/);
    worker.child.send({ test: 'exit' });
  });

  test('stdin is streamed to the process and its output back, worker to process directly (2 MiB through cat)', async () => {
    const worker = await startWorker(POOL);
    const r = await worker.ask({ test: 'run', request: request(USER, '/bin/cat'), stdinBytes: 2 * 1024 * 1024 });
    assert.equal(r.stdoutLength, 2 * 1024 * 1024);
    assert.equal(r.stdoutSha256, r.stdinSha256);
    worker.child.send({ test: 'exit' });
  });

  test('concurrent spawns: every one gets its own process and all of its output (written before the handles move)', async () => {
    const worker = await startWorker(POOL);
    // head writes at once: output the launcher read before passing the pipe would be lost (it was, before readStop).
    const { results } = await worker.ask({ test: 'many', count: 24, request: request(USER, '/usr/bin/head', ['-c', '300000', '/dev/zero']) });
    assert.equal(results?.length, 24);
    for (const r of results!) {
      assert.equal(r.refused, undefined, r.refused?.reason);
      assert.equal(r.stdoutLength, 300000);
      assert.deepEqual(r.exit, { code: 0, signal: null });
    }
    assert.equal(new Set(results!.map((r) => r.pid)).size, 24);
    // Programs that exit at once, while their handles still wait in the queue (Node destroys an exited child's
    // stdin socket: the broker must have taken the handle out before).
    for (let round = 0; round < 3; round++) {
      const quick = await worker.ask({ test: 'many', count: 32, request: request(USER, '/usr/bin/id', ['-un']) });
      for (const r of quick.results!) {
        assert.equal(r.refused, undefined, r.refused?.reason);
        assert.equal(r.stdout, `${USER}\n`);
      }
    }
    worker.child.send({ test: 'exit' });
  });

  test('killGroup from the worker kills the whole process group', async () => {
    const worker = await startWorker(POOL);
    const started = await worker.ask({ test: 'start', tag: 'sleeper', request: request(USER, '/bin/sh', ['-c', 'sleep 1000 & echo $!; wait']) });
    const sleeper = Number(started.line);
    assert.ok(Number.isInteger(sleeper) && sleeper > 0, String(started.line));
    assert.equal(processGone(sleeper), false);
    const killed = await worker.ask({ test: 'kill', tag: 'sleeper', signal: 'SIGKILL' });
    assert.equal(killed.exit?.signal, 'SIGKILL');
    await eventually(() => processGone(sleeper), `sleep ${sleeper} survived the kill`);
    worker.child.send({ test: 'exit' });
  });

  test('a worker can signal only its own processes', async () => {
    const owner = await startWorker(POOL);
    const intruder = await startWorker(POOL);
    const started = await owner.ask({ test: 'start', tag: 'victim', request: request(USER, '/bin/sh', ['-c', 'echo $$; exec sleep 1000']) });
    const pid = Number(started.line);
    // The owner's first request had id 1: the intruder names it, and a few more, in kill messages of its own.
    for (let id = 1; id <= 8; id++) await intruder.ask({ test: 'relay', message: { persona: 'broker', type: 'kill', id, signal: 'SIGKILL' } });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(processGone(pid), false, 'another worker killed the process');
    const killed = await owner.ask({ test: 'kill', tag: 'victim', signal: 'SIGTERM' });
    assert.equal(killed.exit?.signal, 'SIGTERM');
    owner.child.send({ test: 'exit' });
    intruder.child.send({ test: 'exit' });
  });

  test('when a worker dies, every process it started is killed', async () => {
    const worker = await startWorker(POOL);
    const started = await worker.ask({ test: 'start', tag: 'orphan', request: request(USER, '/bin/sh', ['-c', 'sleep 1000 & echo $!; wait']) });
    const sleeper = Number(started.line);
    assert.equal(processGone(sleeper), false);
    worker.child.kill('SIGKILL');
    await eventually(() => processGone(sleeper), `sleep ${sleeper} outlived its worker`);
  });

  test('the number of live processes per worker is bounded (503.2 beyond it)', async () => {
    const worker = await startWorker(POOL, {}, { maxLiveProcesses: 2 });
    await worker.ask({ test: 'start', tag: 'one', request: request(USER, '/bin/sh', ['-c', 'echo 1; exec sleep 1000']) });
    await worker.ask({ test: 'start', tag: 'two', request: request(USER, '/bin/sh', ['-c', 'echo 2; exec sleep 1000']) });
    const third = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id') });
    assert.ok(third.refused);
    assert.equal(`${third.refused.status}.${third.refused.substatus}`, '503.2');
    await worker.ask({ test: 'kill', tag: 'one', signal: 'SIGKILL' });
    const after = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un']) });
    assert.equal(after.stdout, `${USER}\n`);
    await worker.ask({ test: 'kill', tag: 'two', signal: 'SIGKILL' });
    assert.equal(BROKER_LIMITS.maxLiveProcesses, 256);
    worker.child.send({ test: 'exit' });
  });

  test('a launcher that never answers: the spawn is refused with 500 after the timeout', async () => {
    const worker = await startWorker(POOL, {}, { attach: false, timeoutMs: 300 });
    const r = await worker.ask({ test: 'run', request: request(POOL, '/usr/bin/id') });
    assert.ok(r.refused);
    assert.equal(r.refused.status, 500);
    assert.match(r.refused.reason, /did not answer within 300 ms/);
    worker.child.send({ test: 'exit' });
  });

  test('arbitrary and malformed messages from a worker never crash the launcher side and never start a process', async () => {
    const worker = await startWorker(POOL, { replaceProcessToken: true });
    const valid = request(USER, '/usr/bin/id');
    const notAString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));
    const badPath = fc.oneof(notAString, fc.string().filter((s) => !s.startsWith('/')), fc.string().map((s) => `/${s}\0x`));
    const badId = fc.oneof(notAString, fc.constantFrom(0, -1, 1.5, 2 ** 31, Number.MAX_SAFE_INTEGER), fc.string()).filter((id) => !isValidId(id));
    const corrupted = fc.oneof(
      fc.record({ file: badPath }),
      fc.record({ cwd: badPath }),
      fc.record({ account: fc.oneof(notAString, fc.constantFrom('', '-rf', 'a b', 'x:y', '../etc', 'a'.repeat(40))) }),
      fc.record({ args: fc.oneof(notAString.filter((v) => !Array.isArray(v)), fc.array(fc.oneof(notAString, fc.string().map((s) => `${s}\0`)), { minLength: 1, maxLength: 3 }).filter((a) => a.some((x) => typeof x !== 'string' || x.includes('\0')))) }),
      fc.record({ env: fc.oneof(fc.constant(null), fc.array(fc.string()), fc.constant({ 'A=B': 'x' }), fc.constant({ '': 'x' }), fc.dictionary(fc.string({ minLength: 1 }).filter((k) => !k.includes('=') && !k.includes('\0')), fc.oneof(fc.integer(), fc.constant(null)), { minKeys: 1, maxKeys: 2 })) }),
      fc.record({ purpose: fc.oneof(notAString, fc.constant('p'.repeat(BROKER_LIMITS.maxPurposeChars + 1))) }),
      fc.record({ extra: fc.jsonValue() }),
    );
    const nodeInternal = fc.record({ cmd: fc.constantFrom('NODE_HANDLE_ACK', 'NODE_HANDLE_NACK', 'NODE_HANDLE', 'NODE_CLUSTER', 'NODE_X'), type: fc.jsonValue(), msg: fc.jsonValue() }, { requiredKeys: ['cmd'] });
    const message = fc.oneof(
      fc.jsonValue(),
      nodeInternal,
      fc.record({ persona: fc.constant('broker'), type: fc.oneof(fc.string(), fc.constant('spawn'), fc.constant('kill')), id: fc.oneof(fc.integer(), badId), request: fc.jsonValue() }, { requiredKeys: ['persona'] }),
      fc.record({ persona: fc.constant('broker'), type: fc.constant('spawn'), id: fc.integer({ min: 1, max: 1000 }), request: corrupted.map((c) => ({ ...valid, ...c })) }),
      fc.record({ persona: fc.constant('broker'), type: fc.constant('spawn'), id: badId, request: fc.constant(valid) }),
      fc.record({ persona: fc.constant('broker'), type: fc.constant('spawn'), id: fc.integer({ min: 1, max: 1000 }), request: fc.constant(valid), extra: fc.jsonValue() }),
      fc.record({ persona: fc.constant('broker'), type: fc.constant('kill'), id: fc.oneof(fc.integer(), badId), signal: fc.oneof(fc.string(), notAString) }),
    );
    await fc.assert(
      fc.asyncProperty(message, async (m) => {
        // The worker sends it verbatim over its IPC channel; its answer comes after the broker has seen it.
        await worker.ask({ test: 'relay', message: m });
        assert.equal(worker.spawner.calls.length, 0, `a process was started for ${JSON.stringify(m).slice(0, 300)}`);
      }),
      { numRuns: 300 },
    );
    // A too large request as well.
    await worker.ask({ test: 'relay', message: { persona: 'broker', type: 'spawn', id: 7, request: { ...valid, args: ['x'.repeat(BROKER_LIMITS.maxStringBytes + 1)] } } });
    assert.equal(worker.spawner.calls.length, 0);
    assert.ok(worker.events.some((e) => e.kind === 'invalid-message'));
    // The launcher side is still up and serving this worker.
    const ok = await worker.ask({ test: 'run', request: request(USER, '/usr/bin/id', ['-un']) });
    assert.equal(ok.stdout, `${USER}\n`);
    assert.equal(worker.spawner.calls.length, 1);
    worker.child.send({ test: 'exit' });
  });

  test('Node-internal commands and handles from a worker neither crash the launcher nor leak its descriptors', async () => {
    const worker = await startWorker(POOL, { replaceProcessToken: true });
    const descriptors = (): number => readdirSync('/proc/self/fd').length;
    const before = descriptors();
    // Without attachBroker's guard, the first of these throws inside Node in this (the launcher's) process.
    await worker.ask({ test: 'hostile' });
    await eventually(() => descriptors() <= before + 1, `the launcher kept the worker's handles: ${descriptors()} descriptors, ${before} before`);
    assert.equal(worker.spawner.calls.length, 0);
    // And handles still flow the other way afterwards.
    const ok = await worker.ask({ test: 'run', request: request(USER, '/bin/cat'), stdin: 'still here' });
    assert.equal(ok.stdout, 'still here');
    worker.child.send({ test: 'exit' });
  });
});
