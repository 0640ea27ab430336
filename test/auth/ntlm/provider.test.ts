/**
 * The NTLM provider with the real account store, in process: the connection state machine under arbitrary
 * sequences of messages (never an exception, only 400/401 or a token; a token only after a right answer to this
 * connection's CHALLENGE), and the kept token ending when the account changes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { connectionToken, ntlm, type NtlmRequest } from '../../../src/auth/ntlm/provider.js';
import { BUILTIN_SETTINGS, type NtlmSettings } from '../../../src/config/schema.js';
import { isHttpError } from '../../../src/pipeline/errors.js';
import type { ConnectionInfo } from '../../../src/server/connection.js';
import type { SecurityServices } from '../../../src/security/services.js';
import { openTestSecurity, type TestSecurity } from '../../helpers/security.js';
import { authenticateMessage, challengeFrom, negotiateMessage } from '../../helpers/ntlm-client.js';

let security: SecurityServices;
let testSecurity: TestSecurity;
const SETTINGS: NtlmSettings = { ...BUILTIN_SETTINGS.authentication.ntlm, enabled: true };

before(async () => {
  testSecurity = await openTestSecurity('ntlm-provider');
  ({ security } = testSecurity);
  await security.store.createUser({ name: 'ursula', password: 'Ursula-Pw-1', ntlm: true });
});
after(async () => {
  await testSecurity.close();
});

function newConnection(): ConnectionInfo {
  return {
    id: 1,
    localAddress: '127.0.0.1',
    localPort: 80,
    remoteAddress: '127.0.0.1',
    remotePort: 5000,
    secure: false,
    loopback: true,
    requests: 0,
    basicMemo: undefined,
    ntlm: undefined,
    localCertificate: () => undefined,
  };
}

const request = (connection: ConnectionInfo, now = Date.now()): NtlmRequest => ({ connection, settings: SETTINGS, host: 'h', challenges: ['NTLM'], traceId: 't', now });

async function send(connection: ConnectionInfo, message: Buffer, now?: number) {
  return ntlm(message.toString('base64'), request(connection, now), security);
}

test('a handshake: NEGOTIATE → 401.1 with a CHALLENGE, AUTHENTICATE → the token, kept on the connection', async () => {
  const connection = newConnection();
  const negotiate = negotiateMessage();
  const first = await send(connection, negotiate);
  assert.ok(isHttpError(first));
  assert.equal(first.status, 401);
  assert.equal(first.substatus, 1);
  assert.equal(first.win32Status, 0x8009030e);
  assert.equal(connection.ntlm?.phase, 'challenged');
  const challenge = challengeFrom(first.headers?.['WWW-Authenticate']);
  const done = await send(connection, authenticateMessage(negotiate, challenge, { user: 'ursula', password: 'Ursula-Pw-1' }));
  assert.ok(!isHttpError(done), isHttpError(done) ? done.reason : '');
  assert.equal(done.token.user.name, 'TESTBOX\\ursula');
  assert.equal(done.token.logonType, 'Network');
  assert.equal(done.token.authPackage, 'NTLM');
  assert.equal(done.token.delegation.kind, 'none');
  assert.ok(done.token.groups.some((g) => g.sid === 'S-1-5-2'), 'the NETWORK group');
  const kept = connectionToken({ connection, settings: SETTINGS, host: 'h' }, security);
  assert.ok(kept && !isHttpError(kept));
  assert.equal(kept.token, done.token);
  assert.equal(connectionToken({ connection, settings: SETTINGS, host: 'other-host' }, security), undefined, 'kept for its host only');
  assert.equal(connectionToken({ connection, settings: { ...SETTINGS, authPersistSingleRequest: true }, host: 'h' }, security), undefined);
});

test('a CHALLENGE expires after 60 s', async () => {
  const connection = newConnection();
  const negotiate = negotiateMessage();
  const start = Date.now();
  const first = await send(connection, negotiate, start);
  assert.ok(isHttpError(first));
  const late = await send(connection, authenticateMessage(negotiate, challengeFrom(first.headers?.['WWW-Authenticate']), { user: 'ursula', password: 'Ursula-Pw-1' }), start + 61_000);
  assert.ok(isHttpError(late));
  assert.equal(late.status, 401);
});

test('the kept token ends when the account is disabled', async () => {
  await security.store.createUser({ name: 'victor', password: 'Victor-Pw-1', ntlm: true });
  const connection = newConnection();
  const negotiate = negotiateMessage();
  const first = await send(connection, negotiate);
  assert.ok(isHttpError(first));
  const done = await send(connection, authenticateMessage(negotiate, challengeFrom(first.headers?.['WWW-Authenticate']), { user: 'victor', password: 'Victor-Pw-1' }));
  assert.ok(!isHttpError(done));
  assert.ok(connectionToken({ connection, settings: SETTINGS, host: 'h' }, security));
  security.store.setDisabled('victor', true);
  assert.equal(connectionToken({ connection, settings: SETTINGS, host: 'h' }, security), undefined);
  assert.equal(connection.ntlm, undefined);
});

test('property: any sequence of messages on one connection gives 400/401 or a token, never an exception; a token only for a right answer', async () => {
  const garbage = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64')),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from('NTLMSSP\0', 'latin1'), Buffer.from([1 + (b[0] ?? 0) % 3, 0, 0, 0]), Buffer.from(b)]).toString('base64')),
  );
  const step = fc.oneof(
    fc.constant<{ kind: 'negotiate' }>({ kind: 'negotiate' }),
    fc.record({ kind: fc.constant<'answer'>('answer'), right: fc.boolean() }),
    fc.record({ kind: fc.constant<'garbage'>('garbage'), text: garbage }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 8 }), async (steps) => {
      const connection = newConnection();
      let lastChallenge: Buffer | undefined;
      let challengePending = false;
      const negotiate = negotiateMessage();
      for (const s of steps) {
        let result;
        if (s.kind === 'negotiate') {
          result = await send(connection, negotiate);
          assert.ok(isHttpError(result) && result.status === 401);
          lastChallenge = challengeFrom(result.headers?.['WWW-Authenticate']);
          challengePending = true;
        } else if (s.kind === 'answer') {
          if (!lastChallenge) continue;
          result = await send(connection, authenticateMessage(negotiate, lastChallenge, { user: 'ursula', password: s.right ? 'Ursula-Pw-1' : 'wrong' }));
          const expectToken: boolean = s.right && challengePending;
          assert.equal(!isHttpError(result), expectToken, `answer right=${s.right} pending=${challengePending}`);
          if (isHttpError(result)) assert.equal(result.status, 401);
          challengePending = false;
        } else {
          result = await ntlm(s.text, request(connection), security);
          assert.ok(isHttpError(result), 'garbage never logs anyone on');
          assert.ok(result.status === 400 || result.status === 401, `status ${result.status}`);
          // A garbage NEGOTIATE-typed message that parses restarts the handshake; anything else leaves state alone
          // unless it was an AUTHENTICATE, which consumes the pending CHALLENGE.
          if (connection.ntlm?.phase !== 'challenged') challengePending = false;
          else if (result.status === 401 && result.substatus === 1 && result.headers?.['WWW-Authenticate']) {
            lastChallenge = challengeFrom(result.headers['WWW-Authenticate']);
            challengePending = true;
          }
        }
      }
    }),
    { numRuns: 150 },
  );
});
