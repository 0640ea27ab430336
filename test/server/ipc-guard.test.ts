/**
 * guardInternalMessages (src/server/ipc-guard.ts): the launcher keeps a Node IPC channel with each worker, which runs
 * as a less privileged account and may be compromised. Node handles "NODE_" commands itself, before any listener, and
 * two of them crash the receiving process; handles sent to it would stay open in it. The guard uses Node internals,
 * so this test sends exactly those messages from a real child process: a Node that changes them fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { guardInternalMessages } from '../../src/server/ipc-guard.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const WORKER = path.join(here, 'fixtures', 'ipc-hostile-worker.js');
const GUARD = path.join(here, '../../src/server/ipc-guard.js');
const WAIT_MS = 20_000;

function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

function nextMessage(child: ChildProcess, test: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const listener = (message: Record<string, unknown>): void => {
      if (message?.test !== test) return;
      child.off('message', listener);
      resolve(message);
    };
    child.on('message', listener);
  });
}

const descriptors = (): number => readdirSync('/proc/self/fd').length;

test('Node-internal commands and handles from a worker neither crash the launcher nor leak its descriptors', { timeout: 30_000 }, async () => {
  const child = spawn(process.execPath, [WORKER], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  guardInternalMessages(child);
  guardInternalMessages(child); // twice is once
  const received: unknown[] = [];
  child.on('message', (message: unknown, handle: unknown) => received.push({ message, handle: handle !== undefined }));
  await within(nextMessage(child, 'ready'), 'worker ready');
  try {
    const before = descriptors();
    // Without the guard, the first of these throws inside Node in this (the launcher's) process.
    const done = nextMessage(child, 'done');
    child.send({ test: 'hostile' });
    await within(done, `hostile messages (stderr: ${stderr})`);
    const start = Date.now();
    while (descriptors() > before && Date.now() - start < WAIT_MS) await new Promise((r) => setTimeout(r, 20));
    assert.ok(descriptors() <= before, `the launcher kept the worker's handles: ${descriptors()} descriptors, ${before} before`);
    // Every handle the worker sent (3 a round) arrived relabelled, its message replaced: none reached a listener as sent.
    const relabelled = received.filter((r) => JSON.stringify(r) === JSON.stringify({ message: { persona: 'ipc-guard', type: 'unexpected-handle' }, handle: true }));
    assert.equal(relabelled.length, 30, JSON.stringify(received.slice(0, 5)));
    assert.ok(!received.some((r) => /launcher|hello|bogus/.test(JSON.stringify(r))), JSON.stringify(received));
    // And handles still flow the other way (the launcher sends listening sockets to its worker).
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const answer = nextMessage(child, 'handle');
    child.send({ test: 'handle' }, server);
    assert.deepEqual(await within(answer, 'handle to the worker'), { test: 'handle', received: true, listening: true });
    server.close();
    assert.equal(child.exitCode, null, `the worker died: ${stderr}`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('the same messages do crash a launcher without the guard (so the test above tests something)', { timeout: 30_000 }, () => {
  // A small launcher in a process of its own: it starts the hostile worker and, if asked, guards the channel.
  const launcher = (guarded: boolean): string => `
    import { spawn } from 'node:child_process';
    import { guardInternalMessages } from ${JSON.stringify(GUARD)};
    const child = spawn(process.execPath, [${JSON.stringify(WORKER)}], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    if (${guarded}) guardInternalMessages(child);
    child.on('message', (m) => {
      if (m?.test === 'ready') child.send({ test: 'hostile' });
      if (m?.test === 'done') { console.log('survived'); child.kill('SIGKILL'); }
    });`;
  const run = (guarded: boolean) => spawnSync(process.execPath, ['--input-type=module', '-e', launcher(guarded)], { encoding: 'utf8', timeout: 20_000 });
  const unguarded = run(false);
  assert.notEqual(unguarded.status, 0, 'an unguarded launcher survived: Node may have changed (then the guard may be unneeded)');
  assert.doesNotMatch(unguarded.stdout, /survived/);
  assert.match(unguarded.stderr, /ERR_INTERNAL_ASSERTION|TypeError/);
  const guarded = run(true);
  assert.equal(guarded.stdout.trim(), 'survived', guarded.stderr);
  assert.equal(guarded.status, 0);
});
