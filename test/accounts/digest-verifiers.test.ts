/**
 * The Digest verifiers (issue 7, MODEL.md §2): H(user:realm:password) per realm of the store, hash and form of the
 * name, stored exactly while Digest is enabled for an account, written in the same transaction as the password they
 * are made from, readable only through digestVerifierOf / findUserByUserhash, never part of a record; the realm list
 * and the migration of an existing version-1 database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { digestNameForms, digestRealmProblem, openAccountStore, type SqliteAccountStore } from '../../src/accounts/store.js';
import { SCHEMA_VERSION } from '../../src/accounts/database.js';
import { nameKey } from '../../src/accounts/names.js';
import { ha1Verifier, userhashOf, type DigestHash } from '../../src/auth/digest/algorithms.js';
import { ntHash } from '../../src/auth/ntlm/md4.js';
import { CHEAP, MACHINE, tempDir, tempStore, withStore, type TempStore } from './fixture.js';
import { SCHEMA_V1_MACHINE, SCHEMA_V1_SQL } from './schema-v1.js';
import { DEMO_USER, initDemoSecurity } from '../../src/state/security-init.js';

const HASHES: readonly DigestHash[] = ['MD5', 'SHA-256', 'SHA-512-256'];

interface DigestRow {
  realm: string;
  hash: string;
  username: string;
  ha1: string;
  userhash: string;
}

/** The Digest rows of one account, read with a separate raw connection (not through the store). */
function rawDigest(t: TempStore, sid: string): { enabled: boolean; rows: DigestRow[] } {
  const raw = new Database(t.file, { readonly: true });
  try {
    const enabled = raw.prepare(`SELECT 1 FROM digest_accounts WHERE sid = ?`).get(sid) !== undefined;
    const rows = raw.prepare(`SELECT realm, hash, username, ha1, userhash FROM digest_verifiers WHERE sid = ?`).all(sid) as DigestRow[];
    return { enabled, rows: sortRows(rows) };
  } finally {
    raw.close();
  }
}

/** The rows an account with this name and password must have for these realms, in rawDigest's order. */
function expectedRows(name: string, password: string, realms: readonly string[]): DigestRow[] {
  const rows: DigestRow[] = [];
  for (const realm of realms) {
    for (const hash of HASHES) {
      for (const username of digestNameForms(name)) {
        rows.push({ realm, hash, username, ha1: ha1Verifier(hash, username, realm, password), userhash: userhashOf(hash, username, realm) });
      }
    }
  }
  return sortRows(rows);
}

/** One order for rows from the table and rows from the model. */
function sortRows(rows: DigestRow[]): DigestRow[] {
  return [...rows].sort((a, b) => ([a.realm, a.hash, a.username].join('\0') < [b.realm, b.hash, b.username].join('\0') ? -1 : 1));
}

function stampOf(store: SqliteAccountStore, name: string): number {
  return store.currentStamp(store.findUser(name)!.sid)!.user;
}

/** Makes every write into a table fail, in the real database, with a trigger (the SQL-level failure). */
function breakInsertsInto(t: TempStore, table: string): void {
  const raw = new Database(t.file);
  try {
    raw.exec(`CREATE TRIGGER fail_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'injected failure'); END;`);
  } finally {
    raw.close();
  }
}

test('digestNameForms: the name as created, lower and upper case, without duplicates, each naming the same account', () => {
  assert.deepEqual(digestNameForms('Alice'), ['Alice', 'alice', 'ALICE']);
  assert.deepEqual(digestNameForms('alice'), ['alice', 'ALICE']);
  assert.deepEqual(digestNameForms('WEB-7'), ['WEB-7', 'web-7']);
  // 'STRASSE' is another account's name key (strasse), so it is not a form of straße.
  assert.deepEqual(digestNameForms('Straße'), ['Straße', 'straße']);
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), (name) => {
      const forms = digestNameForms(name);
      assert.equal(forms[0], name);
      assert.ok(forms.length <= 3);
      assert.equal(new Set(forms).size, forms.length);
      for (const f of forms) assert.equal(nameKey(f), nameKey(name));
    }),
  );
});

