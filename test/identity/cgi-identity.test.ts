/**
 * Who runs a CGI program: every row of the decision (MODEL.md §1 CGI row, §8) with its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS_OS_ACCOUNT, cgiIdentity, type CgiIdentityInput } from '../../src/identity/cgi-identity.js';
import { iusrToken, processIdentityToken } from '../../src/security/process-identity.js';
import { buildToken, type Token } from '../../src/security/token.js';
import { WellKnownSid } from '../../src/security/sid.js';

function userToken(osAccount: string | undefined, name = 'BOX\\bob', sid = 'S-1-5-21-1-2-3-1001'): Token {
  return buildToken({
    user: { sid, name },
    accountGroups: [],
    privileges: [],
    logonType: 'Network',
    authPackage: 'NTLM',
    delegation: { kind: 'none', reason: 'test' },
    osAccount,
    logonId: '0x1',
    issuedAt: 0,
  });
}

const pool = { name: 'DefaultAppPool', replaceProcessToken: true };
const base = (token: Token, extra: Partial<CgiIdentityInput> = {}): CgiIdentityInput => ({ token, createProcessAsUser: true, pool, poolAccount: 'www-data', ...extra });

test('createProcessAsUser: a mapped user runs as its OS account; IUSR as nobody; the process identity as the pool account', () => {
  const bob = cgiIdentity(base(userToken('bob')));
  assert.deepEqual(bob.ok && bob.account, 'bob');
  const anonymous = cgiIdentity(base(iusrToken('ClearText')));
  assert.equal(anonymous.ok && anonymous.account, ANONYMOUS_OS_ACCOUNT);
  const processIdentity = cgiIdentity(base(processIdentityToken('DefaultAppPool', 'www-data')));
  assert.equal(processIdentity.ok && processIdentity.account, 'www-data');
  const anonymousLogon = cgiIdentity(base(userToken(undefined, 'NT AUTHORITY\\ANONYMOUS LOGON', WellKnownSid.AnonymousLogon)));
  assert.equal(anonymousLogon.ok && anonymousLogon.account, ANONYMOUS_OS_ACCOUNT);
});

test('a user without an OS account mapping gets 403.19 with the command that fixes it', () => {
  const r = cgiIdentity(base(userToken(undefined)));
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.substatus, 19);
    assert.match(r.reason, /persona user set bob --os-account/);
  }
});

test('createProcessAsUser: false runs as the pool account for everyone, even unmapped users', () => {
  for (const token of [userToken('bob'), userToken(undefined), iusrToken('ClearText')]) {
    const r = cgiIdentity(base(token, { createProcessAsUser: false }));
    assert.equal(r.ok && r.account, 'www-data');
    assert.match(r.ok ? r.reason : '', /createProcessAsUser is false/);
  }
});

test('a pool without replaceProcessToken may only use its own account (403.19 otherwise)', () => {
  const restricted = { name: 'Locked', replaceProcessToken: false };
  const r = cgiIdentity(base(userToken('bob'), { pool: restricted }));
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.reason, /not granted replaceProcessToken/);
  const own = cgiIdentity(base(userToken('www-data'), { pool: restricted }));
  assert.equal(own.ok && own.account, 'www-data');
  const off = cgiIdentity(base(userToken('bob'), { pool: restricted, createProcessAsUser: false }));
  assert.equal(off.ok && off.account, 'www-data');
});
