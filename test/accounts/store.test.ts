import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { openAccountStore, type SqliteAccountStore } from '../../src/accounts/store.js';
import { DEFAULT_RIGHTS } from '../../src/accounts/builtin.js';
import { SCHEMA_VERSION } from '../../src/accounts/database.js';
import { verifierAlgorithm } from '../../src/accounts/password.js';
import { WellKnownSid } from '../../src/security/sid.js';
import type { SecurityDescriptor } from '../../src/security/acl-types.js';
import { CHEAP, MACHINE, tempDir, tempStore, withStore } from './fixture.js';

const M = MACHINE.machineSid;


/** What cached tokens compare, for every user, plus the ACL epoch. */
function snapshot(store: SqliteAccountStore) {
  const users = Object.fromEntries(store.listUsers().map((u) => [u.name, store.currentStamp(u.sid)!.user]));
  const any = store.listUsers()[0];
  return { epoch: any ? store.currentStamp(any.sid)!.epoch : undefined, acl: store.aclEpoch(), users };
}

/** Asserts that `fn` bumped exactly the named users' stamps, and the epoch and ACL epoch only when told. */
async function bumps(store: SqliteAccountStore, expected: { users?: string[]; epoch?: boolean; acl?: boolean }, fn: () => unknown) {
  const before = snapshot(store);
  await fn();
  const after = snapshot(store);
  for (const [name, stamp] of Object.entries(before.users)) {
    if (!(name in after.users)) continue;
    const bumped = (expected.users ?? []).includes(name);
    assert.equal(after.users[name]! > stamp, bumped, `stamp of ${name} ${bumped ? 'not ' : ''}bumped`);
    if (!bumped) assert.equal(after.users[name], stamp);
  }
  assert.equal(after.epoch! > before.epoch!, expected.epoch ?? false, `epoch ${expected.epoch ? 'not ' : ''}bumped`);
  assert.equal(after.acl > before.acl, expected.acl ?? false, `aclEpoch ${expected.acl ? 'not ' : ''}bumped`);
}

test(
  'a new store: built-in groups with fixed SIDs, default rights, default lockout policy, private files, WAL',
  withStore((store, t) => {
    assert.deepEqual(
      store.listGroups().map((g) => [g.name, g.sid, g.builtin]),
      [
        ['Administrators', 'S-1-5-32-544', true],
        ['Guests', 'S-1-5-32-546', true],
        ['IIS_IUSRS', 'S-1-5-32-568', true],
        ['Users', 'S-1-5-32-545', true],
      ],
    );
    assert.deepEqual(store.listUsers(), []);
    const rights = store.listRights().map((r) => `${r.right} ${r.sid}`).sort();
    assert.deepEqual(rights, DEFAULT_RIGHTS.map((r) => `${r.right} ${r.sid}`).sort());
    const holders = (right: string) => store.listRights().filter((r) => r.right === right).map((r) => r.name).sort();
    assert.deepEqual(holders('SeInteractiveLogonRight'), ['BUILTIN\\Administrators', 'BUILTIN\\Users']);
    assert.deepEqual(holders('SeNetworkLogonRight'), ['BUILTIN\\Administrators', 'BUILTIN\\Users', 'Everyone']);
    assert.deepEqual(holders('SeBatchLogonRight'), ['BUILTIN\\Administrators', 'BUILTIN\\IIS_IUSRS']);
    assert.deepEqual(holders('SeImpersonatePrivilege'), ['BUILTIN\\Administrators', 'BUILTIN\\IIS_IUSRS', 'NT AUTHORITY\\SERVICE']);
    assert.deepEqual(holders('SeAssignPrimaryTokenPrivilege'), ['NT AUTHORITY\\LOCAL SERVICE', 'NT AUTHORITY\\NETWORK SERVICE']);
    assert.deepEqual(holders('SeTcbPrivilege'), []);
    assert.deepEqual(store.lockoutPolicy(), { threshold: 0, observationWindowSeconds: 1800, durationSeconds: 1800 });
    assert.equal(typeof store.aclEpoch(), 'number');
    for (const suffix of ['', '-wal', '-shm']) assert.equal(statSync(t.file + suffix).mode & 0o777, 0o600, `mode of accounts.db${suffix}`);
    const raw = new Database(t.file, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    } finally {
      raw.close();
    }
  }),
);

test(
  'reopening does not seed twice and keeps everything',
  withStore(async (store, t) => {
    await store.createUser({ name: 'alice', password: 'pw' });
    const again = t.reopen();
    assert.equal(again.listGroups().length, 4);
    assert.equal(again.listRights().length, DEFAULT_RIGHTS.length);
    assert.equal(again.findUser('alice')?.rid, 1000);
  }),
);

