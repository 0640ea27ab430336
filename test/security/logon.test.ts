import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { openAccountStore } from '../../src/accounts/store.js';
import type { AccountStore } from '../../src/accounts/types.js';
import { AuditLog } from '../../src/security/audit.js';
import { credentialsOf } from '../../src/security/credentials.js';
import { logonUser, NTSTATUS_CODES, ntStatusHex, splitAccountName, type LogonRequest, type LogonResult } from '../../src/security/logon.js';
import { WellKnownSid } from '../../src/security/sid.js';
import { LOGON_METHODS, tokenSids, type LogonMethod, type Token } from '../../src/security/token.js';

const MACHINE = { machineName: 'TESTBOX', machineSid: 'S-1-5-21-1111-2222-3333' };
const ALICE_PW = 'Alice-Pa55word!';
const BOB_PW = 'B0b-secret-phrase';
const WRONG_PW = 'Wr0ng-guess-123';

interface Fixture {
  store: AccountStore;
  audit: AuditLog;
  auditFile: string;
  dir: string;
}

async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'persona-logon-'));
  // A low scrypt cost: what is tested here is the logon logic, not the hash's cost.
  const store = openAccountStore(join(dir, 'accounts.db'), MACHINE, { scryptLn: 4 });
  await store.createUser({ name: 'alice', password: ALICE_PW, fullName: 'Alice', osAccount: 'alice' });
  await store.createUser({ name: 'Bob', password: BOB_PW });
  const auditFile = join(dir, 'audit.log');
  return { store, audit: new AuditLog(auditFile), auditFile, dir };
}

async function close(f: Fixture): Promise<void> {
  await f.audit.close();
  f.store.close();
}

function request(name: string, password: string, extra: Partial<LogonRequest> = {}): LogonRequest {
  return { name, domain: undefined, password, logonMethod: 'ClearText', authPackage: 'Basic', defaultLogonDomain: '', clientAddress: '192.0.2.7', ...extra };
}

function ok(result: LogonResult, why = ''): Token {
  if (!result.ok) assert.fail(`${why ? why + ': ' : ''}expected success, got ${result.status}/${result.subStatus}: ${result.reason}`);
  return result.token;
}

function failed(result: LogonResult, status: string, subStatus: string): string {
  if (result.ok) assert.fail(`expected ${status}/${subStatus}, got a token for ${result.token.user.name}`);
  assert.equal(result.status, status);
  assert.equal(result.subStatus, subStatus);
  return result.reason;
}

async function auditEvents(f: Fixture): Promise<Record<string, unknown>[]> {
  return (await readFile(f.auditFile, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('NTSTATUS codes are Windows values', () => {
  assert.equal(NTSTATUS_CODES.STATUS_LOGON_FAILURE, 0xc000006d);
  assert.equal(NTSTATUS_CODES.STATUS_WRONG_PASSWORD, 0xc000006a);
  assert.equal(NTSTATUS_CODES.STATUS_NO_SUCH_USER, 0xc0000064);
  assert.equal(NTSTATUS_CODES.STATUS_ACCOUNT_DISABLED, 0xc0000072);
  assert.equal(NTSTATUS_CODES.STATUS_ACCOUNT_LOCKED_OUT, 0xc0000234);
  assert.equal(NTSTATUS_CODES.STATUS_LOGON_TYPE_NOT_GRANTED, 0xc000015b);
  assert.equal(NTSTATUS_CODES.STATUS_PASSWORD_EXPIRED, 0xc0000071);
  assert.equal(NTSTATUS_CODES.STATUS_PASSWORD_MUST_CHANGE, 0xc0000224);
  assert.equal(ntStatusHex('STATUS_LOGON_FAILURE'), '0xC000006D');
  assert.equal(ntStatusHex('STATUS_SUCCESS'), '0x0');
});

test('splitAccountName: MACHINE\\user, user@REALM, bare user with the default domain; . and empty mean this machine', () => {
  const split = (raw: string, def = '') => splitAccountName(raw, def, 'TESTBOX');
  assert.deepEqual(split('TESTBOX\\alice'), { name: 'alice', domain: 'TESTBOX' });
  assert.deepEqual(split('corp\\alice'), { name: 'alice', domain: 'corp' });
  assert.deepEqual(split('.\\alice'), { name: 'alice', domain: 'TESTBOX' });
  assert.deepEqual(split('\\alice', 'CORP'), { name: 'alice', domain: 'CORP' });
  assert.deepEqual(split('alice@testbox'), { name: 'alice', domain: 'testbox' });
  assert.deepEqual(split('a@b@CORP.EXAMPLE'), { name: 'a@b', domain: 'CORP.EXAMPLE' });
  assert.deepEqual(split('alice@'), { name: 'alice', domain: 'TESTBOX' });
  assert.deepEqual(split('alice'), { name: 'alice', domain: 'TESTBOX' });
  assert.deepEqual(split('alice', '.'), { name: 'alice', domain: 'TESTBOX' });
  assert.deepEqual(split('alice', 'CORP'), { name: 'alice', domain: 'CORP' });
  assert.deepEqual(split('D\\u@x'), { name: 'u@x', domain: 'D' }, 'a backslash wins: the rest is the name');
});

test('property: splitAccountName never throws and loses no character of the name', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 10 }), (raw, def) => {
      const { name, domain } = splitAccountName(raw, def, 'TESTBOX');
      assert.equal(typeof domain, 'string');
      assert.notEqual(domain, '');
      assert.ok(raw.endsWith(name) || raw.startsWith(name), 'the name is the part after the domain or before the realm');
      if (!raw.includes('\\') && !raw.includes('@')) assert.equal(name, raw);
      if (raw.includes('\\')) assert.equal(name, raw.slice(raw.indexOf('\\') + 1));
    }),
    { numRuns: 500 },
  );
});