test('digestRealmProblem: non-empty, at most 256 characters, no control character, quote or backslash', () => {
  for (const ok of ['WEB1', 'http-auth@example.org', 'Intranet (main)', 'é'.repeat(256), '🙂 realm', "it's"]) assert.equal(digestRealmProblem(ok), null, ok);
  for (const bad of ['', 'a'.repeat(257), 'a\tb', 'a\nb', 'a\u007fb', 'a\u0085b', 'say "hi"', 'WEB1\\x', '\ud800']) {
    assert.equal(typeof digestRealmProblem(bad), 'string', JSON.stringify(bad));
  }
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (realm) => {
      const problem = digestRealmProblem(realm);
      const valid = realm !== '' && [...realm].length <= 256 && !/[\p{Cc}\p{Cs}"\\]/u.test(realm);
      assert.equal(problem === null, valid);
    }),
  );
});

test(
  'a new store serves one realm, the machine name; Digest is off by default and nothing is stored',
  withStore(async (store, t) => {
    assert.deepEqual(store.digestRealms(), [MACHINE.machineName]);
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1' });
    assert.equal(alice.digestEnabled, false);
    await store.setPassword('alice', 'Alice-pw-2');
    assert.deepEqual(rawDigest(t, alice.sid), { enabled: false, rows: [] });
    for (const h of HASHES) assert.equal(store.digestVerifierOf(alice.sid, 'WEB1', h, 'alice'), undefined);
    assert.equal(store.findUserByUserhash('WEB1', 'MD5', userhashOf('MD5', 'alice', 'WEB1')), undefined);
  }),
);

test(
  'createUser with digest stores H(form:realm:password) and H(form:realm) for every realm, hash and form of the name',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'Alice', password: 'Pässword 1', digest: true });
    assert.equal(alice.digestEnabled, true);
    assert.equal(alice.ntlmEnabled, false);
    const { enabled, rows } = rawDigest(t, alice.sid);
    assert.equal(enabled, true);
    assert.equal(rows.length, 1 * 3 * 3);
    assert.deepEqual(rows, expectedRows('Alice', 'Pässword 1', ['WEB1']));
    const other = t.reopen(); // another process reads the same
    for (const s of [store, other]) {
      for (const hash of HASHES) {
        for (const form of ['Alice', 'alice', 'ALICE']) {
          // Independent of algorithms.ts: Node's hash of the UTF-8 bytes.
          const node = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }[hash];
          const expected = createHash(node).update(Buffer.from(`${form}:WEB1:Pässword 1`, 'utf8')).digest('hex');
          assert.equal(s.digestVerifierOf(alice.sid, 'WEB1', hash, form), expected, `${hash} ${form}`);
          assert.equal(s.findUserByUserhash('WEB1', hash, userhashOf(hash, form, 'WEB1'))?.sid, alice.sid);
          // The userhash in upper-case hex is the same userhash.
          assert.equal(s.findUserByUserhash('WEB1', hash, userhashOf(hash, form, 'WEB1').toUpperCase())?.sid, alice.sid);
        }
        // Digest hashes the name as typed: mixed case other than the kept forms has no verifier.
        assert.equal(s.digestVerifierOf(alice.sid, 'WEB1', hash, 'aLiCe'), undefined);
        assert.equal(s.digestVerifierOf(alice.sid, 'WEB1', hash, 'WEB1\\Alice'), undefined);
        assert.equal(s.digestVerifierOf(alice.sid, 'other realm', hash, 'Alice'), undefined);
        assert.equal(s.findUserByUserhash('WEB1', hash, userhashOf(hash, 'aLiCe', 'WEB1')), undefined);
        assert.equal(s.findUserByUserhash('other realm', hash, userhashOf(hash, 'Alice', 'WEB1')), undefined);
      }
    }
  }),
);

test(
  'the RFC 2617 §3.5 verifier: Mufasa in testrealm@host.com with "Circle Of Life"',
  withStore(async (store) => {
    store.addDigestRealm('testrealm@host.com');
    const mufasa = await store.createUser({ name: 'Mufasa', password: 'Circle Of Life', digest: true });
    assert.equal(store.digestVerifierOf(mufasa.sid, 'testrealm@host.com', 'MD5', 'Mufasa'), '939e7578ed9e3c518a452acee763bce9');
  }),
);