test('opening refuses another machine SID, a foreign SQLite file, a newer schema and a bad machine', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'a.db');
  openAccountStore(file, MACHINE, CHEAP).close();
  assert.throws(() => openAccountStore(file, { ...MACHINE, machineSid: 'S-1-5-21-9-9-9' }), /belongs to machine SID S-1-5-21-1111-2222-3333, not S-1-5-21-9-9-9/);
  const foreign = path.join(dir, 'foreign.db');
  const f = new Database(foreign);
  f.exec('CREATE TABLE t (x)');
  f.close();
  assert.throws(() => openAccountStore(foreign, MACHINE), /not a Persona account database/);
  const newer = new Database(file);
  newer.pragma('user_version = 99');
  newer.close();
  assert.throws(() => openAccountStore(file, MACHINE), new RegExp(`schema version 99, newer than this Persona supports \\(${SCHEMA_VERSION}\\)`));
  writeFileSync(path.join(dir, 'junk.db'), 'this is not a database at all, just some text that is long enough'.repeat(20));
  assert.throws(() => openAccountStore(path.join(dir, 'junk.db'), MACHINE), /cannot open the account database .*junk\.db/);
  assert.throws(() => openAccountStore(path.join(dir, 'x.db'), { machineName: 'WEB1', machineSid: 'S-1-5-21-01-2' }), /invalid machine SID/);
  assert.throws(() => openAccountStore(path.join(dir, 'x.db'), { machineName: 'WE\\B1', machineSid: M }), /invalid machine name/);
  assert.throws(() => openAccountStore(path.join(dir, 'none', 'x.db'), MACHINE), /cannot create the account database/);
});

test(
  'users get <machine SID>-<RID> from 1000; users and groups share one RID sequence that never reuses',
  withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', password: 'a' });
    const web = store.createGroup('WebEditors', 'edit the site');
    const bob = await store.createUser({ name: 'bob', password: 'b' });
    assert.deepEqual([alice.rid, alice.sid], [1000, `${M}-1000`]);
    assert.equal(web.sid, `${M}-1001`);
    assert.deepEqual([bob.rid, bob.sid], [1002, `${M}-1002`]);
    assert.equal(web.builtin, false);
    assert.equal(web.description, 'edit the site');
    store.removeUser('bob');
    store.removeGroup('WebEditors');
    const bob2 = await store.createUser({ name: 'bob', password: 'b' });
    assert.equal(bob2.rid, 1003);
    // A failed creation consumes nothing.
    await assert.rejects(store.createUser({ name: 'carol', password: 'c', groups: ['Nope'] }), /no group named "Nope"/);
    assert.equal(store.findUser('carol'), undefined);
    assert.equal((await store.createUser({ name: 'carol', password: 'c' })).rid, 1004);
  }),
);

test(
  'user records: defaults, fields, Users membership by default, chosen groups otherwise',
  withStore(async (store) => {
    const before = Date.now();
    const alice = await store.createUser({ name: 'Alice', password: 'pw', fullName: 'Alice Liddell', description: 'test user', osAccount: 'www-data', mustChangePassword: true });
    assert.equal(alice.name, 'Alice');
    assert.equal(alice.fullName, 'Alice Liddell');
    assert.equal(alice.description, 'test user');
    assert.equal(alice.osAccount, 'www-data');
    assert.equal(alice.disabled, false);
    assert.equal(alice.passwordExpired, false);
    assert.equal(alice.mustChangePassword, true);
    assert.ok(Date.parse(alice.createdAt) >= before - 1000);
    assert.equal(alice.passwordChangedAt, alice.createdAt);
    assert.equal(typeof alice.stamp, 'number');
    assert.deepEqual(store.groupsOf(alice.sid).map((g) => g.name), ['Users']);
    const admin = await store.createUser({ name: 'admin', password: 'pw', groups: ['Administrators', 'BUILTIN\\Users', 'administrators'] });
    assert.deepEqual(store.groupsOf(admin.sid).map((g) => g.name), ['Administrators', 'Users']);
    const loner = await store.createUser({ name: 'loner', password: 'pw', groups: [] });
    assert.deepEqual(store.groupsOf(loner.sid), []);
    assert.deepEqual(store.listUsers().map((u) => u.name), ['admin', 'Alice', 'loner']);
    assert.deepEqual(Object.keys(alice).sort(), ['createdAt', 'description', 'digestEnabled', 'disabled', 'fullName', 'mustChangePassword', 'name', 'ntlmEnabled', 'osAccount', 'passwordChangedAt', 'passwordExpired', 'rid', 'sid', 'stamp']);
    await assert.rejects(store.createUser({ name: 'x', password: 'pw', osAccount: 'bad name' }), /OS account "bad name"/);
    await assert.rejects(store.createUser({ name: 'x', password: 'pw', fullName: 'a\nb' }), /full name contains a control character/);
    await assert.rejects(store.createUser({ name: 'x', password: 'a\ud800' }), /surrogate/);
  }),
);

