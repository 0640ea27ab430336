/**
 * The NT hash verifier (issue 4): stored exactly while NTLM is enabled for an account, written in the same transaction
 * as the password it is made from, readable only through ntHashOf, and never part of a record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import type { SqliteAccountStore } from '../../src/accounts/store.js';
import { ntHash } from '../../src/auth/ntlm/md4.js';
import { tempStore, withStore, type TempStore } from './fixture.js';


/** The rows of the verifiers table for one account, read with a separate raw connection (not through the store). */
function rawVerifiers(t: TempStore, sid: string): Record<string, string> {
  const raw = new Database(t.file, { readonly: true });
  try {
    const rows = raw.prepare(`SELECT kind, value FROM verifiers WHERE sid = ?`).all(sid) as { kind: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.kind, r.value]));
  } finally {
    raw.close();
  }
}

function stampOf(store: SqliteAccountStore, name: string): number {
  return store.currentStamp(store.findUser(name)!.sid)!.user;
}

test(
  'NTLM is off by default: no NT hash is stored',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1' });
    assert.equal(alice.ntlmEnabled, false);
    assert.equal(store.ntHashOf(alice.sid), undefined);
    assert.deepEqual(Object.keys(rawVerifiers(t, alice.sid)), ['password']);
    await store.setPassword('alice', 'Alice-pw-2');
    assert.deepEqual(Object.keys(rawVerifiers(t, alice.sid)), ['password']);
    assert.equal(store.findUser('alice')!.ntlmEnabled, false);
  }),
);

test(
  'createUser with ntlm stores the NT hash of the password (MS-NLMP §4.2.2.1.2 vector) as lowercase hex',
  withStore(async (store, t) => {
    const user = await store.createUser({ name: 'alice', password: 'Password', ntlm: true });
    assert.equal(user.ntlmEnabled, true);
    // NTOWFv1("Password") from MS-NLMP §4.2.2.1.2, independent of our MD4 code.
    assert.equal(store.ntHashOf(user.sid)?.toString('hex'), 'a4f49c406510bdcab6824ee7c30fd852');
    assert.equal(rawVerifiers(t, user.sid).nt, 'a4f49c406510bdcab6824ee7c30fd852');
    // Another connection (another process) sees the same.
    assert.deepEqual(t.reopen().ntHashOf(user.sid), ntHash('Password'));
  }),
);

test(
  'setPassword replaces the NT hash of an enabled account, enables it with { ntlm: true }, and bumps the stamp once',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', ntlm: true });
    const bob = await store.createUser({ name: 'bob', password: 'Bob-pw-1' });
    let stamp = stampOf(store, 'alice');
    const bobStamp = stampOf(store, 'bob');
    await store.setPassword('alice', 'Alice-pw-2');
    assert.deepEqual(store.ntHashOf(alice.sid), ntHash('Alice-pw-2'));
    assert.ok(stampOf(store, 'alice') > stamp);
    assert.equal(stampOf(store, 'bob'), bobStamp);

    // { ntlm: false } does not turn it off: only disableNtlm does (the option means "also enable").
    stamp = stampOf(store, 'alice');
    await store.setPassword('alice', 'Alice-pw-3', { ntlm: false });
    assert.deepEqual(store.ntHashOf(alice.sid), ntHash('Alice-pw-3'));
    assert.equal(stampOf(store, 'alice'), stamp + 1);

    await store.setPassword('bob', 'Bob-pw-2', { ntlm: true });
    assert.equal(store.findUser('bob')!.ntlmEnabled, true);
    assert.deepEqual(store.ntHashOf(bob.sid), ntHash('Bob-pw-2'));
    assert.equal(rawVerifiers(t, bob.sid).nt, ntHash('Bob-pw-2').toString('hex'));
    assert.ok(stampOf(store, 'bob') > bobStamp);
    assert.equal(await store.verifyPassword(store.findUser('bob')!, 'Bob-pw-2'), true);
  }),
);