test(
  'setPassword replaces every verifier of an enabled account (stamp bumped once), enables it with { digest: true }, and { digest: false } does not turn it off',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true });
    const bob = await store.createUser({ name: 'Bob', password: 'Bob-pw-1', ntlm: true });
    const stamp = stampOf(store, 'alice');
    await store.setPassword('alice', 'Alice-pw-2');
    assert.deepEqual(rawDigest(t, alice.sid).rows, expectedRows('alice', 'Alice-pw-2', ['WEB1']));
    assert.equal(stampOf(store, 'alice'), stamp + 1);
    await store.setPassword('alice', 'Alice-pw-3', { digest: false });
    assert.deepEqual(rawDigest(t, alice.sid).rows, expectedRows('alice', 'Alice-pw-3', ['WEB1']));

    const bobStamp = stampOf(store, 'bob');
    await store.setPassword('bob', 'Bob-pw-2', { digest: true });
    const after = store.findUser('bob')!;
    assert.equal(after.digestEnabled, true);
    assert.equal(after.ntlmEnabled, true); // the two switches are independent
    assert.deepEqual(store.ntHashOf(bob.sid), ntHash('Bob-pw-2'));
    assert.deepEqual(rawDigest(t, bob.sid).rows, expectedRows('Bob', 'Bob-pw-2', ['WEB1']));
    assert.equal(stampOf(store, 'bob'), bobStamp + 1);
    assert.equal(await store.verifyPassword(after, 'Bob-pw-2'), true);
  }),
);

test(
  'disableDigest deletes the switch and every verifier and bumps the stamp; again, it changes nothing; a later password change does not bring them back',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true, ntlm: true });
    store.addDigestRealm('Intranet');
    await store.setPassword('alice', 'Alice-pw-2');
    assert.equal(rawDigest(t, alice.sid).rows.length, 2 * 3 * 2);
    const other = t.reopen();
    const stamp = stampOf(store, 'alice');
    store.disableDigest('ALICE');
    assert.deepEqual(rawDigest(t, alice.sid), { enabled: false, rows: [] });
    assert.equal(other.findUser('alice')!.digestEnabled, false);
    assert.equal(other.digestVerifierOf(alice.sid, 'WEB1', 'MD5', 'alice'), undefined);
    assert.equal(stampOf(store, 'alice'), stamp + 1);
    store.disableDigest('alice');
    assert.equal(stampOf(store, 'alice'), stamp + 1);
    await store.setPassword('alice', 'Alice-pw-3');
    assert.deepEqual(rawDigest(t, alice.sid), { enabled: false, rows: [] });
    // NTLM and the password are untouched.
    assert.deepEqual(store.ntHashOf(alice.sid), ntHash('Alice-pw-3'));
    assert.equal(await store.verifyPassword(store.findUser('alice')!, 'Alice-pw-3'), true);
    assert.throws(() => store.disableDigest('nobody'), /no user named "nobody"/);
  }),
);

test(
  'Digest turned off by another process while a password is being hashed stays off (the switch is read under the lock)',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true });
    const other = t.reopen();
    const pending = store.setPassword('alice', 'Alice-pw-2'); // the slow hash runs off the main thread
    other.disableDigest('alice');
    await pending;
    assert.deepEqual(rawDigest(t, alice.sid), { enabled: false, rows: [] });
    assert.equal(await store.verifyPassword(store.findUser('alice')!, 'Alice-pw-2'), true);
  }),
);

test(
  'a setPassword that fails writing a Digest verifier changes nothing: old verifiers, password, flags and stamp stay',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true, ntlm: true, mustChangePassword: true });
    const bob = await store.createUser({ name: 'bob', password: 'Bob-pw-1' });
    const before = { record: store.findUser('alice'), digest: rawDigest(t, alice.sid), stamp: stampOf(store, 'alice') };
    breakInsertsInto(t, 'digest_verifiers');
    await assert.rejects(store.setPassword('alice', 'Alice-pw-2'), /injected failure/);
    assert.deepEqual(store.findUser('alice'), before.record);
    assert.deepEqual(rawDigest(t, alice.sid), before.digest);
    assert.equal(stampOf(store, 'alice'), before.stamp);
    assert.deepEqual(store.ntHashOf(alice.sid), ntHash('Alice-pw-1'));
    assert.equal(await store.verifyPassword(store.findUser('alice')!, 'Alice-pw-1'), true);
    assert.equal(await store.verifyPassword(store.findUser('alice')!, 'Alice-pw-2'), false);
    // Enabling fails as a whole too: no switch without verifiers.
    await assert.rejects(store.setPassword('bob', 'Bob-pw-2', { digest: true }), /injected failure/);
    assert.deepEqual(rawDigest(t, bob.sid), { enabled: false, rows: [] });
    assert.equal(await store.verifyPassword(store.findUser('bob')!, 'Bob-pw-1'), true);
    // And a createUser with digest creates nothing.
    await assert.rejects(store.createUser({ name: 'carol', password: 'Carol-pw-1', digest: true }), /injected failure/);
    assert.equal(store.findUser('carol'), undefined);
  }),
);

