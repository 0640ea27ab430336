/**
 * The Digest provider with the real account store and audit log: every step of parse → precheck → account →
 * verifier → verify → nc, with the reason each refusal leaves in the audit log, the token it makes (Network, package
 * Digest, no delegation), lockout counting (a wrong response counts; a missing verifier, a stale nonce, a replay do
 * not), the token cache, and fast-check over arbitrary and mutated headers (never a throw, never a logon).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { challengesFor } from '../../../src/auth/challenges.js';
import { digest, type DigestOutcome, type DigestRequest } from '../../../src/auth/digest/provider.js';
import { findDigestAccount, localName } from '../../../src/auth/digest/account.js';
import { precheckDigest, type DigestPrecheckFacts } from '../../../src/auth/digest/precheck.js';
import { parseDigestAuthorization, isDigestError, type DigestCredentials } from '../../../src/auth/digest/authorization.js';
import { BUILTIN_SETTINGS, type AuthenticationSettings } from '../../../src/config/schema.js';
import { isHttpError, type HttpError } from '../../../src/pipeline/errors.js';
import { enabledSchemes } from '../../../src/pipeline/stages/authenticate-request.js';
import type { ConnectionInfo } from '../../../src/server/connection.js';
import type { SecurityServices } from '../../../src/security/services.js';
import { challengeFromStage, digestAuthorization, digestChallenges, type DigestAnswer, type DigestChallengeLine } from '../../helpers/digest-client.js';
import { openTestSecurity, type TestSecurity } from '../../helpers/security.js';

let t: TestSecurity;
let security: SecurityServices;
const PASSWORD = 'Alice-Digest-1';

before(async () => {
  t = await openTestSecurity('digest-provider');
  security = t.security;
  await security.store.createUser({ name: 'alice', password: PASSWORD, digest: true });
  await security.store.createUser({ name: 'bob', password: 'Bob-Pass-1' });
  await security.store.createUser({ name: 'dave', password: 'Dave-Pass-1', digest: true });
  await security.store.createUser({ name: 'erin', password: 'Erin-Pass-1', digest: true });
});
after(async () => t.close());

function settings(change: (s: AuthenticationSettings) => void = () => undefined): AuthenticationSettings {
  const s = structuredClone(BUILTIN_SETTINGS.authentication);
  s.anonymous.enabled = false;
  s.digest.enabled = true;
  s.digest.algorithms = ['MD5', 'SHA-256'];
  change(s);
  return s;
}
const DEFAULT = settings();

function connection(): ConnectionInfo {
  return { id: 1, secure: false, loopback: true, remoteAddress: '127.0.0.1', requests: 0, basicMemo: undefined, ntlm: undefined } as unknown as ConnectionInfo;
}

function request(s: AuthenticationSettings, conn: ConnectionInfo, extra: Partial<DigestRequest> = {}): DigestRequest {
  return {
    connection: conn,
    settings: s.digest,
    method: 'GET',
    requestTarget: '/secure/',
    host: 'h',
    hasBody: false,
    challenges: challengesFor(s, conn, 'h', security),
    traceId: 'trace',
    now: Date.now(),
    ...extra,
  };
}

/** A fresh challenge (what a 401 sends), strongest algorithm first. */
function challenge(s: AuthenticationSettings = DEFAULT): DigestChallengeLine[] {
  return challengeFromStage(s, security, connection());
}

function answer(line: DigestChallengeLine, extra: Partial<DigestAnswer> = {}): string {
  return digestAuthorization(line, { user: 'alice', password: PASSWORD, method: 'GET', uri: '/secure/', ...extra }).slice('Digest '.length);
}

async function run(rest: string, s = DEFAULT, conn = connection(), extra: Partial<DigestRequest> = {}): Promise<DigestOutcome> {
  return await digest(rest, request(s, conn, extra), security);
}