test(
  'names are unique case-insensitively across users and groups, follow the rules, and well-known names are taken',
  withStore(async (store) => {
    await store.createUser({ name: 'alice', password: 'pw' });
    store.createGroup('Editors');
    await assert.rejects(store.createUser({ name: 'ALICE', password: 'pw' }), /the name "ALICE" is already used by a user/);
    await assert.rejects(store.createUser({ name: 'editors', password: 'pw' }), /already used by a group/);
    await assert.rejects(store.createUser({ name: 'users', password: 'pw' }), /already used by a group/);
    assert.throws(() => store.createGroup('Alice'), /already used by a user/);
    assert.throws(() => store.createGroup('EDITORS'), /already used by a group/);
    for (const reserved of ['Everyone', 'everyone', 'IUSR', 'SYSTEM', 'Authenticated Users', 'NETWORK SERVICE', 'anonymous logon']) {
      await assert.rejects(store.createUser({ name: reserved, password: 'pw' }), /well-known account name/, reserved);
      assert.throws(() => store.createGroup(reserved), /well-known account name/, reserved);
    }
    await assert.rejects(store.createUser({ name: 'a/b', password: 'pw' }), /contains "\/"/);
    await assert.rejects(store.createUser({ name: '..', password: 'pw' }), /only of dots and spaces/);
    await assert.rejects(store.createUser({ name: 'x'.repeat(65), password: 'pw' }), /longer than 64/);
    assert.throws(() => store.createGroup('S-1-5-32-545'), /reads as a SID/);
    assert.throws(() => store.createGroup(''), /empty/);
    await store.createUser({ name: 'Émile', password: 'pw' });
    await assert.rejects(store.createUser({ name: 'E\u0301MILE', password: 'pw' }), /already used/);
    assert.equal(store.findUser('e\u0301mile')?.name, 'Émile');
  }),
);

test(
  'findUser and findGroup accept name, MACHINE\\name (machine case-insensitive) and .\\name',
  withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', password: 'pw' });
    for (const form of ['alice', 'ALICE', 'WEB1\\alice', 'web1\\Alice', '.\\alice']) assert.equal(store.findUser(form)?.sid, alice.sid, form);
    for (const form of ['OTHER\\alice', 'BUILTIN\\alice', 'NT AUTHORITY\\alice', 'alice@WEB1', 'bob', 'Users', '']) assert.equal(store.findUser(form), undefined, form);
    for (const form of ['Users', 'users', 'BUILTIN\\Users', 'builtin\\USERS', '.\\Users', 'WEB1\\Users']) assert.equal(store.findGroup(form)?.sid, WellKnownSid.Users, form);
    const g = store.createGroup('Editors');
    assert.equal(store.findGroup('WEB1\\editors')?.sid, g.sid);
    assert.equal(store.findGroup('BUILTIN\\Editors'), undefined);
    assert.equal(store.findGroup('alice'), undefined);
    assert.equal(store.findUserBySid(alice.sid)?.name, 'alice');
    assert.equal(store.findUserBySid(WellKnownSid.Users), undefined);
  }),
);