test(
  'the digest option must be a boolean, checked before anything changes',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1' });
    const stamp = stampOf(store, 'alice');
    await assert.rejects(store.setPassword('alice', 'Alice-pw-2', { digest: 'true' as unknown as boolean }), /digest option must be true or false/);
    await assert.rejects(store.createUser({ name: 'bob', password: 'Bob-pw-1', digest: 1 as unknown as boolean }), /digest option must be true or false/);
    assert.equal(stampOf(store, 'alice'), stamp);
    assert.equal(store.findUser('bob'), undefined);
    assert.deepEqual(rawDigest(t, alice.sid), { enabled: false, rows: [] });
  }),
);

test(
  'addDigestRealm: verifiers for it come with the next password change; it returns how many Digest accounts lack it',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true });
    const bob = await store.createUser({ name: 'bob', password: 'Bob-pw-1', digest: true });
    await store.createUser({ name: 'carol', password: 'Carol-pw-1' });
    const stamps = [stampOf(store, 'alice'), stampOf(store, 'bob')];
    assert.equal(store.addDigestRealm('Intranet'), 2);
    assert.deepEqual(store.digestRealms(), ['WEB1', 'Intranet']);
    assert.deepEqual(t.reopen().digestRealms(), ['WEB1', 'Intranet']);
    assert.deepEqual([stampOf(store, 'alice'), stampOf(store, 'bob')], stamps); // no logon stops working
    assert.equal(store.digestVerifierOf(alice.sid, 'Intranet', 'SHA-256', 'alice'), undefined);
    assert.equal(store.digestVerifierOf(alice.sid, 'WEB1', 'SHA-256', 'alice'), ha1Verifier('SHA-256', 'alice', 'WEB1', 'Alice-pw-1'));
    await store.setPassword('alice', 'Alice-pw-2');
    assert.deepEqual(rawDigest(t, alice.sid).rows, expectedRows('alice', 'Alice-pw-2', ['WEB1', 'Intranet']));
    assert.deepEqual(rawDigest(t, bob.sid).rows, expectedRows('bob', 'Bob-pw-1', ['WEB1']));

    assert.throws(() => store.addDigestRealm('Intranet'), /already there/);
    for (const bad of ['', 'x'.repeat(257), 'a"b', 'a\\b', 'a\nb']) assert.throws(() => store.addDigestRealm(bad), /Digest realm/);
    assert.deepEqual(store.digestRealms(), ['WEB1', 'Intranet']);
    // Realms are compared exactly, as the quoted-string is: another case is another realm.
    assert.equal(store.addDigestRealm('intranet'), 2);
  }),
);

test(
  'removeDigestRealm deletes its verifiers at once, bumps the stamps of the accounts that had one, and returns their count',
  withStore(async (store, t) => {
    store.addDigestRealm('Intranet');
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true });
    const bob = await store.createUser({ name: 'bob', password: 'Bob-pw-1' });
    const stamps = { alice: stampOf(store, 'alice'), bob: stampOf(store, 'bob') };
    assert.equal(store.removeDigestRealm('Intranet'), 1);
    assert.deepEqual(store.digestRealms(), ['WEB1']);
    assert.deepEqual(rawDigest(t, alice.sid).rows, expectedRows('alice', 'Alice-pw-1', ['WEB1']));
    assert.equal(store.digestVerifierOf(alice.sid, 'Intranet', 'MD5', 'alice'), undefined);
    assert.equal(stampOf(store, 'alice'), stamps.alice + 1);
    assert.equal(stampOf(store, 'bob'), stamps.bob);
    assert.throws(() => store.removeDigestRealm('Intranet'), /no Digest realm "Intranet"/);

    // Without any realm, an account can still be enabled (nothing to store) and gets verifiers once a realm exists.
    assert.equal(store.removeDigestRealm('WEB1'), 1);
    assert.deepEqual(store.digestRealms(), []);
    assert.deepEqual(rawDigest(t, alice.sid), { enabled: true, rows: [] });
    assert.equal(store.findUser('alice')!.digestEnabled, true);
    await store.setPassword('bob', 'Bob-pw-2', { digest: true });
    assert.deepEqual(rawDigest(t, bob.sid), { enabled: true, rows: [] });
    assert.equal(store.addDigestRealm('WEB1'), 2);
    await store.setPassword('bob', 'Bob-pw-3');
    assert.deepEqual(rawDigest(t, bob.sid).rows, expectedRows('bob', 'Bob-pw-3', ['WEB1']));
  }),
);

