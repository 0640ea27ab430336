/**
 * The keep-alive fast path (session.ts) must decide exactly as the full path does. The main proof is differential:
 * two security cores with the same nonce key, machine name and accounts receive the same random sequence of
 * requests; one sees them all on one connection (sessions in play), the other each on a new connection (every
 * request takes the full path: parse, precheck, account, verifier, verifyDigest, nc). Their answers — user, or
 * status and substatus — and the accounts' lockout counts must agree at every step. Explicit cases follow, so a
 * failure reads as a sentence.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { challengesFor } from '../../../src/auth/challenges.js';
import { digest, type DigestOutcome, type DigestRequest } from '../../../src/auth/digest/provider.js';
import { BUILTIN_SETTINGS, type AuthenticationSettings } from '../../../src/config/schema.js';
import { isHttpError } from '../../../src/pipeline/errors.js';
import type { ConnectionInfo } from '../../../src/server/connection.js';
import { closeSecurity, openSecurity, type SecurityServices } from '../../../src/security/services.js';
import { newMachineSid } from '../../../src/state/machine.js';
import { challengeFromStage, digestAuthorization, type DigestAnswer, type DigestChallengeLine } from '../../helpers/digest-client.js';

const PASSWORD = 'Sess-Pass-1';
const key = randomBytes(32);
const dirs: string[] = [];

async function core(): Promise<SecurityServices> {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'persona-digest-session-')));
  dirs.push(dir);
  const security = openSecurity({
    databaseFile: path.join(dir, 'accounts.db'),
    machine: { machineName: 'TESTBOX', machineSid: newMachineSid(), createdAt: '' },
    auditFile: path.join(dir, 'audit.log'),
    tokenTtlMs: 60_000,
    processUser: 'www-data',
    digestKey: key,
  });
  await security.store.createUser({ name: 'alice', password: PASSWORD, digest: true });
  await security.store.createUser({ name: 'bob', password: 'Bob-Pass-1', digest: true });
  return security;
}

let kept: SecurityServices; // sessions in play
let fresh: SecurityServices; // the full path only
before(async () => {
  kept = await core();
  fresh = await core();
});
after(async () => {
  await closeSecurity(kept);
  await closeSecurity(fresh);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function settings(algorithms: AuthenticationSettings['digest']['algorithms'] = ['SHA-256', 'MD5']): AuthenticationSettings {
  const s = structuredClone(BUILTIN_SETTINGS.authentication);
  s.anonymous.enabled = false;
  s.digest.enabled = true;
  s.digest.algorithms = algorithms;
  return s;
}

function connection(): ConnectionInfo {
  return { id: 1, secure: false, loopback: true, remoteAddress: '127.0.0.1', requests: 0, basicMemo: undefined, ntlm: undefined } as unknown as ConnectionInfo;
}

interface Sent {
  readonly rest: string;
  readonly method: string;
  readonly target: string;
  readonly host: string;
  readonly now: number;
  readonly settings: AuthenticationSettings;
}

function request(security: SecurityServices, conn: ConnectionInfo, sent: Sent): DigestRequest {
  return {
    connection: conn,
    settings: sent.settings.digest,
    method: sent.method,
    requestTarget: sent.target,
    host: sent.host,
    hasBody: false,
    challenges: challengesFor(sent.settings, conn, sent.host, security),
    traceId: 'trace',
    now: sent.now,
  };
}

function challenge(s: AuthenticationSettings, security: SecurityServices = kept): DigestChallengeLine[] {
  return challengeFromStage(s, security, connection());
}

/** What a decision is, for comparing the two paths: who logged on, or the refusal's status. */
function verdict(outcome: DigestOutcome): string {
  return isHttpError(outcome) ? `${outcome.status}.${outcome.substatus}${/stale=true/.test(String(outcome.headers?.['WWW-Authenticate'] ?? '')) ? ' stale' : ''}` : `200 ${outcome.token.user.name}`;
}

function failures(security: SecurityServices, name: string): number {
  const user = security.store.findUser(name)!;
  return security.store.lockoutState(user.sid, Date.now()).failures;
}