test('a ClearText Basic logon: the token of MODEL.md §3, delegable credentials, one 4624 event', async () => {
  const f = await fixture();
  try {
    const alice = f.store.findUser('alice')!;
    const token = ok(await logonUser(f.store, request('alice', ALICE_PW), f.audit));
    assert.equal(token.user.sid, alice.sid);
    assert.equal(token.user.name, 'TESTBOX\\alice');
    assert.deepEqual(
      token.groups.map((g) => [g.sid, g.name]),
      [
        [WellKnownSid.Users, 'BUILTIN\\Users'],
        [WellKnownSid.Everyone, 'Everyone'],
        [WellKnownSid.AuthenticatedUsers, 'NT AUTHORITY\\Authenticated Users'],
        [WellKnownSid.Network, 'NT AUTHORITY\\NETWORK'],
      ],
    );
    assert.equal(token.logonType, 'NetworkCleartext');
    assert.equal(token.authPackage, 'Basic');
    assert.equal(token.delegation.kind, 'password');
    assert.match(token.delegation.reason, /a ClearText logon keeps the password/);
    assert.deepEqual(credentialsOf(token), { domain: 'TESTBOX', user: 'alice', password: ALICE_PW });
    assert.equal(token.osAccount, 'alice');
    assert.deepEqual(token.privileges, []);
    assert.match(token.logonId, /^0x[0-9a-f]{16}$/);
    assert.ok(!JSON.stringify(token).includes(ALICE_PW), 'the token itself never carries the password');

    const events = await auditEvents(f);
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.equal(e.eventId, 4624);
    assert.equal(e.account, 'alice');
    assert.equal(e.domain, 'TESTBOX');
    assert.equal(e.sid, alice.sid);
    assert.equal(e.logonType, 8);
    assert.equal(e.package, 'Basic');
    assert.equal(e.clientAddress, '192.0.2.7');
    assert.equal(e.logonId, token.logonId);
  } finally {
    await close(f);
  }
});