test(
  'removing an account removes its Digest rows (foreign keys cascade)',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true });
    store.removeUser('alice');
    assert.deepEqual(rawDigest(t, alice.sid), { enabled: false, rows: [] });
    assert.equal(store.findUserByUserhash('WEB1', 'MD5', userhashOf('MD5', 'alice', 'WEB1')), undefined);
    // A new account of the same name is another SID with its own (here: no) verifiers.
    const again = await store.createUser({ name: 'alice', password: 'Alice-pw-1' });
    assert.notEqual(again.sid, alice.sid);
    assert.equal(store.findUserByUserhash('WEB1', 'MD5', userhashOf('MD5', 'alice', 'WEB1')), undefined);
  }),
);

test(
  'verifiers of a name the account no longer has are never answered (a rename that forgot them fails closed)',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true });
    const raw = new Database(t.file);
    try {
      raw.prepare(`UPDATE principals SET name = 'alicia', name_key = 'alicia' WHERE sid = ?`).run(alice.sid);
    } finally {
      raw.close();
    }
    assert.equal(rawDigest(t, alice.sid).rows.length, 6); // still there in the table…
    for (const hash of HASHES) {
      assert.equal(store.digestVerifierOf(alice.sid, 'WEB1', hash, 'alice'), undefined); // …but never answered
      assert.equal(store.findUserByUserhash('WEB1', hash, userhashOf(hash, 'alice', 'WEB1')), undefined);
    }
  }),
);

test(
  'no record or listing carries a Digest verifier; malformed stored values and bad arguments fail closed',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true });
    const everything = JSON.stringify([store.findUser('alice'), store.findUserBySid(alice.sid), store.listUsers(), store.members('Users')]).toLowerCase();
    for (const r of rawDigest(t, alice.sid).rows) assert.ok(!everything.includes(r.ha1), 'a record carries a Digest verifier');

    const ha1 = ha1Verifier('SHA-256', 'alice', 'WEB1', 'Alice-pw-1');
    const uh = userhashOf('SHA-256', 'alice', 'WEB1');
    // Arguments a caller might pass from untrusted input.
    assert.equal(store.digestVerifierOf(alice.sid, 'WEB1', 'SHA-1' as DigestHash, 'alice'), undefined);
    assert.equal(store.digestVerifierOf(alice.sid, 'WEB1', 'sha-256' as DigestHash, 'alice'), undefined);
    assert.equal(store.digestVerifierOf('S-1-5-21-1111-2222-3333-4242', 'WEB1', 'SHA-256', 'alice'), undefined);
    assert.equal(store.findUserByUserhash('WEB1', 'SHA-256', uh.slice(0, 32)), undefined); // the length of MD5
    assert.equal(store.findUserByUserhash('WEB1', 'MD5', uh), undefined); // the length of SHA-256
    assert.equal(store.findUserByUserhash('WEB1', 'SHA-256', `${uh.slice(0, 63)}g`), undefined);
    assert.equal(store.findUserByUserhash('WEB1', 'SHA-256', ''), undefined);
    assert.equal(store.findUserByUserhash('WEB1', 'SHA-256', 'alice'), undefined);

    const corrupt = (value: string) => {
      const raw = new Database(t.file);
      try {
        raw.prepare(`UPDATE digest_verifiers SET ha1 = ? WHERE sid = ? AND hash = 'SHA-256' AND username = 'alice'`).run(value, alice.sid);
      } finally {
        raw.close();
      }
    };
    assert.equal(store.digestVerifierOf(alice.sid, 'WEB1', 'SHA-256', 'alice'), ha1);
    for (const bad of ['not hex', ha1.toUpperCase(), ha1.slice(0, 32), `${ha1}00`, '']) {
      corrupt(bad);
      assert.equal(store.digestVerifierOf(alice.sid, 'WEB1', 'SHA-256', 'alice'), undefined, JSON.stringify(bad));
    }
    // The other forms and hashes are unaffected.
    assert.equal(store.digestVerifierOf(alice.sid, 'WEB1', 'SHA-256', 'ALICE'), ha1Verifier('SHA-256', 'ALICE', 'WEB1', 'Alice-pw-1'));
  }),
);