type Step =
  | { kind: 'next' }
  | { kind: 'replay'; back: number }
  | { kind: 'wrong-password' }
  | { kind: 'upper-case response' }
  | { kind: 'flip response digit'; at: number }
  | { kind: 'other target' }
  | { kind: 'other method' }
  | { kind: 'other host' }
  | { kind: 'reloaded settings' }
  | { kind: 'password changed' }
  | { kind: 'disabled and enabled' }
  | { kind: 'other user' }
  | { kind: 'Digest disabled for the user' }
  | { kind: 'realm removed' }
  | { kind: 'nonce expired' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'next' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const), back: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'wrong-password' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'upper-case response' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flip response digit' as const), at: fc.nat(63) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'other target' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'other method' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'other host' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reloaded settings' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'password changed' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'disabled and enabled' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'other user' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'Digest disabled for the user' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'realm removed' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'nonce expired' as const }) },
);

describe('the session fast path decides as the full path', () => {
  test('property: one connection (sessions) vs a new connection per request (full path), step by step', async () => {
    let run = 0;
    let lastPassword = PASSWORD;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        run += 1;
        // Each run: its own user pair state (passwords back to PASSWORD, enabled, no failures, empty caches).
        for (const security of [kept, fresh]) {
          // (a password is set with a slow hash: only when the last run changed it)
          if (lastPassword !== PASSWORD) await security.store.setPassword('alice', PASSWORD, { digest: true });
          security.store.setDisabled('alice', false);
          security.store.resetFailures(security.store.findUser('alice')!.sid);
          security.tokens.clear();
        }
        let s = settings();
        const [line] = challenge(s);
        const conn = connection();
        let nc = 0;
        let password = PASSWORD;
        lastPassword = PASSWORD;
        let clock = Date.now();
        const cnonce = `c${run}`;
        const used: number[] = [];
        const answer = (extra: Partial<DigestAnswer> = {}): string =>
          digestAuthorization(line!, { user: 'alice', password, method: 'GET', uri: '/secure/', cnonce, nc, ...extra }).slice('Digest '.length);
        const send = async (rest: string, extra: Partial<Sent> = {}): Promise<void> => {
          const sent: Sent = { rest, method: 'GET', target: '/secure/', host: 'h', now: clock, settings: s, ...extra };
          const a = await digest(rest, request(kept, conn, sent), kept);
          const b = await digest(rest, request(fresh, connection(), sent), fresh);
          assert.equal(verdict(a), verdict(b), `steps ${JSON.stringify(steps)}: session path ${verdict(a)} (${isHttpError(a) ? a.reason : a.how}), full path ${verdict(b)}`);
          assert.equal(failures(kept, 'alice'), failures(fresh, 'alice'), 'lockout counts agree');
        };
        for (const st of steps) {
          switch (st.kind) {
            case 'next':
              nc += 1;
              used.push(nc);
              await send(answer());
              break;
            case 'replay': {
              const old = used.at(-1 - st.back);
              if (old !== undefined) await send(answer({ nc: old }));
              break;
            }
            case 'wrong-password':
              nc += 1;
              await send(answer({ password: 'not-it' }));
              break;
            case 'upper-case response': {
              nc += 1;
              used.push(nc);
              const rest = answer();
              await send(rest.replace(/response="([0-9a-f]+)"/, (_m, r: string) => `response="${r.toUpperCase()}"`));
              break;
            }
            case 'flip response digit': {
              nc += 1;
              const rest = answer();
              await send(rest.replace(/response="([0-9a-f]+)"/, (_m, r: string) => `response="${r.slice(0, st.at) + (r[st.at] === '0' ? '1' : '0') + r.slice(st.at + 1)}"`));
              break;
            }
            case 'other target':
              nc += 1;
              await send(answer(), { target: '/secure/other' });
              break;
            case 'other method':
              nc += 1;
              await send(answer(), { method: 'HEAD' });
              break;
            case 'other host':
              nc += 1;
              await send(answer(), { host: 'elsewhere' });
              break;
            case 'reloaded settings':
              // A reload makes new settings objects; here one that no longer offers the algorithm in use.
              s = settings(['MD5']);
              nc += 1;
              await send(answer());
              s = settings();
              break;
            case 'password changed':
              password = password === PASSWORD ? 'Sess-Pass-2' : PASSWORD;
              lastPassword = password;
              for (const security of [kept, fresh]) await security.store.setPassword('alice', password, { digest: true });
              nc += 1;
              used.push(nc);
              await send(answer());
              break;
            case 'disabled and enabled':
              for (const security of [kept, fresh]) security.store.setDisabled('alice', true);
              nc += 1;
              await send(answer());
              for (const security of [kept, fresh]) security.store.setDisabled('alice', false);
              break;
            case 'other user':
              nc += 1;
              await send(answer({ user: 'bob', password: 'Bob-Pass-1' }));
              break;
            case 'Digest disabled for the user':
              for (const security of [kept, fresh]) security.store.disableDigest('alice');
              nc += 1;
              await send(answer());
              for (const security of [kept, fresh]) await security.store.setPassword('alice', password, { digest: true });
              break;
            case 'realm removed':
              for (const security of [kept, fresh]) security.store.removeDigestRealm('TESTBOX');
              nc += 1;
              await send(answer());
              for (const security of [kept, fresh]) security.store.addDigestRealm('TESTBOX');
              // verifiers of the realm went with it
              for (const security of [kept, fresh]) {
                await security.store.setPassword('alice', password, { digest: true });
                await security.store.setPassword('bob', 'Bob-Pass-1', { digest: true });
              }
              break;
            case 'nonce expired':
              clock += s.digest.nonceLifetime * 1000 + 1000;
              nc += 1;
              await send(answer());
              clock = Date.now();
              break;
          }
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe('explicit cases', () => {
  const s = settings();
  const sent = (rest: string): Sent => ({ rest, method: 'GET', target: '/secure/', host: 'h', now: Date.now(), settings: s });

  test('after one full-path logon, the next requests of the connection are answered by its session (the trace says so)', async () => {
    const [line] = challenge(s);
    const conn = connection();
    const answer = (nc: number): string => digestAuthorization(line!, { user: 'bob', password: 'Bob-Pass-1', method: 'GET', uri: '/secure/', cnonce: 'explicit1', nc }).slice('Digest '.length);
    const first = await digest(answer(1), request(kept, conn, sent(answer(1))), kept);
    assert.ok(!isHttpError(first), isHttpError(first) ? first.reason : '');
    assert.doesNotMatch(first.how, /session/);
    for (const nc of [2, 3, 9]) {
      const next = await digest(answer(nc), request(kept, conn, sent(answer(nc))), kept);
      assert.ok(!isHttpError(next));
      assert.match(next.how, /^Digest, this connection's session: token cache hit for TESTBOX\\bob \(SHA-256, qop=auth, nc=0000000\d\)$/);
      assert.strictEqual(next.token, first.token);
    }
  });

  test('a wrong response on a session connection goes to the full path: refused, audited, counted toward lockout', async () => {
    const [line] = challenge(s);
    const conn = connection();
    const answer = (nc: number, password = 'Bob-Pass-1'): string => digestAuthorization(line!, { user: 'bob', password, method: 'GET', uri: '/secure/', cnonce: 'explicit2', nc }).slice('Digest '.length);
    kept.store.resetFailures(kept.store.findUser('bob')!.sid);
    for (const nc of [1, 2]) assert.ok(!isHttpError(await digest(answer(nc), request(kept, conn, sent(answer(nc))), kept)));
    const wrong = await digest(answer(3, 'guess'), request(kept, conn, sent(answer(3, 'guess'))), kept);
    assert.ok(isHttpError(wrong));
    assert.equal(wrong.status, 401);
    assert.equal(failures(kept, 'bob'), 1);
    const audit = (await readFile(path.join(dirs[0]!, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(audit.at(-1)!.subStatus, 'STATUS_WRONG_PASSWORD');
    // and the session comes back with the next right answer
    assert.ok(!isHttpError(await digest(answer(4), request(kept, conn, sent(answer(4))), kept)));
    const again = await digest(answer(5), request(kept, conn, sent(answer(5))), kept);
    assert.ok(!isHttpError(again) && /session/.test(again.how));
    kept.store.resetFailures(kept.store.findUser('bob')!.sid);
  });

  test('a replayed count on a session connection is refused with the replay reason, not counted', async () => {
    const [line] = challenge(s);
    const conn = connection();
    const answer = (nc: number): string => digestAuthorization(line!, { user: 'bob', password: 'Bob-Pass-1', method: 'GET', uri: '/secure/', cnonce: 'explicit3', nc }).slice('Digest '.length);
    for (const nc of [1, 2, 3]) assert.ok(!isHttpError(await digest(answer(nc), request(kept, conn, sent(answer(nc))), kept)));
    const replay = await digest(answer(3), request(kept, conn, sent(answer(3))), kept);
    assert.ok(isHttpError(replay));
    assert.equal(replay.status, 401);
    const audit = (await readFile(path.join(dirs[0]!, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.match(String(audit.at(-1)!.reason), /^replay: nc 00000003/);
    assert.equal(failures(kept, 'bob'), 0);
  });
});