async function lastAudit(): Promise<Record<string, unknown>> {
  const lines = (await readFile(path.join(t.dir, 'audit.log'), 'utf8')).trim().split('\n');
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

function refusal(outcome: DigestOutcome): HttpError {
  assert.ok(isHttpError(outcome), `expected a refusal, got a logon: ${'how' in outcome ? outcome.how : ''}`);
  return outcome;
}

describe('challenges', () => {
  test('one line per algorithm, strongest first, one fresh nonce per 401, opaque and charset; Digest is an enabled scheme', () => {
    const first = challenge();
    assert.deepEqual(first.map((c) => c.algorithm), ['SHA-256', 'MD5']);
    assert.equal(first[0]!.nonce, first[1]!.nonce, 'the lines of one 401 share its nonce');
    assert.equal(first[0]!.realm, 'TESTBOX', 'realm "" is the machine name');
    assert.deepEqual(first[0]!.qop, ['auth']);
    assert.equal(first[0]!.charset, 'UTF-8');
    assert.ok(first[0]!.opaque && first[0]!.opaque.length > 10);
    const second = challenge();
    assert.notEqual(second[0]!.nonce, first[0]!.nonce, 'every 401 gets a new nonce');
    assert.equal(second[0]!.opaque, first[0]!.opaque, 'opaque is fixed per installation and realm');
    assert.deepEqual(enabledSchemes(DEFAULT), ['Digest']);
    const ordered = settings((s) => {
      s.ntlm.enabled = true;
      s.basic.enabled = true;
    });
    const lines = challengesFor(ordered, connection(), 'h', security);
    assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['NTLM', 'Digest', 'Digest', 'Basic'], 'NTLM, Digest, Basic (MODEL.md §5 order)');
  });
});

describe('logon', () => {
  test('a right answer logs on: Network token, package Digest, no delegation, audit 4624 with the algorithm', async () => {
    const [sha] = challenge();
    const outcome = await run(answer(sha!));
    assert.ok(!isHttpError(outcome), isHttpError(outcome) ? outcome.reason : '');
    assert.equal(outcome.token.user.name, 'TESTBOX\\alice');
    assert.equal(outcome.token.logonType, 'Network');
    assert.equal(outcome.token.authPackage, 'Digest');
    assert.equal(outcome.token.delegation.kind, 'none');
    const audit = await lastAudit();
    assert.equal(audit.eventId, 4624);
    assert.equal(audit.package, 'Digest');
    assert.equal(audit.logonType, 3);
    assert.equal(audit.detail, 'SHA-256, qop=auth');
  });

  test('MD5, userhash, username* and the upper-case name form log on too', async () => {
    // Fresh logons (a token-cache hit writes no audit event, and the details are read from the audit log).
    security.tokens.clear();
    const [sha, md5] = challenge();
    assert.ok(!isHttpError(await run(answer(md5!))));
    assert.equal((await lastAudit()).detail, 'MD5, qop=auth');
    security.tokens.clear();
    assert.ok(!isHttpError(await run(answer(sha!, { userhash: true, nc: 2 }))));
    assert.equal((await lastAudit()).detail, 'SHA-256, qop=auth, userhash');
    const [fresh] = challenge();
    assert.ok(!isHttpError(await run(answer(fresh!, { usernameStar: true }))));
    const [upper] = challenge();
    const ok = await run(answer(upper!, { user: 'ALICE' }));
    assert.ok(!isHttpError(ok) && ok.token.user.name === 'TESTBOX\\alice');
  });

  test('keep-alive: the same nonce with growing nc is answered from the token cache; every request still verified', async () => {
    const conn = connection();
    const [line] = challenge();
    const first = await run(answer(line!, { nc: 1 }), DEFAULT, conn);
    assert.ok(!isHttpError(first));
    for (const nc of [2, 3, 7]) {
      const next = await run(answer(line!, { nc }), DEFAULT, conn);
      assert.ok(!isHttpError(next));
      assert.match(next.how, /token cache hit/);
      assert.strictEqual(next.token, first.token);
    }
    // A wrong response on the cached connection is not a cache hit: it is a counted logon failure.
    const wrong = refusal(await run(answer(line!, { nc: 8, password: 'nope' }), DEFAULT, conn));
    assert.equal(wrong.status, 401);
    assert.equal((await lastAudit()).subStatus, 'STATUS_WRONG_PASSWORD');
  });

  test('replay: a count already used, or one going backwards, is refused with the reason (not a lockout count)', async () => {
    security.store.resetFailures(security.store.findUser('alice')!.sid);
    const conn = connection();
    const [line] = challenge();
    const header = answer(line!, { nc: 5 });
    assert.ok(!isHttpError(await run(header, DEFAULT, conn)));
    const again = refusal(await run(header, DEFAULT, conn));
    assert.equal(again.status, 401);
    assert.match(String((await lastAudit()).reason), /^replay: nc 00000005/);
    const backwards = refusal(await run(answer(line!, { nc: 4 }), DEFAULT, connection()));
    assert.equal(backwards.status, 401);
    const audit = await lastAudit();
    assert.match(String(audit.reason), /replay/);
    assert.equal(audit.eventId, 4625);
    const alice = security.store.findUser('alice')!;
    assert.equal(security.store.lockoutState(alice.sid, Date.now()).failures, 0);
  });

  test('a wrong password counts toward lockout and locks the account; then even the right answer is refused', async () => {
    security.store.setLockoutPolicy({ threshold: 2, observationWindowSeconds: 60, durationSeconds: 60 });
    try {
      for (let i = 0; i < 2; i++) {
        const [line] = challenge();
        refusal(await run(answer(line!, { user: 'dave', password: 'wrong' })));
        const audit = await lastAudit();
        assert.equal(audit.subStatus, 'STATUS_WRONG_PASSWORD');
        assert.match(String(audit.reason), /^wrong response/);
      }
      const [line] = challenge();
      refusal(await run(answer(line!, { user: 'dave', password: 'Dave-Pass-1' })));
      assert.equal((await lastAudit()).status, 'STATUS_ACCOUNT_LOCKED_OUT');
    } finally {
      security.store.setLockoutPolicy({ threshold: 0, observationWindowSeconds: 1800, durationSeconds: 1800 });
      security.store.unlock('dave');
    }
  });
});