test(
  'findUserByUserhash is an indexed lookup, and answers undefined when a hand-edited table makes it ambiguous',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'Alice-pw-1', digest: true });
    const bob = await store.createUser({ name: 'bob', password: 'Bob-pw-1', digest: true });
    const raw = new Database(t.file);
    try {
      const plan = raw
        .prepare(`EXPLAIN QUERY PLAN SELECT sid, username FROM digest_verifiers WHERE realm = ? AND hash = ? AND userhash = ?`)
        .all('WEB1', 'MD5', 'x') as { detail: string }[];
      assert.ok(plan.some((p) => /USING (COVERING )?INDEX digest_by_userhash/.test(p.detail)), JSON.stringify(plan));
      const uh = userhashOf('MD5', 'alice', 'WEB1');
      assert.equal(store.findUserByUserhash('WEB1', 'MD5', uh)?.sid, alice.sid);
      raw.prepare(`UPDATE digest_verifiers SET userhash = ? WHERE sid = ? AND hash = 'MD5' AND username = 'bob'`).run(uh, bob.sid);
      assert.equal(store.findUserByUserhash('WEB1', 'MD5', uh), undefined);
    } finally {
      raw.close();
    }
  }),
);

test('a version-1 database written by the code before Digest migrates: everything kept, one realm (the machine name), Digest off', async () => {
  const dir = tempDir('digest-migration');
  const file = path.join(dir, 'accounts.db');
  try {
    const v1 = new Database(file);
    v1.exec(SCHEMA_V1_SQL);
    v1.close();
    assert.ok(SCHEMA_VERSION >= 2);

    const store = openAccountStore(file, SCHEMA_V1_MACHINE, CHEAP);
    try {
      const raw = new Database(file, { readonly: true });
      assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      raw.close();
      assert.deepEqual(store.digestRealms(), ['WEB1']);
      const alice = store.findUser('alice')!;
      const bob = store.findUser('bob')!;
      assert.equal(alice.name, 'Alice');
      assert.equal(alice.fullName, 'Alice Liddell');
      assert.equal(alice.ntlmEnabled, true);
      assert.equal(alice.digestEnabled, false);
      assert.equal(bob.digestEnabled, false);
      assert.deepEqual(store.ntHashOf(alice.sid), ntHash('Alice-v1-pw'));
      assert.equal(await store.verifyPassword(alice, 'Alice-v1-pw'), true);
      assert.equal(await store.verifyPassword(bob, 'Bob-v1-pw'), true);
      assert.deepEqual(store.groupsOf(bob.sid).map((g) => g.name), ['Administrators', 'Editors', 'Users']);
      assert.ok(store.listRights().some((r) => r.name === 'WEB1\\Editors' && r.right === 'SeBatchLogonRight'));
      assert.equal(store.getDescriptor('/srv/www')?.dacl?.[0]?.sid, 'S-1-5-32-545');
      assert.equal(store.currentStamp(alice.sid)?.user, 1);

      // Digest works on the migrated database, and the next RID continues where version 1 left it.
      await store.setPassword('Alice', 'Alice-v2-pw', { digest: true });
      assert.equal(store.digestVerifierOf(alice.sid, 'WEB1', 'MD5', 'Alice'), ha1Verifier('MD5', 'Alice', 'WEB1', 'Alice-v2-pw'));
      assert.deepEqual(store.ntHashOf(alice.sid), ntHash('Alice-v2-pw'));
      const carol = await store.createUser({ name: 'carol', password: 'Carol-pw-1', digest: true });
      assert.equal(carol.rid, 1003);
    } finally {
      store.close();
    }
    // Opening again does not migrate again (the realm list is not re-seeded) and keeps what was written.
    const again = openAccountStore(file, SCHEMA_V1_MACHINE, CHEAP);
    try {
      again.removeDigestRealm('WEB1');
      again.close();
      const third = openAccountStore(file, SCHEMA_V1_MACHINE, CHEAP);
      assert.deepEqual(third.digestRealms(), []);
      assert.equal(third.findUser('carol')!.digestEnabled, true);
      third.close();
    } finally {
      again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new database gets the realm of the machine it is created for', () => {
  const dir = tempDir('digest-realm');
  try {
    const store = openAccountStore(path.join(dir, 'a.db'), { machineName: 'Files-2', machineSid: 'S-1-5-21-7-8-9' }, CHEAP);
    assert.deepEqual(store.digestRealms(), ['Files-2']);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('property: after any sequence of password changes, disables and realm changes, the stored verifiers follow a simple model', async () => {
  const realm = fc.constantFrom('WEB1', 'Intranet', 'api@example.org');
  const op = fc.oneof(
    fc.record({ kind: fc.constant('passwd' as const), password: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 }), digest: fc.option(fc.boolean(), { nil: undefined }) }),
    fc.record({ kind: fc.constant('disable' as const) }),
    fc.record({ kind: fc.constant('addRealm' as const), realm }),
    fc.record({ kind: fc.constant('removeRealm' as const), realm }),
  );
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.constantFrom('alice', 'Alice', 'ÉLODIE'), fc.array(op, { maxLength: 7 }), async (initially, name, ops) => {
      const t = tempStore();
      try {
        const { store } = t;
        const user = await store.createUser({ name, password: 'first-pw', digest: initially });
        // The model: the switch, the password, and the realms each covered since it was last written.
        let enabled = initially;
        let password = 'first-pw';
        let realms = ['WEB1'];
        let covered = enabled ? [...realms] : [];
        for (const o of ops) {
          if (o.kind === 'disable') {
            store.disableDigest(name);
            enabled = false;
            covered = [];
          } else if (o.kind === 'passwd') {
            await store.setPassword(name, o.password, o.digest === undefined ? undefined : { digest: o.digest });
            enabled = enabled || o.digest === true;
            password = o.password;
            covered = enabled ? [...realms] : [];
          } else if (o.kind === 'addRealm') {
            if (realms.includes(o.realm)) assert.throws(() => store.addDigestRealm(o.realm));
            else {
              assert.equal(store.addDigestRealm(o.realm), enabled ? 1 : 0);
              realms = [...realms, o.realm];
            }
          } else {
            if (!realms.includes(o.realm)) assert.throws(() => store.removeDigestRealm(o.realm));
            else {
              assert.equal(store.removeDigestRealm(o.realm), covered.includes(o.realm) ? 1 : 0);
              realms = realms.filter((r) => r !== o.realm);
              covered = covered.filter((r) => r !== o.realm);
            }
          }
          assert.deepEqual(store.digestRealms(), realms);
          assert.equal(store.findUser(name)!.digestEnabled, enabled);
          assert.deepEqual(rawDigest(t, user.sid), { enabled, rows: expectedRows(name, password, covered) });
          for (const r of realms) {
            const expected = covered.includes(r) ? ha1Verifier('SHA-512-256', name, r, password) : undefined;
            assert.equal(store.digestVerifierOf(user.sid, r, 'SHA-512-256', name), expected);
          }
        }
      } finally {
        t.cleanup();
      }
    }),
    { numRuns: 25 },
  );
});

test(
  'the demo account alice is created with Digest (and NTLM) enabled, with verifiers for the machine realm',
  withStore(async (store, t) => {
    const previous = process.env.PERSONA_DEMO_PASSWORD;
    process.env.PERSONA_DEMO_PASSWORD = 'Demo-pw-1';
    try {
      const lines = await initDemoSecurity(store, path.join(t.dir, 'demo'), 8080);
      assert.match(lines.join('\n'), /NTLM, Digest or Basic/);
    } finally {
      if (previous === undefined) delete process.env.PERSONA_DEMO_PASSWORD;
      else process.env.PERSONA_DEMO_PASSWORD = previous;
    }
    const alice = store.findUser(DEMO_USER)!;
    assert.equal(alice.digestEnabled, true);
    assert.equal(alice.ntlmEnabled, true);
    assert.equal(store.digestVerifierOf(alice.sid, MACHINE.machineName, 'SHA-256', 'alice'), ha1Verifier('SHA-256', 'alice', MACHINE.machineName, 'Demo-pw-1'));
  }),
);
