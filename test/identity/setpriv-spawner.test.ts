/**
 * setprivSpawner for real (as root, as CI runs the suite): processes run with exactly the account's uid, gid and
 * supplementary groups and no capabilities, with only the environment passed, enter their working directory as the
 * account, and die with their whole process group. Root and unknown accounts are refused with the reason.
 */
import { after, before, describe, test } from 'node:test';
import { spawnRequest } from '../helpers/spawn-request.js';
import { requireRoot } from '../helpers/root.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lookupOsAccount } from '../../src/identity/os-accounts.js';
import { setprivArgs, setprivSpawner, SETPRIV } from '../../src/identity/setpriv-spawner.js';
import { isSpawnRefusal, type SpawnedProcess, type SpawnRefusal } from '../../src/identity/spawn.js';
import { createTestAccounts, idOf, testAccountName, type TestAccounts } from '../helpers/os-accounts.js';

const GROUP = testAccountName('sp', 'g');
const EXTRA = testAccountName('sp', 'x');
const ALICE = testAccountName('sp', 'alice');
const BOB = testAccountName('sp', 'bob');
const WAIT_MS = 20_000;

const request = spawnRequest;

function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Runs to completion: stdout, stderr and how it ended. */
async function run(child: SpawnedProcess | SpawnRefusal, input = ''): Promise<{ stdout: string; stderr: string; code: number | null; signal: string | null }> {
  assert.ok(!isSpawnRefusal(child), isSpawnRefusal(child) ? child.reason : '');
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = Promise.all([new Promise((r) => child.stdout.on('end', r)), new Promise((r) => child.stderr.on('end', r))]);
  child.stdin.on('error', () => undefined); // EPIPE: a program that exits without reading (id) — as with child_process
  child.stdin.end(input);
  const [exit] = await within(Promise.all([child.exited, closed]), 'process');
  return { stdout, stderr, code: exit.code, signal: exit.signal };
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

describe('setprivSpawner (run as root)', () => {
  before(requireRoot);
  let accounts: TestAccounts | undefined;
  let dir: string;

  before(async () => {
    accounts = createTestAccounts(
      [GROUP, EXTRA],
      [
        { name: ALICE, group: GROUP, extraGroups: [EXTRA] },
        { name: BOB, group: GROUP, extraGroups: [] },
      ],
    );
    dir = await mkdtemp(path.join(os.tmpdir(), 'persona-setpriv-'));
    await chmod(dir, 0o755);
  });

  after(async () => {
    accounts?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the process has exactly the account uid, gid and supplementary groups (id vs id NAME)', async () => {
    const spawner = setprivSpawner();
    assert.equal(spawner.capability.canSwitchAccounts, true);
    for (const name of [ALICE, BOB]) {
      const child = await spawner.spawn(request(name, '/usr/bin/id'));
      const expected = await lookupOsAccount(name);
      assert.ok(!isSpawnRefusal(child) && expected);
      assert.deepEqual(child.account, expected);
      const out = await run(child);
      assert.equal(out.stdout.trim(), idOf(name));
      assert.equal(out.code, 0);
    }
    // The extra group is really there (Node's spawn({uid, gid}) would have dropped it).
    const groups = await run(await spawner.spawn(request(ALICE, '/usr/bin/id', ['-Gn'])));
    assert.deepEqual(groups.stdout.trim().split(' ').sort(), [EXTRA, GROUP].sort());
  });

  test('no capabilities: permitted, effective, inheritable and ambient sets are empty', async () => {
    const out = await run(await setprivSpawner().spawn(request(ALICE, '/bin/cat', ['/proc/self/status'])));
    const caps = Object.fromEntries(
      out.stdout
        .split('\n')
        .filter((l) => l.startsWith('Cap'))
        .map((l) => l.split(':\t') as [string, string]),
    );
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) assert.equal(caps[set], '0000000000000000', `${set}: ${caps[set]}`);
    assert.match(out.stdout, /^Uid:\t(\d+)\t\1\t\1\t\1$/m, 'real, effective, saved and filesystem uid are the same');
  });

  test('the environment is exactly the one passed: nothing of the launcher, nothing added', async () => {
    const env = { ONLY: 'this', SPACED: 'a b\nc', EMPTY: '' };
    const out = await run(await setprivSpawner().spawn(request(BOB, '/usr/bin/env', ['-0'], { env })));
    const seen = Object.fromEntries(
      out.stdout
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    assert.deepEqual(seen, env);
  });

  test('stdin is streamed to the process and its output back', async () => {
    const input = 'x'.repeat(300_000) + '\nend\n';
    const out = await run(await setprivSpawner().spawn(request(BOB, '/bin/cat')), input);
    assert.equal(out.stdout, input);
  });

  test('the working directory is entered as the account: a directory it cannot reach is not entered for it', async () => {
    const locked = path.join(dir, 'locked');
    const inner = path.join(locked, 'inner');
    await mkdir(inner, { recursive: true });
    await chmod(locked, 0o700); // root only: the account cannot search it…
    await chmod(inner, 0o755); // …even though the directory itself would be open to it
    await writeFile(path.join(inner, 'secret'), 'not for bob');
    const denied = await run(await setprivSpawner().spawn(request(BOB, '/bin/cat', ['secret'], { cwd: inner })));
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /cannot change directory/);
    assert.equal(denied.stdout, '');
    const open = path.join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o755);
    const allowed = await run(await setprivSpawner().spawn(request(BOB, '/bin/pwd', [], { cwd: open })));
    assert.equal(allowed.stdout.trim(), open);
  });

  test('a program whose path contains "=" is run, not taken for an environment assignment', async () => {
    const sub = path.join(dir, 'a=b');
    await mkdir(sub);
    await chmod(sub, 0o755);
    const script = path.join(sub, 'x=y.sh');
    await writeFile(script, '#!/bin/sh\necho "args:$1:$2"\n');
    await chmod(script, 0o755);
    const out = await run(await setprivSpawner().spawn(request(BOB, script, ['one', 'two=2'], { cwd: sub })));
    assert.equal(out.stdout, 'args:one:two=2\n');
    assert.deepEqual(setprivArgs({ name: BOB, uid: 1, gid: 2, groups: [2], home: '/' }, script, ['a'], '/').slice(-4), [SETPRIV, '--', script, 'a']);
  });

  test('killGroup kills the whole process group, also what the program started in the background', async () => {
    const child = await setprivSpawner().spawn(request(ALICE, '/bin/sh', ['-c', 'sleep 1000 & echo $!; wait']));
    assert.ok(!isSpawnRefusal(child));
    child.stdin.end();
    child.stderr.resume();
    const sleeper = await within(
      new Promise<number>((resolve) => {
        let text = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          text += d;
          if (text.includes('\n')) resolve(Number(text.trim()));
        });
      }),
      'background pid',
    );
    assert.ok(Number.isInteger(sleeper) && sleeper > 0);
    const status = await readFile(`/proc/${sleeper}/status`, 'utf8');
    const account = await lookupOsAccount(ALICE);
    assert.match(status, new RegExp(`^Uid:\\t${account!.uid}\\t`, 'm'), 'the background child runs as the account too');
    child.killGroup();
    const exit = await within(child.exited, 'exit');
    assert.equal(exit.signal, 'SIGKILL');
    const deadline = Date.now() + WAIT_MS;
    while (!processGone(sleeper) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(processGone(sleeper), `sleep ${sleeper} survived killGroup`);
  });

  test('root (uid 0) is always refused with 403.19, whatever the policy', async () => {
    const r = await setprivSpawner({ refuse: () => undefined }).spawn(request('root', '/usr/bin/id'));
    assert.ok(isSpawnRefusal(r));
    assert.equal(`${r.status}.${r.substatus}`, '403.19');
    assert.match(r.reason, /uid 0.*no request code ever runs as root/);
  });

  test('an unknown account is a 500 refusal naming it', async () => {
    const r = await setprivSpawner().spawn(request(testAccountName('sp', 'nobody-here'), '/usr/bin/id'));
    assert.ok(isSpawnRefusal(r));
    assert.equal(r.status, 500);
    assert.match(r.reason, /unknown to NSS/);
  });

  test('the refuse option refuses resolved accounts with 403.19 and its reason', async () => {
    const spawner = setprivSpawner({ refuse: (account) => (account.groups.length > 1 ? 'accounts with supplementary groups are not mapped here' : undefined) });
    const refused = await spawner.spawn(request(ALICE, '/usr/bin/id'));
    assert.ok(isSpawnRefusal(refused));
    assert.equal(`${refused.status}.${refused.substatus}`, '403.19');
    assert.match(refused.reason, /supplementary groups are not mapped/);
    const allowed = await run(await spawner.spawn(request(BOB, '/usr/bin/id', ['-un'])));
    assert.equal(allowed.stdout.trim(), BOB);
  });

  test('relative paths are refused (the environment has no PATH to resolve them with)', async () => {
    const r = await setprivSpawner().spawn(request(BOB, 'id'));
    assert.ok(isSpawnRefusal(r));
    assert.match(r.reason, /absolute/);
  });

  test('constructing it without root is a programming error: it throws', async () => {
    const module = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/identity/setpriv-spawner.js');
    const script = `import(${JSON.stringify(module)}).then((m) => { try { m.setprivSpawner(); console.log('constructed'); } catch (e) { console.log('threw: ' + e.message); } })`;
    const r = spawnSync(SETPRIV, ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: WAIT_MS });
    assert.match(r.stdout, /^threw: setprivSpawner: Persona is not running as root/, r.stderr);
  });
});