describe('refusals and their reasons', () => {
  const cases: ReadonlyArray<readonly [string, (line: DigestChallengeLine) => string, RegExp, AuthenticationSettings?]> = [
    ['unknown user', (l) => answer(l, { user: 'nobody' }), /no local user "nobody"/],
    ['no verifier: Digest not enabled', (l) => answer(l, { user: 'bob', password: 'Bob-Pass-1' }), /Digest is not enabled for the account/],
    ['no verifier: the name typed with the machine', (l) => answer(l, { user: 'TESTBOX\\alice' }), /hashes names as typed.*"alice"/],
    ['a foreign domain', (l) => answer(l, { user: 'CORP\\alice' }), /domain "CORP" is not this machine/],
    ['realm mismatch', (l) => answer(l, { realm: 'Elsewhere' }), /^realm mismatch/],
    ['uri mismatch', (l) => answer(l, { uri: '/other/' }), /^uri mismatch/],
    ['algorithm not offered', (l) => answer(l, { algorithmName: 'SHA-512-256' }), /^algorithm not offered: the credentials use SHA-512-256/],
    ['algorithm unknown', (l) => answer(l, { algorithmName: 'SHA-1' }), /^algorithm not offered/],
    ['opaque changed', (l) => answer(l, { opaque: 'forged' }), /opaque/],
    ['forged nonce', (l) => answer({ ...l, nonce: `${l.nonce.slice(0, -2)}AA` }), /nonce was not issued by this server/],
    ['qop not offered', (l) => answer(l, { qop: 'auth-int' }), /qop of the credentials was not offered/],
    ['no qop (RFC 2069) while allowNoQop is off', (l) => answer(l, { noQop: true }), /RFC 2069 mode is not allowed/],
  ];
  for (const [name, make, reason] of cases) {
    test(name, async () => {
      const [line] = challenge();
      const outcome = refusal(await run(make(line!)));
      assert.equal(outcome.status, 401);
      assert.equal(outcome.substatus, 1);
      const lines = outcome.headers?.['WWW-Authenticate'] as string[];
      assert.ok(digestChallenges(lines).length === 2, 'the 401 carries new challenges');
      const audit = await lastAudit();
      assert.equal(audit.eventId, 4625);
      assert.equal(audit.package, 'Digest');
      assert.match(String(audit.reason), reason);
    });
  }

  test('none of them counted toward lockout (only a wrong response does)', () => {
    for (const name of ['alice', 'bob']) assert.equal(security.store.lockoutState(security.store.findUser(name)!.sid, Date.now()).failures, 0, name);
  });

  test('a realm the store has no verifiers for names `persona digest realms add`', async () => {
    const other = settings((s) => (s.digest.realm = 'Intranet'));
    const [line] = challenge(other);
    assert.equal(line!.realm, 'Intranet');
    refusal(await run(answer(line!), other));
    assert.match(String((await lastAudit()).reason), /persona digest realms add "Intranet"/);
  });

  test('a stale nonce gets new challenges with stale=true; nothing counted', async () => {
    const short = settings((s) => (s.digest.nonceLifetime = 5));
    const [line] = challenge(short);
    const later = refusal(await run(answer(line!), short, connection(), { now: Date.now() + 6_000 }));
    assert.equal(later.status, 401);
    const lines = digestChallenges(later.headers?.['WWW-Authenticate'] as string[]);
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.stale));
    assert.match(String((await lastAudit()).reason), /^stale nonce/);
  });

  test('auth-int: accepted without a body (H of the empty body), 413 with a body', async () => {
    const intS = settings((s) => (s.digest.qop = ['auth', 'auth-int']));
    const [line] = challenge(intS);
    assert.deepEqual(line!.qop, ['auth', 'auth-int']);
    const { createHash } = await import('node:crypto');
    const empty = createHash('sha256').update('').digest('hex');
    security.tokens.clear();
    const ok = await run(answer(line!, { qop: 'auth-int', entityBodyHash: empty }), intS);
    assert.ok(!isHttpError(ok), isHttpError(ok) ? ok.reason : '');
    assert.equal((await lastAudit()).detail, 'SHA-256, qop=auth-int');
    const body = refusal(await run(answer(line!, { qop: 'auth-int', entityBodyHash: empty, nc: 2 }), intS, connection(), { hasBody: true }));
    assert.equal(body.status, 413);
  });

  test('malformed credentials are 400 with the parser\'s reason', async () => {
    const bad = refusal(await run('username="a", username="b"'));
    assert.equal(bad.status, 400);
    assert.match(bad.reason, /occurs more than once/);
  });
});