test(
  'resolvePrincipal: names, local and built-in forms, well-known names, SID strings; nameOf',
  withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', password: 'pw' });
    const ed = store.createGroup('Editors');
    const cases: [string, string, string][] = [
      ['alice', alice.sid, 'WEB1\\alice'],
      ['WEB1\\ALICE', alice.sid, 'WEB1\\alice'],
      ['.\\alice', alice.sid, 'WEB1\\alice'],
      ['editors', ed.sid, 'WEB1\\Editors'],
      ['Users', WellKnownSid.Users, 'BUILTIN\\Users'],
      ['BUILTIN\\Administrators', WellKnownSid.Administrators, 'BUILTIN\\Administrators'],
      ['iis_iusrs', WellKnownSid.IisIusrs, 'BUILTIN\\IIS_IUSRS'],
      ['Everyone', WellKnownSid.Everyone, 'Everyone'],
      ['EVERYONE', WellKnownSid.Everyone, 'Everyone'],
      ['Authenticated Users', WellKnownSid.AuthenticatedUsers, 'NT AUTHORITY\\Authenticated Users'],
      ['NT AUTHORITY\\Authenticated Users', WellKnownSid.AuthenticatedUsers, 'NT AUTHORITY\\Authenticated Users'],
      ['IUSR', WellKnownSid.Iusr, 'NT AUTHORITY\\IUSR'],
      ['nt authority\\iusr', WellKnownSid.Iusr, 'NT AUTHORITY\\IUSR'],
      ['ANONYMOUS LOGON', WellKnownSid.AnonymousLogon, 'NT AUTHORITY\\ANONYMOUS LOGON'],
      ['NETWORK', WellKnownSid.Network, 'NT AUTHORITY\\NETWORK'],
      ['INTERACTIVE', WellKnownSid.Interactive, 'NT AUTHORITY\\INTERACTIVE'],
      ['BATCH', WellKnownSid.Batch, 'NT AUTHORITY\\BATCH'],
      ['SERVICE', WellKnownSid.Service, 'NT AUTHORITY\\SERVICE'],
      ['SYSTEM', WellKnownSid.LocalSystem, 'NT AUTHORITY\\SYSTEM'],
      ['LOCAL SERVICE', WellKnownSid.LocalService, 'NT AUTHORITY\\LOCAL SERVICE'],
      ['NT AUTHORITY\\NETWORK SERVICE', WellKnownSid.NetworkService, 'NT AUTHORITY\\NETWORK SERVICE'],
      ['CREATOR OWNER', WellKnownSid.CreatorOwner, 'CREATOR OWNER'],
      ['S-1-1-0', WellKnownSid.Everyone, 'Everyone'],
      ['*S-1-5-32-545', WellKnownSid.Users, 'BUILTIN\\Users'],
      ['s-1-5-11', WellKnownSid.AuthenticatedUsers, 'NT AUTHORITY\\Authenticated Users'],
      [`*${alice.sid}`, alice.sid, 'WEB1\\alice'],
      ['*S-1-5-21-7-8-9-1234', 'S-1-5-21-7-8-9-1234', 'S-1-5-21-7-8-9-1234'], // unknown SIDs resolve to themselves, as icacls
    ];
    for (const [input, sid, name] of cases) assert.deepEqual(store.resolvePrincipal(input), { sid, name }, input);
    for (const input of ['bob', 'OTHER\\alice', 'BUILTIN\\alice', 'NT AUTHORITY\\alice', 'BUILTIN\\Everyone', 'WEB1\\Everyone', '*S-1-x', 'S-1-', '*alice', '', '\\'])
      assert.equal(store.resolvePrincipal(input), undefined, input);
    assert.equal(store.nameOf(alice.sid), 'WEB1\\alice');
    assert.equal(store.nameOf(WellKnownSid.Guests), 'BUILTIN\\Guests');
    assert.equal(store.nameOf(WellKnownSid.Iusr), 'NT AUTHORITY\\IUSR');
    assert.equal(store.nameOf(WellKnownSid.Everyone), 'Everyone');
    assert.equal(store.nameOf(`${M}-4242`), `${M}-4242`);
  }),
);

test(
  'property: resolvePrincipal never throws and whatever it resolves names itself back',
  withStore(async (store) => {
    await store.createUser({ name: 'alice', password: 'pw' });
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('alice', 'WEB1\\alice', 'Everyone', 'BUILTIN\\Users', '*S-1-5-32-545', 'NT AUTHORITY\\IUSR')),
        (input) => {
          const r = store.resolvePrincipal(input);
          if (r) assert.equal(store.resolvePrincipal(r.name)?.sid ?? store.resolvePrincipal(`*${r.sid}`)?.sid, r.sid);
        },
      ),
      { numRuns: 2000 },
    );
  }),
);

test(
  'passwords: verify, change (old one stops working), flags cleared, never stored in clear',
  withStore(async (store, t) => {
    const secret = 'Tr0ub4dor&3-unique-marker';
    const alice = await store.createUser({ name: 'alice', password: secret, mustChangePassword: true });
    assert.equal(await store.verifyPassword(alice, secret), true);
    assert.equal(await store.verifyPassword(alice, 'wrong'), false);
    store.setPasswordFlags('alice', { passwordExpired: true });
    const newSecret = 'another-unique-marker-42';
    await bumps(store, { users: ['alice'] }, () => store.setPassword('alice', newSecret));
    const after = store.findUser('alice')!;
    assert.equal(after.passwordExpired, false);
    assert.equal(after.mustChangePassword, false);
    assert.ok(after.passwordChangedAt! >= alice.passwordChangedAt!);
    assert.equal(await store.verifyPassword(after, secret), false);
    assert.equal(await store.verifyPassword(after, newSecret), true);
    await assert.rejects(store.setPassword('nobody', 'x'), /no user named "nobody"/);
    await assert.rejects(store.setPassword('alice', 'x'.repeat(2000)), /longer than 1024/);
    // Blank passwords are representable (the logon decides where they may be used).
    await store.setPassword('alice', '');
    assert.equal(await store.verifyPassword(after, ''), true);
    const noClearText = (file: string) => {
      const bytes = readFileSync(file);
      assert.equal(bytes.includes(Buffer.from(secret)), false, `clear password in ${file}`);
      assert.equal(bytes.includes(Buffer.from(newSecret)), false, `clear password in ${file}`);
    };
    noClearText(t.file + '-wal'); // the WAL, while the store is open
    store.close();
    noClearText(t.file); // and the database after the last connection checkpointed
  }),
);

