/**
 * Crash safety, for real: a child process writes to the store in a loop and is killed with SIGKILL at a random moment,
 * several rounds on the same database. After each kill the database must pass integrity_check and every account must
 * be whole: everything the child logged as committed is there, and whatever else exists is complete too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openAccountStore } from '../../src/accounts/store.js';
import { WellKnownSid } from '../../src/security/sid.js';
import { CHEAP, MACHINE, tempDir } from './fixture.js';
import { crashDescriptor } from './crash-descriptor.js';

const WRITER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-writer.js');
const ROUNDS = 12;

/**
 * Runs one writer and SIGKILLs it `ms` milliseconds after it is ready (or after the spawn, when `fromSpawn`: then the
 * kill may land during the first open); resolves with how it ended and what it printed on stderr.
 */
function runAndKill(file: string, side: string, ms: number, fromSpawn: boolean): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, file, side], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), ms);
    };
    if (fromSpawn) arm();
    child.stdout.setEncoding('utf8').on('data', arm);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ signal, code, stderr });
    });
  });
}

interface Logged {
  readonly passwords: Map<string, number>;
  readonly members: [string, string][];
  readonly groups: string[];
  readonly acls: string[];
}

/** The complete lines of the side file (a kill may cut the last one). */
function readLog(side: string): Logged {
  const logged: Logged = { passwords: new Map(), members: [], groups: [], acls: [] };
  if (!existsSync(side)) return logged;
  const text = readFileSync(side, 'utf8');
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean);
  for (const line of lines) {
    const [kind, a, b] = line.split(' ') as [string, string, string];
    if (kind === 'user' || kind === 'pw') logged.passwords.set(a, Number(b));
    else if (kind === 'member') logged.members.push([a, b]);
    else if (kind === 'group') logged.groups.push(a);
    else if (kind === 'acl') logged.acls.push(a);
  }
  return logged;
}

async function checkWhole(file: string, side: string): Promise<number> {
  // 1. The file itself: integrity and foreign keys, from a plain connection.
  const raw = new Database(file);
  try {
    assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
    assert.deepEqual(raw.pragma('foreign_key_check'), []);
    if (raw.pragma('user_version', { simple: true }) === 0) {
      // Killed during the first open: the schema and the seed are one transaction, so nothing of it may be there.
      assert.equal((raw.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n, 0, 'half-created schema');
      return 0;
    }
    const orphans = raw
      .prepare(
        `SELECT p.sid FROM principals p WHERE p.kind = 'user' AND (
           NOT EXISTS (SELECT 1 FROM users u WHERE u.sid = p.sid) OR
           NOT EXISTS (SELECT 1 FROM verifiers v WHERE v.sid = p.sid AND v.kind = 'password'))`,
      )
      .all();
    assert.deepEqual(orphans, [], 'user principals without their user row or verifier');
  } finally {
    raw.close();
  }
  // 2. Through the store: what was logged is there; whatever exists is whole.
  const store = openAccountStore(file, MACHINE, CHEAP);
  try {
    const logged = readLog(side);
    for (const name of logged.passwords.keys()) assert.ok(store.findUser(name), `logged user ${name} exists`);
    for (const user of store.listUsers()) {
      const v = logged.passwords.get(user.name) ?? 0;
      // A kill between the commit and the log line leaves the next version in the database.
      const ok = (await store.verifyPassword(user, `${user.name}#${v}`)) || (await store.verifyPassword(user, `${user.name}#${v + 1}`));
      assert.ok(ok, `${user.name} verifies with version ${v} or ${v + 1}`);
      assert.ok(store.groupsOf(user.sid).some((g) => g.sid === WellKnownSid.Users), `${user.name} is in Users`);
      assert.equal(user.fullName, `User ${user.name.slice(user.name.lastIndexOf('u') + 1)}`);
      assert.ok(store.currentStamp(user.sid));
    }
    for (const [group, name] of logged.members) assert.ok(store.members(group).some((u) => u.name === name), `${name} in ${group}`);
    for (const group of logged.groups) assert.ok(store.findGroup(group), `group ${group}`);
    for (const p of logged.acls) assert.deepEqual(store.getDescriptor(p), crashDescriptor(Number(p.slice(p.lastIndexOf('/') + 1))));
    for (const { path: p, descriptor } of store.listDescriptors()) assert.deepEqual(descriptor, crashDescriptor(Number(p.slice(p.lastIndexOf('/') + 1))));
    return logged.passwords.size;
  } finally {
    store.close();
  }
}

test('SIGKILL at random moments never leaves a half-written account', { timeout: 120_000 }, async () => {
  const dir = tempDir('crash');
  try {
    const file = path.join(dir, 'accounts.db');
    const side = path.join(dir, 'committed.log');
    let killed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // The first round may die before or during the first open (schema creation); later ones mid-loop.
      const r = round === 0 ? await runAndKill(file, side, Math.random() * 600, true) : await runAndKill(file, side, Math.random() * 400, false);
      assert.equal(r.stderr, '', `writer failed:\n${r.stderr}`);
      assert.equal(r.signal, 'SIGKILL', `writer ended by ${r.signal ?? `exit ${r.code}`}, not by the kill`);
      killed++;
      if (existsSync(file)) await checkWhole(file, side);
    }
    const users = await checkWhole(file, side);
    assert.equal(killed, ROUNDS);
    assert.ok(users >= 5 * ROUNDS, `the writers committed too little to prove anything (${users} users)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
