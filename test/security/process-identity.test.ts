import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { attachCredentials, credentialsOf } from '../../src/security/credentials.js';
import { applicationPoolSid, iusrToken, processIdentityToken } from '../../src/security/process-identity.js';
import { parseSid, WellKnownSid } from '../../src/security/sid.js';
import { isAnonymousToken, tokenSids } from '../../src/security/token.js';

test('applicationPoolSid reproduces the published SID of DefaultAppPool, whatever the case of the name', () => {
  const published = 'S-1-5-82-3006700770-424185619-1745488364-794895919-4004696415';
  assert.equal(applicationPoolSid('DefaultAppPool'), published);
  assert.equal(applicationPoolSid('DEFAULTAPPPOOL'), published);
  assert.equal(applicationPoolSid('defaultapppool'), published);
  assert.notEqual(applicationPoolSid('Shop'), published);
});

test('property: every pool name gives a valid S-1-5-82 SID with five sub-authorities, case-insensitively', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 64, unit: 'binary' }), (pool) => {
      const sid = applicationPoolSid(pool);
      assert.equal(parseSid(sid), sid);
      assert.equal(sid.split('-').length, 4 + 5);
      assert.ok(sid.startsWith('S-1-5-82-'));
      // Case-insensitive only where the mapping is one code unit to one, as Windows' own is.
      const ascii = pool.replace(/[^\x00-\x7f]/g, '');
      assert.equal(applicationPoolSid(ascii.toUpperCase()), applicationPoolSid(ascii.toLowerCase()));
    }),
    { numRuns: 300 },
  );
});

test('processIdentityToken: IIS APPPOOL\\<pool>, IIS_IUSRS, a Batch logon, package Process, no delegable credentials', () => {
  const token = processIdentityToken('DefaultAppPool', 'www-data');
  assert.equal(token.user.name, 'IIS APPPOOL\\DefaultAppPool');
  assert.equal(token.user.sid, 'S-1-5-82-3006700770-424185619-1745488364-794895919-4004696415');
  const sids = tokenSids(token);
  for (const sid of [WellKnownSid.IisIusrs, WellKnownSid.Everyone, WellKnownSid.AuthenticatedUsers, WellKnownSid.Batch]) assert.ok(sids.has(sid), sid);
  assert.ok(!sids.has(WellKnownSid.Users));
  assert.equal(token.logonType, 'Batch');
  assert.equal(token.authPackage, 'Process');
  assert.equal(token.delegation.kind, 'none');
  assert.match(token.delegation.reason, /no password/);
  assert.equal(token.osAccount, 'www-data');
  assert.deepEqual([...token.privileges].sort(), ['SeAssignPrimaryTokenPrivilege', 'SeImpersonatePrivilege']);
  assert.equal(credentialsOf(token), undefined);
  assert.equal(isAnonymousToken(token), false);
});

test('iusrToken: NT AUTHORITY\\IUSR, anonymous (no Authenticated Users, no Users), logon group per logonMethod', () => {
  for (const [method, group] of [
    ['ClearText', WellKnownSid.Network],
    ['Network', WellKnownSid.Network],
    ['Interactive', WellKnownSid.Interactive],
    ['Batch', WellKnownSid.Batch],
  ] as const) {
    const token = iusrToken(method);
    assert.equal(token.user.sid, WellKnownSid.Iusr);
    assert.equal(token.user.name, 'NT AUTHORITY\\IUSR');
    assert.equal(token.authPackage, 'Anonymous');
    assert.ok(isAnonymousToken(token));
    const sids = tokenSids(token);
    assert.ok(sids.has(WellKnownSid.Everyone));
    assert.ok(sids.has(group), `${method} → ${group}`);
    assert.ok(!sids.has(WellKnownSid.AuthenticatedUsers), 'granting Authenticated Users never admits anonymous requests');
    assert.ok(!sids.has(WellKnownSid.Users), 'granting Users never admits anonymous requests');
    assert.deepEqual(token.privileges, []);
    assert.equal(token.delegation.kind, 'none');
    assert.match(token.delegation.reason, /IUSR has no password/);
    assert.equal(credentialsOf(token), undefined);
  }
  assert.notEqual(iusrToken('ClearText').logonId, iusrToken('ClearText').logonId);
});

test('credentials attach only to tokens that say they hold a password', () => {
  assert.throws(() => attachCredentials(iusrToken('ClearText'), { domain: 'D', user: 'u', password: 'p' }), /cannot hold a password/);
});