test('argon2id stores: new verifiers are argon2id; scrypt verifiers made before still verify', async () => {
  const t = tempStore();
  try {
    await t.store.createUser({ name: 'old', password: 'pw1' });
    const argon = t.reopen({ verifierAlgorithm: 'argon2id' });
    const fresh = await argon.createUser({ name: 'fresh', password: 'pw2' });
    assert.equal(await argon.verifyPassword(fresh, 'pw2'), true);
    assert.equal(await argon.verifyPassword(fresh, 'pw1'), false);
    assert.equal(await argon.verifyPassword(argon.findUser('old')!, 'pw1'), true);
    const raw = new Database(t.file, { readonly: true });
    try {
      const algorithms = (raw.prepare('SELECT p.name, v.value FROM verifiers v JOIN principals p USING (sid) ORDER BY p.name').all() as { name: string; value: string }[]).map((r) => [r.name, verifierAlgorithm(r.value)]);
      assert.deepEqual(algorithms, [['fresh', 'argon2id'], ['old', 'scrypt']]);
    } finally {
      raw.close();
    }
    assert.throws(() => t.reopen({ verifierAlgorithm: 'bcrypt' as never }), /unknown verifier algorithm/);
  } finally {
    t.cleanup();
  }
});

test(
  'a corrupt verifier fails the logon instead of throwing; a removed user verifies nothing',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'pw' });
    const raw = new Database(t.file);
    raw.prepare(`UPDATE verifiers SET value = '$scrypt$garbage' WHERE sid = ?`).run(alice.sid);
    raw.close();
    assert.equal(await store.verifyPassword(alice, 'pw'), false);
    store.removeUser('alice');
    assert.equal(await store.verifyPassword(alice, 'pw'), false);
  }),
);

test(
  'stamps: flags, disable, OS mapping bump the user exactly when something changes',
  withStore(async (store) => {
    await store.createUser({ name: 'alice', password: 'pw' });
    await store.createUser({ name: 'bob', password: 'pw' });
    await bumps(store, { users: ['alice'] }, () => store.setDisabled('alice', true));
    assert.equal(store.findUser('alice')!.disabled, true);
    await bumps(store, {}, () => store.setDisabled('ALICE', true));
    await bumps(store, { users: ['alice'] }, () => store.setDisabled('alice', false));
    await bumps(store, { users: ['alice'] }, () => store.setPasswordFlags('alice', { passwordExpired: true }));
    await bumps(store, {}, () => store.setPasswordFlags('alice', { passwordExpired: true }));
    await bumps(store, {}, () => store.setPasswordFlags('alice', {}));
    await bumps(store, { users: ['alice'] }, () => store.setPasswordFlags('alice', { mustChangePassword: true }));
    assert.deepEqual([store.findUser('alice')!.passwordExpired, store.findUser('alice')!.mustChangePassword], [true, true]);
    await bumps(store, { users: ['bob'] }, () => store.setOsAccount('bob', 'bob'));
    assert.equal(store.findUser('bob')!.osAccount, 'bob');
    await bumps(store, {}, () => store.setOsAccount('bob', 'bob'));
    await bumps(store, { users: ['bob'] }, () => store.setOsAccount('bob', '1001'));
    await bumps(store, { users: ['bob'] }, () => store.setOsAccount('bob', null));
    assert.equal(store.findUser('bob')!.osAccount, undefined);
    assert.throws(() => store.setOsAccount('bob', 'root;rm'), /not a valid user name/);
    assert.throws(() => store.setDisabled('nobody', true), /no user named "nobody"/);
    assert.throws(() => store.setPasswordFlags('nobody', {}), /no user named "nobody"/);
  }),
);