test(
  'disableNtlm deletes the verifier row, clears the switch and bumps the stamp; again, it changes nothing',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', ntlm: true });
    const other = t.reopen();
    const stamp = stampOf(store, 'alice');
    store.disableNtlm('ALICE'); // names compare case-insensitively
    assert.deepEqual(Object.keys(rawVerifiers(t, alice.sid)), ['password']);
    assert.equal(store.findUser('alice')!.ntlmEnabled, false);
    assert.equal(other.ntHashOf(alice.sid), undefined);
    assert.equal(other.findUser('alice')!.ntlmEnabled, false);
    assert.equal(stampOf(store, 'alice'), stamp + 1);
    store.disableNtlm('alice');
    assert.equal(stampOf(store, 'alice'), stamp + 1);
    // A later password change does not bring it back.
    await store.setPassword('alice', 'Alice-pw-2');
    assert.deepEqual(Object.keys(rawVerifiers(t, alice.sid)), ['password']);
    assert.throws(() => store.disableNtlm('nobody'), /no user named "nobody"/);
    // The password itself is untouched by disabling NTLM.
    assert.equal(await store.verifyPassword(store.findUser('alice')!, 'Alice-pw-2'), true);
  }),
);

test(
  'NTLM turned off by another process while a password is being hashed stays off (the switch is read under the lock)',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', ntlm: true });
    const other = t.reopen();
    const pending = store.setPassword('alice', 'Alice-pw-2'); // the slow hash runs off the main thread
    other.disableNtlm('alice');
    await pending;
    assert.equal(store.ntHashOf(alice.sid), undefined);
    assert.deepEqual(Object.keys(rawVerifiers(t, alice.sid)), ['password']);
    assert.equal(await store.verifyPassword(store.findUser('alice')!, 'Alice-pw-2'), true);
  }),
);

/** Makes every write of one verifier kind fail, in the real database, with a trigger (the SQL-level failure). */
function breakWritesOf(t: TempStore, kind: string): void {
  const raw = new Database(t.file);
  try {
    raw.exec(`
      CREATE TRIGGER fail_insert_${kind} BEFORE INSERT ON verifiers WHEN NEW.kind = '${kind}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
      CREATE TRIGGER fail_update_${kind} BEFORE UPDATE ON verifiers WHEN NEW.kind = '${kind}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
    `);
  } finally {
    raw.close();
  }
}

test(
  'a setPassword that fails writing the NT hash leaves the password, the NT hash, the flags and the stamp unchanged',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', ntlm: true, mustChangePassword: true });
    const before = { record: store.findUser('alice'), rows: rawVerifiers(t, alice.sid), stamp: stampOf(store, 'alice') };
    breakWritesOf(t, 'nt');
    await assert.rejects(store.setPassword('alice', 'Alice-pw-2'), /injected failure/);
    assert.deepEqual(store.findUser('alice'), before.record);
    assert.deepEqual(rawVerifiers(t, alice.sid), before.rows);
    assert.equal(stampOf(store, 'alice'), before.stamp);
    assert.deepEqual(store.ntHashOf(alice.sid), ntHash('Alice-pw-1'));
    assert.equal(await store.verifyPassword(store.findUser('alice')!, 'Alice-pw-1'), true);
    assert.equal(await store.verifyPassword(store.findUser('alice')!, 'Alice-pw-2'), false);
  }),
);

test(
  'a setPassword that fails writing the slow hash leaves the NT hash unchanged; enabling NTLM then does not happen',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', ntlm: true });
    const bob = await store.createUser({ name: 'bob', password: 'Bob-pw-1' });
    const rows = { alice: rawVerifiers(t, alice.sid), bob: rawVerifiers(t, bob.sid) };
    breakWritesOf(t, 'password');
    await assert.rejects(store.setPassword('alice', 'Alice-pw-2'), /injected failure/);
    await assert.rejects(store.setPassword('bob', 'Bob-pw-2', { ntlm: true }), /injected failure/);
    assert.deepEqual(rawVerifiers(t, alice.sid), rows.alice);
    assert.deepEqual(rawVerifiers(t, bob.sid), rows.bob);
    assert.equal(store.findUser('bob')!.ntlmEnabled, false);
    assert.equal(store.ntHashOf(bob.sid), undefined);
  }),
);