describe('pure steps', () => {
  test('localName strips this machine only', () => {
    assert.deepEqual(localName('BOX\\al', ['box']), { name: 'al', domain: undefined });
    assert.deepEqual(localName('al@Box', ['BOX']), { name: 'al', domain: undefined });
    assert.deepEqual(localName('.\\al', ['BOX']), { name: 'al', domain: undefined });
    assert.deepEqual(localName('CORP\\al', ['BOX']), { name: 'CORP\\al', domain: 'CORP' });
    assert.deepEqual(localName('al@corp.example', ['BOX']), { name: 'al@corp.example', domain: undefined });
  });

  test('findDigestAccount: the typed form is kept for the verifier', () => {
    const found = findDigestAccount({ username: 'TESTBOX\\Alice', userhash: false }, 'TESTBOX', 'MD5', security.store, ['TESTBOX']);
    assert.ok(found.ok);
    assert.equal(found.nameAsTyped, 'TESTBOX\\Alice');
    assert.equal(found.user.name, 'alice');
  });

  test('precheck is pure: property — never throws, a refusal always has a reason', () => {
    const facts: DigestPrecheckFacts = {
      offeredAlgorithms: ['SHA-256', 'MD5'],
      realm: 'R',
      realmKnown: true,
      opaque: 'o',
      requestTarget: '/a',
      host: 'h',
      hasBody: false,
      nonce: () => 'fresh',
    };
    fc.assert(
      fc.property(fc.record({ algorithm: fc.string(), realm: fc.constantFrom('R', 'r', ''), uri: fc.constantFrom('/a', '/b', 'http://h/a', '*'), opaque: fc.option(fc.constantFrom('o', 'x'), { nil: undefined }) }), (c) => {
        const credentials = { username: 'u', usernameStar: false, userhash: false, nonce: 'n', response: 'r', ...c } as DigestCredentials;
        const result = precheckDigest(credentials, facts);
        if (!result.ok) assert.ok(result.reason.length > 0);
        else assert.ok(['SHA-256', 'MD5'].includes(result.algorithm));
      }),
    );
  });
});

describe('fuzz', () => {
  test('arbitrary parameter lists: 400 or 401, never a throw, never a logon', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (text) => {
        const outcome = await run(text);
        assert.ok(isHttpError(outcome));
        assert.ok([400, 401].includes(outcome.status), `${outcome.status} ${outcome.reason}`);
      }),
      { numRuns: 300 },
    );
  });

  test('a used header, mutated anywhere: never a logon (the hash covers it, or the nc was used)', async () => {
    const [line] = challenge();
    const header = answer(line!, { user: 'erin', password: 'Erin-Pass-1' });
    assert.ok(!isHttpError(await run(header)));
    const parsedOnce = parseDigestAuthorization(header);
    assert.ok(!isDigestError(parsedOnce));
    await fc.assert(
      fc.asyncProperty(fc.nat(header.length - 1), fc.string({ minLength: 1, maxLength: 1 }), async (at, c) => {
        const mutated = header.slice(0, at) + c + header.slice(at + 1);
        const outcome = await run(mutated);
        assert.ok(isHttpError(outcome), `mutation at ${at} to ${JSON.stringify(c)} logged on`);
        assert.ok([400, 401, 413].includes(outcome.status));
      }),
      { numRuns: 300 },
    );
  });
});