test(
  'groups: members, groupsOf, membership bumps only the member, group create/remove bump the epoch',
  withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', password: 'pw' });
    const bob = await store.createUser({ name: 'bob', password: 'pw' });
    let editors: { sid: string } | undefined;
    await bumps(store, { epoch: true }, () => (editors = store.createGroup('Editors')));
    await bumps(store, { users: ['alice'] }, () => store.addMember('editors', 'WEB1\\alice'));
    await bumps(store, { users: ['bob'] }, () => store.addMember('BUILTIN\\Administrators', 'bob'));
    assert.throws(() => store.addMember('Editors', 'alice'), /"alice" is already a member of "Editors"/);
    assert.throws(() => store.addMember('Nope', 'alice'), /no group named "Nope"/);
    assert.throws(() => store.addMember('Editors', 'nobody'), /no user named "nobody"/);
    assert.throws(() => store.addMember('Editors', 'Users'), /no user named "Users"/);
    assert.deepEqual(store.members('Editors').map((u) => u.name), ['alice']);
    assert.deepEqual(store.members('Users').map((u) => u.name), ['alice', 'bob']);
    assert.deepEqual(store.groupsOf(alice.sid).map((g) => g.name), ['Editors', 'Users']);
    assert.deepEqual(store.groupsOf(bob.sid).map((g) => g.name), ['Administrators', 'Users']);
    assert.deepEqual(store.groupsOf(`${M}-9999`), []);
    assert.throws(() => store.members('Nope'), /no group named "Nope"/);
    await bumps(store, { users: ['alice'] }, () => store.removeMember('Editors', 'alice'));
    assert.throws(() => store.removeMember('Editors', 'alice'), /"alice" is not a member of "Editors"/);
    store.addMember('Editors', 'bob');
    store.grantRight('Editors', 'SeBatchLogonRight');
    await bumps(store, { epoch: true }, () => store.removeGroup('editors'));
    assert.equal(store.findGroup('Editors'), undefined);
    assert.deepEqual(store.groupsOf(bob.sid).map((g) => g.name), ['Administrators', 'Users']);
    assert.ok(!store.listRights().some((r) => r.sid === editors!.sid), 'rights of a removed group are gone');
    for (const builtin of ['Administrators', 'Users', 'Guests', 'IIS_IUSRS', 'BUILTIN\\Users']) assert.throws(() => store.removeGroup(builtin), /built-in group .* cannot be removed/);
    assert.throws(() => store.removeGroup('alice'), /no group named "alice"/);
  }),
);