test(
  'a createUser with ntlm whose NT hash cannot be written creates nothing',
  withStore(async (store, t) => {
    breakWritesOf(t, 'nt');
    await assert.rejects(store.createUser({ name: 'alice', password: 'Alice-pw-1', ntlm: true }), /injected failure/);
    assert.equal(store.findUser('alice'), undefined);
    assert.deepEqual(store.listUsers(), []);
    // Without NTLM the same account can be created: the failure was the NT hash's alone.
    assert.equal((await store.createUser({ name: 'alice', password: 'Alice-pw-1' })).ntlmEnabled, false);
  }),
);

test(
  'the ntlm option must be a boolean, checked before anything changes',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1' });
    const stamp = stampOf(store, 'alice');
    await assert.rejects(store.setPassword('alice', 'Alice-pw-2', { ntlm: 'true' as unknown as boolean }), /ntlm option must be true or false/);
    await assert.rejects(store.createUser({ name: 'bob', password: 'Bob-pw-1', ntlm: 1 as unknown as boolean }), /ntlm option must be true or false/);
    assert.equal(stampOf(store, 'alice'), stamp);
    assert.equal(store.findUser('bob'), undefined);
    assert.equal(await store.verifyPassword(store.findUser('alice')!, 'Alice-pw-1'), true);
    assert.deepEqual(Object.keys(rawVerifiers(t, alice.sid)), ['password']);
  }),
);

test(
  'no record, list or membership carries the NT hash; ntHashOf answers undefined for unknown SIDs and malformed rows',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', ntlm: true });
    const hex = ntHash('Alice-pw-1').toString('hex');
    const everything = JSON.stringify([store.findUser('alice'), store.findUserBySid(alice.sid), store.listUsers(), store.members('Users')]);
    assert.ok(!everything.toLowerCase().includes(hex), 'a record carries the NT hash');
    assert.ok(!everything.includes('$scrypt$'), 'a record carries the password verifier');
    for (const record of [store.findUser('alice')!, ...store.listUsers(), ...store.members('Users')]) {
      for (const value of Object.values(record)) assert.ok(!Buffer.isBuffer(value), 'a record carries a Buffer');
    }
    assert.equal(store.ntHashOf('S-1-5-21-1111-2222-3333-4242'), undefined);
    assert.equal(store.ntHashOf(store.findGroup('Users')!.sid), undefined);
    const raw = new Database(t.file);
    try {
      raw.prepare(`UPDATE verifiers SET value = 'not hex' WHERE sid = ? AND kind = 'nt'`).run(alice.sid);
    } finally {
      raw.close();
    }
    assert.equal(store.ntHashOf(alice.sid), undefined);
  }),
);

test('property: after any sequence of password changes and disables, the switch and ntHashOf follow a simple model', async () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('passwd' as const), password: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }), ntlm: fc.option(fc.boolean(), { nil: undefined }) }),
    fc.record({ kind: fc.constant('disable' as const) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(op, { maxLength: 6 }), async (initially, ops) => {
      const t = tempStore();
      try {
        const { store } = t;
        const alice = await store.createUser({ name: 'alice', password: 'first-pw', ntlm: initially });
        let model: { enabled: boolean; password: string } = { enabled: initially, password: 'first-pw' };
        for (const o of ops) {
          if (o.kind === 'disable') {
            store.disableNtlm('alice');
            model = { ...model, enabled: false };
          } else {
            await store.setPassword('alice', o.password, o.ntlm === undefined ? undefined : { ntlm: o.ntlm });
            model = { enabled: model.enabled || o.ntlm === true, password: o.password };
          }
          assert.equal(store.findUser('alice')!.ntlmEnabled, model.enabled);
          assert.deepEqual(store.ntHashOf(alice.sid), model.enabled ? ntHash(model.password) : undefined);
          assert.equal('nt' in rawVerifiers(t, alice.sid), model.enabled);
        }
      } finally {
        t.cleanup();
      }
    }),
    { numRuns: 30 },
  );
});
