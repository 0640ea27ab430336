/**
 * authenticateRequest with the real account store, for what a loopback-only integration test cannot reach: a remote
 * client on plain HTTP, and the anonymous account kinds (process identity, password sync).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { authenticateRequest, type AuthenticationInput } from '../../src/pipeline/stages/authenticate-request.js';
import type { SecurityServices } from '../../src/security/services.js';
import { challengesFor } from '../../src/auth/challenges.js';
import { BUILTIN_SETTINGS, type AuthenticationSettings } from '../../src/config/schema.js';
import { isHttpError } from '../../src/pipeline/errors.js';
import type { ConnectionInfo } from '../../src/server/connection.js';
import { openTestSecurity, type TestSecurity } from '../helpers/security.js';

let security: SecurityServices;
let testSecurity: TestSecurity;

before(async () => {
  testSecurity = await openTestSecurity('authn');
  ({ security } = testSecurity);
  await security.store.createUser({ name: 'dave', password: 'dave-pass' });
});
after(async () => {
  await testSecurity.close();
});

function input(settings: AuthenticationSettings, connection: Partial<ConnectionInfo>, authorization?: string): AuthenticationInput {
  const conn = { secure: false, loopback: true, remoteAddress: '127.0.0.1', ...connection } as ConnectionInfo;
  const req = { headers: { host: 'h', ...(authorization ? { authorization } : {}) } } as unknown as IncomingMessage;
  return { req, connection: conn, settings, applicationPool: 'DefaultAppPool', traceId: 't', host: 'h', challenges: challengesFor(settings, conn, 'h') };
}

function settings(change: (s: AuthenticationSettings) => void): AuthenticationSettings {
  const s = structuredClone(BUILTIN_SETTINGS.authentication);
  change(s);
  return s;
}

const basicHeader = `Basic ${Buffer.from('dave:dave-pass').toString('base64')}`;

test('Basic over plain HTTP from another machine is refused with 403.4 and a reason; over TLS or with allowCleartext it logs on', async () => {
  const s = settings((x) => (x.basic.enabled = true));
  const refused = await authenticateRequest(input(s, { loopback: false, remoteAddress: '192.0.2.1' }, basicHeader), security);
  assert.ok(isHttpError(refused));
  assert.equal(refused.status, 403);
  assert.equal(refused.substatus, 4);
  assert.match(refused.reason, /clear text/);
  const tls = await authenticateRequest(input(s, { loopback: false, secure: true, remoteAddress: '192.0.2.1' }, basicHeader), security);
  assert.ok(!isHttpError(tls));
  assert.equal(tls.token.user.name, 'TESTBOX\\dave');
  assert.equal(tls.token.logonType, 'NetworkCleartext');
  assert.equal(tls.token.delegation.kind, 'password');
  const allowed = settings((x) => {
    x.basic.enabled = true;
    x.basic.allowCleartext = true;
  });
  assert.ok(!isHttpError(await authenticateRequest(input(allowed, { loopback: false, remoteAddress: '192.0.2.1' }, basicHeader), security)));
});

test('credentials of a scheme that is not enabled: ignored when anonymous is on, 401.2 when it is off', async () => {
  const anon = await authenticateRequest(input(settings(() => undefined), {}, basicHeader), security);
  assert.ok(!isHttpError(anon));
  assert.equal(anon.token.authPackage, 'Anonymous');
  const off = settings((x) => (x.anonymous.enabled = false));
  const refused = await authenticateRequest(input(off, {}, basicHeader), security);
  assert.ok(isHttpError(refused));
  assert.deepEqual([refused.status, refused.substatus], [401, 2]);
  assert.match(refused.reason, /no authentication method is enabled|does not accept/);
});

test('anonymous kinds: IUSR, the process identity (userName ""), a local account, and password sync (network token, no password)', async () => {
  const iusr = await authenticateRequest(input(settings(() => undefined), {}), security);
  assert.ok(!isHttpError(iusr));
  assert.equal(iusr.token.user.sid, 'S-1-5-17');
  const pool = await authenticateRequest(input(settings((x) => (x.anonymous.userName = '')), {}), security);
  assert.ok(!isHttpError(pool));
  assert.equal(pool.token.user.name, 'IIS APPPOOL\\DefaultAppPool');
  assert.equal(pool.token.user.sid, 'S-1-5-82-3006700770-424185619-1745488364-794895919-4004696415');
  const local = await authenticateRequest(input(settings((x) => Object.assign(x.anonymous, { userName: 'dave', password: 'dave-pass' })), {}), security);
  assert.ok(!isHttpError(local));
  assert.equal(local.token.user.name, 'TESTBOX\\dave');
  assert.equal(local.token.authPackage, 'Anonymous');
  assert.equal(local.token.delegation.kind, 'password');
  assert.ok(!local.token.groups.some((g) => g.sid === 'S-1-5-11'), 'anonymous tokens are not Authenticated Users');
  const sync = await authenticateRequest(input(settings((x) => Object.assign(x.anonymous, { userName: 'dave', password: '', passwordSync: true })), {}), security);
  assert.ok(!isHttpError(sync));
  assert.equal(sync.token.logonType, 'Network');
  assert.equal(sync.token.delegation.kind, 'none');
  const wrong = await authenticateRequest(input(settings((x) => Object.assign(x.anonymous, { userName: 'dave', password: 'nope' })), {}), security);
  assert.ok(isHttpError(wrong));
  assert.deepEqual([wrong.status, wrong.substatus], [401, 1]);
});