test(
  'removing a user: gone with its memberships, rights and verifiers; its SID stops stamping; its name is free again',
  withStore(async (store, t) => {
    const alice = await store.createUser({ name: 'alice', password: 'pw', groups: ['Users', 'Administrators'] });
    store.grantRight('alice', 'SeBatchLogonRight');
    await store.createUser({ name: 'bob', password: 'pw' });
    await bumps(store, {}, () => store.removeUser('alice'));
    assert.equal(store.findUser('alice'), undefined);
    assert.equal(store.findUserBySid(alice.sid), undefined);
    assert.equal(store.currentStamp(alice.sid), undefined);
    assert.deepEqual(store.members('Administrators'), []);
    assert.ok(!store.listRights().some((r) => r.sid === alice.sid));
    assert.equal(store.nameOf(alice.sid), alice.sid);
    const raw = new Database(t.file, { readonly: true });
    try {
      for (const table of ['verifiers', 'members', 'users', 'principals']) {
        assert.equal((raw.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${table === 'members' ? 'user_sid' : 'sid'} = ?`).get(alice.sid) as { n: number }).n, 0, table);
      }
    } finally {
      raw.close();
    }
    assert.throws(() => store.removeUser('alice'), /no user named "alice"/);
    const again = await store.createUser({ name: 'alice', password: 'pw' });
    assert.notEqual(again.sid, alice.sid);
  }),
);

test(
  'rights: grants to users bump the user, to groups and well-known SIDs the epoch; rightsOf unions; no-ops bump nothing',
  withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', password: 'pw' });
    await store.createUser({ name: 'bob', password: 'pw' });
    await bumps(store, { users: ['alice'] }, () => store.grantRight('alice', 'SeBatchLogonRight'));
    await bumps(store, {}, () => store.grantRight('WEB1\\alice', 'SeBatchLogonRight'));
    await bumps(store, { users: ['alice'] }, () => store.grantRight(`*${alice.sid}`, 'SeServiceLogonRight'));
    await bumps(store, { epoch: true }, () => store.grantRight('Users', 'SeTcbPrivilege'));
    await bumps(store, { epoch: true }, () => store.grantRight('NT AUTHORITY\\IUSR', 'SeInteractiveLogonRight'));
    await bumps(store, { epoch: true }, () => store.grantRight('*S-1-5-11', 'SeImpersonatePrivilege'));
    await bumps(store, { epoch: true }, () => store.revokeRight('Everyone', 'SeNetworkLogonRight'));
    await bumps(store, {}, () => store.revokeRight('Everyone', 'SeNetworkLogonRight'));
    await bumps(store, { users: ['alice'] }, () => store.revokeRight('alice', 'SeServiceLogonRight'));
    assert.deepEqual(
      [...store.rightsOf([alice.sid])].sort(),
      ['SeBatchLogonRight'],
    );
    assert.deepEqual(
      [...store.rightsOf([alice.sid, WellKnownSid.Users, WellKnownSid.Everyone, WellKnownSid.AuthenticatedUsers, WellKnownSid.Network])].sort(),
      ['SeBatchLogonRight', 'SeImpersonatePrivilege', 'SeInteractiveLogonRight', 'SeNetworkLogonRight', 'SeTcbPrivilege'],
    );
    assert.deepEqual([...store.rightsOf([WellKnownSid.Iusr])], ['SeInteractiveLogonRight']);
    assert.deepEqual([...store.rightsOf([])], []);
    assert.ok(store.listRights().some((r) => r.right === 'SeBatchLogonRight' && r.sid === alice.sid && r.name === 'WEB1\\alice'));
    assert.throws(() => store.grantRight('nobody', 'SeBatchLogonRight'), /no account or group named "nobody"/);
    assert.throws(() => store.grantRight('alice', 'SeDebugPrivilege' as never), /unknown user right "SeDebugPrivilege"/);
  }),
);

test(
  'lockout: threshold 0 (the default) never locks, failures are still counted',
  withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', password: 'pw' });
    await bumps(store, {}, () => {
      for (let i = 0; i < 20; i++) store.recordFailure(alice.sid, 1_000 + i);
    });
    assert.deepEqual(store.lockoutState(alice.sid, 1_020), { failures: 20, lockedOut: false, lockedUntil: null });
  }),
);

test(
  'lockout: the threshold locks for the duration, bumping the stamp once; expiry; the window; reset; unlock',
  withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', password: 'pw' });
    await store.createUser({ name: 'bob', password: 'pw' });
    store.setLockoutPolicy({ threshold: 3, observationWindowSeconds: 60, durationSeconds: 300 });
    assert.deepEqual(store.lockoutPolicy(), { threshold: 3, observationWindowSeconds: 60, durationSeconds: 300 });
    const t0 = 1_700_000_000_000;
    await bumps(store, {}, () => {
      assert.deepEqual(store.recordFailure(alice.sid, t0), { failures: 1, lockedOut: false, lockedUntil: null });
      assert.deepEqual(store.recordFailure(alice.sid, t0 + 1_000), { failures: 2, lockedOut: false, lockedUntil: null });
    });
    await bumps(store, { users: ['alice'] }, () => {
      assert.deepEqual(store.recordFailure(alice.sid, t0 + 2_000), { failures: 3, lockedOut: true, lockedUntil: t0 + 302_000 });
    });
    await bumps(store, {}, () => {
      assert.deepEqual(store.recordFailure(alice.sid, t0 + 3_000), { failures: 3, lockedOut: true, lockedUntil: t0 + 302_000 });
    });
    assert.equal(store.lockoutState(alice.sid, t0 + 301_999).lockedOut, true);
    assert.deepEqual(store.lockoutState(alice.sid, t0 + 302_000), { failures: 0, lockedOut: false, lockedUntil: null });
    // After expiry a new count starts.
    assert.deepEqual(store.recordFailure(alice.sid, t0 + 400_000), { failures: 1, lockedOut: false, lockedUntil: null });
    // Failures older than the window no longer count.
    assert.deepEqual(store.recordFailure(alice.sid, t0 + 460_000), { failures: 1, lockedOut: false, lockedUntil: null });
    assert.deepEqual(store.recordFailure(alice.sid, t0 + 470_000), { failures: 2, lockedOut: false, lockedUntil: null });
    assert.equal(store.lockoutState(alice.sid, t0 + 529_999).failures, 2);
    assert.equal(store.lockoutState(alice.sid, t0 + 530_000).failures, 0);
    // A successful logon resets the count without bumping.
    await bumps(store, {}, () => store.resetFailures(alice.sid));
    assert.deepEqual(store.recordFailure(alice.sid, t0 + 480_000), { failures: 1, lockedOut: false, lockedUntil: null });
    // Lock again, then an administrator unlocks: bump; unlocking an unlocked account: none.
    store.recordFailure(alice.sid, t0 + 481_000);
    store.recordFailure(alice.sid, t0 + 482_000);
    assert.equal(store.lockoutState(alice.sid, t0 + 483_000).lockedOut, true);
    await bumps(store, { users: ['alice'] }, () => store.unlock('alice'));
    assert.deepEqual(store.lockoutState(alice.sid, t0 + 483_000), { failures: 0, lockedOut: false, lockedUntil: null });
    await bumps(store, {}, () => store.unlock('alice'));
    assert.deepEqual(store.lockoutState('bob-is-not-a-sid', t0), { failures: 0, lockedOut: false, lockedUntil: null });
    assert.deepEqual(store.recordFailure(WellKnownSid.Iusr, t0), { failures: 0, lockedOut: false, lockedUntil: null });
    assert.throws(() => store.unlock('nobody'), /no user named "nobody"/);
  }),
);

test(
  'lockout: duration 0 locks until an administrator unlocks; bad policies are refused',
  withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', password: 'pw' });
    store.setLockoutPolicy({ threshold: 2, observationWindowSeconds: 60, durationSeconds: 0 });
    store.recordFailure(alice.sid, 0);
    assert.deepEqual(store.recordFailure(alice.sid, 1), { failures: 2, lockedOut: true, lockedUntil: null });
    assert.equal(store.lockoutState(alice.sid, 10 ** 13).lockedOut, true);
    store.unlock('alice');
    assert.equal(store.lockoutState(alice.sid, 10 ** 13).lockedOut, false);
    assert.throws(() => store.setLockoutPolicy({ threshold: 3, observationWindowSeconds: 600, durationSeconds: 60 }), /at least the observation window/);
    assert.throws(() => store.setLockoutPolicy({ threshold: -1, observationWindowSeconds: 60, durationSeconds: 60 }), /threshold/);
    assert.deepEqual(store.lockoutPolicy(), { threshold: 2, observationWindowSeconds: 60, durationSeconds: 0 });
  }),
);

test(
  'descriptors: round trip, NULL vs empty DACL, removal, listing, aclEpoch only on change',
  withStore(async (store) => {
    const flags = { objectInherit: true, containerInherit: true, inheritOnly: false, noPropagate: false, inherited: false };
    const root: SecurityDescriptor = {
      owner: WellKnownSid.Administrators,
      dacl: [
        { type: 'deny', sid: `${M}-1000`, mask: 0x0002_0000, flags: { ...flags, objectInherit: false } },
        { type: 'allow', sid: WellKnownSid.Administrators, mask: 0x001f01ff, flags },
        { type: 'allow', sid: WellKnownSid.Users, mask: 0xa0000000, flags },
      ],
      protected: true,
    };
    const open: SecurityDescriptor = { dacl: null, protected: false };
    const closed: SecurityDescriptor = { dacl: [], protected: false };
    await store.createUser({ name: 'alice', password: 'pw' });
    assert.equal(store.getDescriptor('/srv/www'), undefined);
    await bumps(store, { acl: true }, () => store.setDescriptor('/srv/www', root));
    await bumps(store, {}, () => store.setDescriptor('/srv/www', root));
    await bumps(store, { acl: true }, () => store.setDescriptor('/srv/www/public', open));
    await bumps(store, { acl: true }, () => store.setDescriptor('/srv/www/secure', closed));
    assert.deepEqual(store.getDescriptor('/srv/www'), root);
    assert.deepEqual(store.getDescriptor('/srv/www/public'), open);
    assert.deepEqual(store.getDescriptor('/srv/www/secure'), closed);
    assert.equal(store.getDescriptor('/srv/WWW'), undefined, 'paths are stored as given');
    assert.deepEqual(store.listDescriptors().map((d) => d.path), ['/srv/www', '/srv/www/public', '/srv/www/secure']);
    await bumps(store, { acl: true }, () => store.setDescriptor('/srv/www/public', null));
    await bumps(store, {}, () => store.setDescriptor('/srv/www/public', null));
    assert.equal(store.getDescriptor('/srv/www/public'), undefined);
    assert.throws(() => store.setDescriptor('/x', { dacl: [{ type: 'allow', sid: 'Everyone', mask: 1, flags }], protected: false }), /invalid security descriptor: ACE 0/);
    assert.throws(() => store.setDescriptor('', open), /non-empty/);
  }),
);

test(
  'a corrupt descriptor row is an Error naming its path',
  withStore((store, t) => {
    store.setDescriptor('/srv/a', { dacl: null, protected: false });
    const raw = new Database(t.file);
    raw.prepare(`INSERT INTO descriptors (path, descriptor) VALUES ('/srv/b', '{"dacl": [{"type": "allow"}], "protected": false}')`).run();
    raw.close();
    assert.deepEqual(store.getDescriptor('/srv/a'), { dacl: null, protected: false });
    assert.throws(() => store.getDescriptor('/srv/b'), /the stored ACL of \/srv\/b is corrupt/);
    assert.throws(() => store.listDescriptors(), /the stored ACL of \/srv\/b is corrupt/);
  }),
);

test(
  'another connection (another process) sees every change at once, stamps included',
  withStore(async (store, t) => {
    const other = t.reopen();
    const alice = await store.createUser({ name: 'alice', password: 'pw' });
    const s1 = other.currentStamp(alice.sid)!;
    store.setDisabled('alice', true);
    assert.equal(other.currentStamp(alice.sid)!.user, s1.user + 1);
    other.createGroup('G');
    assert.equal(store.currentStamp(alice.sid)!.epoch, s1.epoch + 1);
    other.setDescriptor('/p', { dacl: [], protected: false });
    assert.equal(store.aclEpoch(), other.aclEpoch());
    assert.deepEqual(store.getDescriptor('/p'), { dacl: [], protected: false });
    await other.setPassword('alice', 'new');
    assert.equal(await store.verifyPassword(alice, 'new'), true);
  }),
);