test('every name form of this machine logs on; other domains are unknown users for now', async () => {
  const f = await fixture();
  try {
    for (const name of ['TESTBOX\\alice', 'testbox\\ALICE', '.\\alice', 'alice@TESTBOX', 'Alice@testbox', 'alice']) {
      assert.equal(ok(await logonUser(f.store, request(name, ALICE_PW), f.audit)).user.name, 'TESTBOX\\alice', name);
    }
    for (const def of ['', '.', 'TESTBOX', 'testbox']) ok(await logonUser(f.store, request('alice', ALICE_PW, { defaultLogonDomain: def }), f.audit));
    ok(await logonUser(f.store, request('alice', ALICE_PW, { domain: 'TESTBOX' }), f.audit));
    ok(await logonUser(f.store, request('alice', ALICE_PW, { domain: '.' }), f.audit));

    for (const [req, domain] of [
      [request('CORP\\alice', ALICE_PW), 'CORP'],
      [request('alice@corp.example.com', ALICE_PW), 'corp.example.com'],
      [request('alice', ALICE_PW, { defaultLogonDomain: 'CORP' }), 'CORP'],
      [request('alice', ALICE_PW, { domain: 'CORP' }), 'CORP'],
    ] as const) {
      const reason = failed(await logonUser(f.store, req, f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER');
      assert.match(reason, new RegExp(`domain "${domain.replace(/\./g, '\\.')}" is not this machine .*domain accounts are not supported yet`));
    }
    const events = await auditEvents(f);
    assert.equal(events.length, 6 + 4 + 2 + 4, 'one event per call');
    const foreign = events.at(-1)!;
    assert.equal(foreign.eventId, 4625);
    assert.equal(foreign.account, 'alice');
    assert.equal(foreign.domain, 'CORP');
    assert.equal(foreign.sid, undefined);
  } finally {
    await close(f);
  }
});

test('unknown user: 0xC000006D / 0xC0000064, the name as typed in the event, nothing counted anywhere', async () => {
  const f = await fixture();
  try {
    const reason = failed(await logonUser(f.store, request('mallory', ALICE_PW), f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER');
    assert.match(reason, /no local user "mallory"/);
    failed(await logonUser(f.store, request('', ALICE_PW), f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER');
    failed(await logonUser(f.store, request('TESTBOX\\', ALICE_PW), f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER');
    const [e] = await auditEvents(f);
    assert.deepEqual(
      { eventId: e!.eventId, account: e!.account, domain: e!.domain, status: e!.status, subStatus: e!.subStatus, statusCode: e!.statusCode, subStatusCode: e!.subStatusCode, logonType: e!.logonType, package: e!.package, clientAddress: e!.clientAddress },
      { eventId: 4625, account: 'mallory', domain: 'TESTBOX', status: 'STATUS_LOGON_FAILURE', subStatus: 'STATUS_NO_SUCH_USER', statusCode: '0xC000006D', subStatusCode: '0xC0000064', logonType: 8, package: 'Basic', clientAddress: '192.0.2.7' },
    );
    assert.equal(f.store.lockoutState(f.store.findUser('alice')!.sid, Date.now()).failures, 0);
  } finally {
    await close(f);
  }
});

test('wrong password: 0xC000006D / 0xC000006A, counted exactly once per attempt; a success resets the count', async () => {
  const f = await fixture();
  try {
    const sid = f.store.findUser('alice')!.sid;
    for (let i = 1; i <= 3; i++) {
      const reason = failed(await logonUser(f.store, request('alice', WRONG_PW), f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_WRONG_PASSWORD');
      assert.match(reason, new RegExp(`wrong password \\(${i} failed attempts? counted\\)`));
      assert.equal(f.store.lockoutState(sid, Date.now()).failures, i, `attempt ${i} counted once`);
    }
    ok(await logonUser(f.store, request('alice', ALICE_PW), f.audit));
    assert.equal(f.store.lockoutState(sid, Date.now()).failures, 0, 'a successful logon resets the failures');
    const events = await auditEvents(f);
    assert.deepEqual(events.map((e) => [e.eventId, e.subStatusCode]), [[4625, '0xC000006A'], [4625, '0xC000006A'], [4625, '0xC000006A'], [4624, undefined]]);
    assert.equal(events[0]!.sid, sid);
    assert.equal(events[0]!.account, 'alice');
  } finally {
    await close(f);
  }
});

test('lockout after the threshold; a locked account refuses even the right password without counting; an ended lockout is none', async () => {
  const f = await fixture();
  try {
    f.store.setLockoutPolicy({ threshold: 3, observationWindowSeconds: 60, durationSeconds: 120 });
    const sid = f.store.findUser('alice')!.sid;
    let clock = 1_700_000_000_000;
    const now = () => clock;
    for (let i = 0; i < 2; i++) failed(await logonUser(f.store, request('alice', WRONG_PW), f.audit, now), 'STATUS_LOGON_FAILURE', 'STATUS_WRONG_PASSWORD');
    const third = failed(await logonUser(f.store, request('alice', WRONG_PW), f.audit, now), 'STATUS_LOGON_FAILURE', 'STATUS_WRONG_PASSWORD');
    assert.match(third, /3 failed attempts counted; the account is now locked out/);
    for (const pw of [ALICE_PW, WRONG_PW]) {
      const reason = failed(await logonUser(f.store, request('alice', pw), f.audit, now), 'STATUS_ACCOUNT_LOCKED_OUT', 'STATUS_SUCCESS');
      assert.match(reason, /locked out until 2023-11-14T22:15:20\.000Z/);
    }
    assert.equal(f.store.lockoutState(sid, clock).failures, 3, 'attempts on a locked account are not counted');
    // Bob is not affected by Alice's lockout.
    ok(await logonUser(f.store, request('bob', BOB_PW), f.audit, now));
    clock += 120_000;
    ok(await logonUser(f.store, request('alice', ALICE_PW), f.audit, now));
    const locked = (await auditEvents(f)).filter((e) => e.status === 'STATUS_ACCOUNT_LOCKED_OUT');
    assert.equal(locked.length, 2);
    assert.equal(locked[0]!.statusCode, '0xC0000234');
    assert.equal(locked[0]!.subStatusCode, '0x0');
  } finally {
    await close(f);
  }
});

test('a lockout until an administrator unlocks lasts until unlock', async () => {
  const f = await fixture();
  try {
    f.store.setLockoutPolicy({ threshold: 1, observationWindowSeconds: 60, durationSeconds: 0 });
    failed(await logonUser(f.store, request('alice', WRONG_PW), f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_WRONG_PASSWORD');
    const far = () => Date.now() + 365 * 86_400_000;
    assert.match(failed(await logonUser(f.store, request('alice', ALICE_PW), f.audit, far), 'STATUS_ACCOUNT_LOCKED_OUT', 'STATUS_SUCCESS'), /until an administrator unlocks it/);
    f.store.unlock('alice');
    ok(await logonUser(f.store, request('alice', ALICE_PW), f.audit));
  } finally {
    await close(f);
  }
});

test('disabled, password expired, must change: checked after the password, in that order', async () => {
  const f = await fixture();
  try {
    f.store.setDisabled('alice', true);
    f.store.setPasswordFlags('alice', { passwordExpired: true, mustChangePassword: true });
    // A wrong password is reported (and counted) before anything about the account is revealed.
    failed(await logonUser(f.store, request('alice', WRONG_PW), f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_WRONG_PASSWORD');
    assert.match(failed(await logonUser(f.store, request('alice', ALICE_PW), f.audit), 'STATUS_ACCOUNT_DISABLED', 'STATUS_SUCCESS'), /disabled/);
    f.store.setDisabled('alice', false);
    failed(await logonUser(f.store, request('alice', ALICE_PW), f.audit), 'STATUS_PASSWORD_EXPIRED', 'STATUS_SUCCESS');
    f.store.setPasswordFlags('alice', { passwordExpired: false });
    failed(await logonUser(f.store, request('alice', ALICE_PW), f.audit), 'STATUS_PASSWORD_MUST_CHANGE', 'STATUS_SUCCESS');
    f.store.setPasswordFlags('alice', { mustChangePassword: false });
    ok(await logonUser(f.store, request('alice', ALICE_PW), f.audit));
    const codes = (await auditEvents(f)).map((e) => e.statusCode);
    assert.deepEqual(codes, ['0xC000006D', '0xC0000072', '0xC0000071', '0xC0000224', undefined]);
  } finally {
    await close(f);
  }
});

test('a password change: the old password fails, the new one works; a removed user is unknown', async () => {
  const f = await fixture();
  try {
    await f.store.setPassword('alice', 'N3w-passw0rd!');
    failed(await logonUser(f.store, request('alice', ALICE_PW), f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_WRONG_PASSWORD');
    ok(await logonUser(f.store, request('alice', 'N3w-passw0rd!'), f.audit));
    f.store.removeUser('alice');
    failed(await logonUser(f.store, request('alice', 'N3w-passw0rd!'), f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER');
  } finally {
    await close(f);
  }
});

test('logon rights per logon type: Windows defaults, grants, and revoking SeNetworkLogonRight from Everyone and Users', async () => {
  const f = await fixture();
  try {
    const logon = (method: LogonMethod) => logonUser(f.store, request('alice', ALICE_PW, { logonMethod: method }), f.audit);
    // Defaults: Users may log on interactively and from the network (Everyone too); batch is for Administrators and IIS_IUSRS.
    ok(await logon('ClearText'));
    ok(await logon('Network'));
    ok(await logon('Interactive'));
    const reason = failed(await logon('Batch'), 'STATUS_LOGON_TYPE_NOT_GRANTED', 'STATUS_SUCCESS');
    assert.match(reason, /does not hold SeBatchLogonRight, needed for a Batch logon/);
    f.store.grantRight('alice', 'SeBatchLogonRight');
    ok(await logon('Batch'));
    f.store.addMember('IIS_IUSRS', 'Bob');
    ok(await logonUser(f.store, request('bob', BOB_PW, { logonMethod: 'Batch' }), f.audit), 'a group that holds the right is enough');

    f.store.revokeRight('Everyone', 'SeNetworkLogonRight');
    ok(await logon('ClearText'), 'Users still hold the network right');
    f.store.revokeRight('Users', 'SeNetworkLogonRight');
    for (const method of ['ClearText', 'Network'] as const) {
      assert.match(failed(await logon(method), 'STATUS_LOGON_TYPE_NOT_GRANTED', 'STATUS_SUCCESS'), /SeNetworkLogonRight/);
    }
    ok(await logon('Interactive'), 'other logon types keep their own right');
    // The well-known groups a token carries count: Authenticated Users, and NETWORK for network logons.
    f.store.grantRight('Authenticated Users', 'SeNetworkLogonRight');
    ok(await logon('ClearText'));
    f.store.revokeRight('Authenticated Users', 'SeNetworkLogonRight');
    f.store.grantRight('NETWORK', 'SeNetworkLogonRight');
    ok(await logon('Network'));
    f.store.revokeRight('Users', 'SeInteractiveLogonRight');
    failed(await logon('Interactive'), 'STATUS_LOGON_TYPE_NOT_GRANTED', 'STATUS_SUCCESS');
    const notGranted = (await auditEvents(f)).filter((e) => e.status === 'STATUS_LOGON_TYPE_NOT_GRANTED');
    assert.deepEqual(notGranted.map((e) => [e.statusCode, e.logonType]), [['0xC000015B', 4], ['0xC000015B', 8], ['0xC000015B', 3], ['0xC000015B', 2]]);
  } finally {
    await close(f);
  }
});

test('privileges are the rights that are privileges; logon rights are not carried', async () => {
  const f = await fixture();
  try {
    f.store.grantRight('alice', 'SeImpersonatePrivilege');
    f.store.addMember('Administrators', 'alice');
    const token = ok(await logonUser(f.store, request('alice', ALICE_PW), f.audit));
    assert.deepEqual([...token.privileges].sort(), ['SeImpersonatePrivilege']);
    assert.ok(tokenSids(token).has(WellKnownSid.Administrators));
    assert.equal(token.groups.find((g) => g.sid === WellKnownSid.Administrators)?.name, 'BUILTIN\\Administrators');
  } finally {
    await close(f);
  }
});

test('logon type, logon group and delegation per logonMethod', async () => {
  const f = await fixture();
  try {
    f.store.grantRight('alice', 'SeBatchLogonRight');
    const expected = {
      Interactive: { type: 'Interactive', number: 2, group: WellKnownSid.Interactive, kind: 'password', reason: /an Interactive logon keeps the password/ },
      Batch: { type: 'Batch', number: 4, group: WellKnownSid.Batch, kind: 'password', reason: /a Batch logon keeps the password/ },
      Network: { type: 'Network', number: 3, group: WellKnownSid.Network, kind: 'none', reason: /a network logon holds no credentials/ },
      ClearText: { type: 'NetworkCleartext', number: 8, group: WellKnownSid.Network, kind: 'password', reason: /a ClearText logon keeps the password/ },
    } as const;
    for (const method of LOGON_METHODS) {
      const token = ok(await logonUser(f.store, request('alice', ALICE_PW, { logonMethod: method, authPackage: 'Anonymous' }), f.audit));
      const want = expected[method];
      assert.equal(token.logonType, want.type);
      assert.ok(tokenSids(token).has(want.group), method);
      assert.equal(token.delegation.kind, want.kind);
      assert.match(token.delegation.reason, want.reason);
      assert.equal(credentialsOf(token)?.password, want.kind === 'password' ? ALICE_PW : undefined, method);
      // Package Anonymous (an anonymous account with its password): never Authenticated Users.
      assert.ok(!tokenSids(token).has(WellKnownSid.AuthenticatedUsers));
    }
    assert.deepEqual((await auditEvents(f)).map((e) => [e.logonType, e.package]), LOGON_METHODS.map((m) => [expected[m].number, 'Anonymous']));
  } finally {
    await close(f);
  }
});

test('password sync (anonymous): no password check and nothing counted, always a network token without credentials', async () => {
  const f = await fixture();
  try {
    const token = ok(await logonUser(f.store, request('alice', '', { passwordSync: true, logonMethod: 'ClearText', authPackage: 'Anonymous' }), f.audit));
    assert.equal(token.logonType, 'Network');
    assert.equal(token.delegation.kind, 'none');
    assert.equal(credentialsOf(token), undefined);
    assert.equal(f.store.lockoutState(token.user.sid, Date.now()).failures, 0);
    f.store.setDisabled('alice', true);
    failed(await logonUser(f.store, request('alice', '', { passwordSync: true, logonMethod: 'Network', authPackage: 'Anonymous' }), f.audit), 'STATUS_ACCOUNT_DISABLED', 'STATUS_SUCCESS');
    failed(await logonUser(f.store, request('nobody', '', { passwordSync: true, logonMethod: 'Network' }), f.audit), 'STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER');
  } finally {
    await close(f);
  }
});

test('one audit event per call, whatever the outcome, and no password ever in the audit log', async () => {
  const f = await fixture();
  try {
    f.store.setLockoutPolicy({ threshold: 2, observationWindowSeconds: 60, durationSeconds: 60 });
    const calls: LogonRequest[] = [
      request('alice', ALICE_PW),
      request('alice', WRONG_PW),
      request('mallory', 'Mallory-Pw-999'),
      request('CORP\\alice', ALICE_PW),
      request('bob', BOB_PW, { logonMethod: 'Network' }),
      request('bob', BOB_PW, { logonMethod: 'Batch' }),
      request('bob', 'Another-Wrong-1'),
      request('bob', 'Another-Wrong-2'),
      request('bob', BOB_PW),
    ];
    for (const c of calls) await logonUser(f.store, c, f.audit);
    const events = await auditEvents(f);
    assert.equal(events.length, calls.length);
    assert.deepEqual(events.map((e) => e.eventId), [4624, 4625, 4625, 4625, 4624, 4625, 4625, 4625, 4625]);
    assert.equal(events.at(-1)!.status, 'STATUS_ACCOUNT_LOCKED_OUT');
    const text = await readFile(f.auditFile, 'utf8');
    for (const secret of [ALICE_PW, BOB_PW, WRONG_PW, 'Mallory-Pw-999', 'Another-Wrong-1', 'Another-Wrong-2']) {
      assert.ok(!text.includes(secret), `the audit log must not contain ${secret}`);
    }
  } finally {
    await close(f);
  }
});

test('a disable or removal that lands during the password hash is seen: the account is read again after it', async () => {
  const f = await fixture();
  const cli = openAccountStore(join(f.dir, 'accounts.db'), MACHINE, { scryptLn: 4 });
  try {
    // logonUser runs synchronously up to the hash; the CLI's change is made while the hash is computed.
    const disabled = logonUser(f.store, request('alice', ALICE_PW), f.audit);
    cli.setDisabled('alice', true);
    failed(await disabled, 'STATUS_ACCOUNT_DISABLED', 'STATUS_SUCCESS');
    const removed = logonUser(f.store, request('bob', BOB_PW), f.audit);
    cli.removeUser('bob');
    assert.match(failed(await removed, 'STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER'), /removed during the logon/);
  } finally {
    cli.close();
    await close(f);
  }
});
