/**
 * The Digest proof: the published vectors, every single-field mutation refused, uri matching, auth-int, RFC 2069
 * mode, and responses computed by real client code (Python requests' HTTPDigestAuth and urllib) accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DIGEST_ALGORITHMS, digestHex, ha1Verifier, hashOf, userhashOf, type DigestAlgorithm } from '../../../src/auth/digest/algorithms.js';
import { isDigestError, ncHex, parseDigestAuthorization, formatDigestAuthorization, type DigestCredentials, type DigestQop } from '../../../src/auth/digest/authorization.js';
import { responseFor, uriMatchesTarget, verifyDigest, credentialsHash, type DigestVerifyInput } from '../../../src/auth/digest/verify.js';
import { RFC2617, RFC7616_MD5, RFC7616_SHA256, RFC7616_USERHASH, RFC7616_USERNAME_STAR, VECTORS } from './vectors.js';
import { runPython } from './python.js';

function parse(rest: string): DigestCredentials {
  const r = parseDigestAuthorization(rest);
  if (isDigestError(r)) assert.fail(r.error);
  return r;
}

const ALL_QOPS: DigestQop[] = ['auth', 'auth-int'];

for (const v of VECTORS) {
  test(`published vector accepted: ${v.name}`, () => {
    const c = parse(v.header);
    const hash = credentialsHash(c);
    assert.ok(hash);
    // With userhash the caller finds the account by H(user:realm); the store's users are compared that way.
    if (c.userhash) assert.equal(c.username, userhashOf(hash, v.user, v.realm));
    else assert.equal(c.username, v.user);
    const verdict = verifyDigest({
      credentials: c,
      method: v.method,
      requestTarget: v.requestTarget,
      ha1: ha1Verifier(hash, v.user, v.realm, v.password),
      expectedRealm: v.realm,
      expectedOpaque: v.opaque,
      offeredAlgorithms: DIGEST_ALGORITHMS,
      allowedQops: ['auth'],
      allowNoQop: false,
    });
    assert.deepEqual(verdict, { ok: true, algorithm: c.algorithm, qop: 'auth', detail: `${c.algorithm}, qop=auth` });
    const wrong = verifyDigest({
      credentials: c,
      method: v.method,
      requestTarget: v.requestTarget,
      ha1: ha1Verifier(hash, v.user, v.realm, `${v.password}!`),
      expectedRealm: v.realm,
      offeredAlgorithms: DIGEST_ALGORITHMS,
      allowedQops: ['auth'],
      allowNoQop: false,
    });
    assert.equal(wrong.ok, false);
    assert.equal(!wrong.ok && wrong.wrongPassword, true);
  });
}

test('responseFor computes the published responses', () => {
  const rfc = (algorithm: DigestAlgorithm, v: typeof RFC7616_MD5, nonce: string, cnonce: string) =>
    responseFor({ algorithm, ha1: ha1Verifier(hashOf(algorithm), v.user, v.realm, v.password), method: 'GET', uri: v.requestTarget, nonce, cnonce, nc: '00000001', qop: 'auth' });
  const n1 = '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v';
  const c1 = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
  assert.equal(rfc('MD5', RFC7616_MD5, n1, c1), '8ca523f5e9506fed4657c9700eebdbec');
  assert.equal(rfc('SHA-256', RFC7616_SHA256, n1, c1), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  assert.equal(
    rfc('SHA-512-256', RFC7616_USERHASH, '5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK', 'NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v'),
    '3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5',
  );
  assert.equal(rfc('MD5', RFC2617, 'dcd98b7102dd2f0e8b11d0f600bfb0c093', '0a4f113b'), '6629fae49393a05397450978507c4ef1');
  assert.ok(RFC7616_USERNAME_STAR.header.includes('3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5'));
});

interface Scenario {
  readonly algorithm: DigestAlgorithm;
  readonly qop: DigestQop;
  readonly user: string;
  readonly password: string;
  readonly realm: string;
  readonly method: string;
  readonly uri: string;
  readonly nonce: string;
  readonly cnonce: string;
  readonly nc: number;
  readonly body: string;
}

const wireText = fc.stringMatching(/^[A-Za-z0-9+/=_.~-]{1,24}$/);
const scenario: fc.Arbitrary<Scenario> = fc.record({
  algorithm: fc.constantFrom(...DIGEST_ALGORITHMS),
  qop: fc.constantFrom(...ALL_QOPS),
  // A quoted user name cannot hold control characters (username* could; the parser tests cover it).
  user: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((u) => !/[\x00-\x1f\x7f]/.test(u)),
  password: fc.string({ unit: 'binary', maxLength: 12 }),
  realm: fc.stringMatching(/^[a-z0-9@.]{1,16}$/),
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PROPFIND'),
  uri: fc.stringMatching(/^\/[A-Za-z0-9/._~%!$&'()*+,;=:@?-]{0,30}$/),
  nonce: wireText,
  cnonce: wireText,
  nc: fc.integer({ min: 1, max: 0xffffffff }),
  body: fc.string({ maxLength: 40 }),
});

function credentialsFor(s: Scenario): DigestCredentials {
  const ha1 = ha1Verifier(hashOf(s.algorithm), s.user, s.realm, s.password);
  const ncText = ncHex(s.nc);
  const entityBodyHash = digestHex(hashOf(s.algorithm), s.body);
  const response = responseFor({ algorithm: s.algorithm, ha1, method: s.method, uri: s.uri, nonce: s.nonce, cnonce: s.cnonce, nc: ncText, qop: s.qop, entityBodyHash });
  return { username: s.user, usernameStar: false, userhash: false, realm: s.realm, nonce: s.nonce, uri: s.uri, response, algorithm: s.algorithm, cnonce: s.cnonce, qop: s.qop, nc: s.nc, ncText };
}

function inputFor(s: Scenario, credentials: DigestCredentials): DigestVerifyInput {
  return {
    credentials,
    method: s.method,
    requestTarget: s.uri,
    ha1: ha1Verifier(hashOf(s.algorithm), s.user, s.realm, s.password),
    expectedRealm: s.realm,
    offeredAlgorithms: DIGEST_ALGORITHMS,
    allowedQops: ALL_QOPS,
    allowNoQop: false,
    entityBodyHash: digestHex(hashOf(s.algorithm), s.body),
  };
}

test('responseFor → (format, parse) → verifyDigest accepts (property)', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const header = formatDigestAuthorization(credentialsFor(s));
      const verdict = verifyDigest(inputFor(s, parse(header.slice('Digest '.length))));
      assert.deepEqual(verdict, { ok: true, algorithm: s.algorithm, qop: s.qop, detail: `${s.algorithm}, qop=${s.qop}` });
    }),
    { numRuns: 500 },
  );
});

type Field = 'uri' | 'nc' | 'cnonce' | 'nonce' | 'qop' | 'realm' | 'algorithm' | 'response';
const FIELDS: Field[] = ['uri', 'nc', 'cnonce', 'nonce', 'qop', 'realm', 'algorithm', 'response'];

function mutate(c: DigestCredentials, field: Field, seed: number): DigestCredentials {
  const flip = (text: string) => {
    const i = seed % text.length;
    const ch = text[i] === 'a' ? 'b' : 'a';
    return text.slice(0, i) + ch + text.slice(i + 1);
  };
  switch (field) {
    case 'uri':
      return { ...c, uri: seed % 2 ? `${c.uri}x` : flip(c.uri) };
    case 'nc': {
      const nc = c.nc === 0xffffffff ? 1 : (c.nc as number) + 1 + (seed % 5);
      return { ...c, nc: Math.min(nc, 0xffffffff), ncText: ncHex(Math.min(nc, 0xffffffff)) };
    }
    case 'cnonce':
      return { ...c, cnonce: flip(c.cnonce as string) };
    case 'nonce':
      return { ...c, nonce: flip(c.nonce) };
    case 'qop':
      return { ...c, qop: c.qop === 'auth' ? 'auth-int' : 'auth' };
    case 'realm':
      return { ...c, realm: flip(c.realm) };
    case 'algorithm': {
      const others = DIGEST_ALGORITHMS.filter((a) => a !== c.algorithm);
      return { ...c, algorithm: others[seed % others.length] as DigestAlgorithm };
    }
    case 'response': {
      const i = seed % c.response.length;
      const ch = c.response[i] === '0' ? '1' : '0';
      return { ...c, response: c.response.slice(0, i) + ch + c.response.slice(i + 1) };
    }
  }
}

test('any single-field mutation is refused (property)', () => {
  fc.assert(
    fc.property(scenario, fc.constantFrom(...FIELDS), fc.nat(), (s, field, seed) => {
      const good = credentialsFor(s);
      const input = inputFor(s, good);
      assert.equal(verifyDigest(input).ok, true);
      const bad = mutate(good, field, seed);
      // The verifier the caller looks up follows the (mutated) algorithm's hash, as the provider would.
      const ha1 = ha1Verifier(credentialsHash(bad) ?? 'MD5', s.user, s.realm, s.password);
      const verdict = verifyDigest({ ...input, credentials: bad, ha1, entityBodyHash: digestHex(credentialsHash(bad) ?? 'MD5', s.body) });
      assert.equal(verdict.ok, false, `${field} mutated and still accepted`);
    }),
    { numRuns: 1500 },
  );
});

test('the request must match what was offered: algorithm, qop, realm, opaque; response and verifier shapes', () => {
  const c = parse(RFC7616_SHA256.header);
  const base: DigestVerifyInput = {
    credentials: c,
    method: 'GET',
    requestTarget: '/dir/index.html',
    ha1: ha1Verifier('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life'),
    expectedRealm: 'http-auth@example.org',
    expectedOpaque: RFC7616_SHA256.opaque,
    offeredAlgorithms: ['SHA-256'],
    allowedQops: ['auth'],
    allowNoQop: false,
  };
  assert.equal(verifyDigest(base).ok, true);
  const reason = (input: DigestVerifyInput) => {
    const v = verifyDigest(input);
    assert.equal(v.ok, false);
    return v.ok ? '' : `${v.reason} ${v.wrongPassword ? '(wrong password)' : ''}`;
  };
  assert.match(reason({ ...base, offeredAlgorithms: ['MD5', 'SHA-512-256'] }), /did not offer/);
  assert.match(reason({ ...base, credentials: { ...c, algorithm: 'SHA-512' } }), /does not implement/);
  assert.match(reason({ ...base, allowedQops: ['auth-int'] }), /qop .* not offered/);
  assert.match(reason({ ...base, credentials: { ...c, qop: 'Auth' } }), /qop .* not offered/);
  assert.match(reason({ ...base, expectedRealm: 'other' }), /realm/);
  assert.match(reason({ ...base, expectedOpaque: 'other' }), /opaque/);
  const { opaque: _dropped, ...withoutOpaque } = c;
  assert.match(reason({ ...base, credentials: withoutOpaque }), /opaque/);
  assert.match(reason({ ...base, credentials: { ...c, response: c.response.slice(0, 32) } }), /64 hexadecimal/);
  assert.match(reason({ ...base, credentials: { ...c, response: `${c.response.slice(0, 63)}g` } }), /64 hexadecimal/);
  assert.match(reason({ ...base, ha1: ha1Verifier('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life') }), /stored Digest verifier/);
  assert.match(reason({ ...base, method: 'POST' }), /\(wrong password\)/);
  // Case of the hex does not matter; the algorithm name's case neither (RFC 7616 tokens).
  assert.equal(verifyDigest({ ...base, credentials: { ...c, response: c.response.toUpperCase(), algorithm: 'sha-256' } }).ok, true);
});

test('qop=auth-int covers the body: needs its hash, and another body is refused', () => {
  const s: Scenario = { algorithm: 'SHA-256-sess', qop: 'auth-int', user: 'u', password: 'p', realm: 'r', method: 'POST', uri: '/x', nonce: 'n', cnonce: 'c', nc: 1, body: 'hello' };
  const c = credentialsFor(s);
  const input = inputFor(s, c);
  assert.equal(verifyDigest(input).ok, true);
  const { entityBodyHash: _h, ...noBody } = input;
  const v = verifyDigest(noBody);
  assert.equal(!v.ok && v.reason, 'qop=auth-int needs the hash of the request body, which was not computed');
  const other = verifyDigest({ ...input, entityBodyHash: digestHex('SHA-256', 'hellO') });
  assert.equal(!other.ok && other.wrongPassword, true);
  assert.equal(verifyDigest({ ...input, entityBodyHash: digestHex('MD5', 'hello') }).ok, false);
});

test('RFC 2069 mode (no qop): only when allowed, only with MD5', () => {
  // RFC 2069 §2.4's example (password "CircleOfLife"); the RFC prints e966c932…, its erratum gives this value.
  const ha1 = ha1Verifier('MD5', 'Mufasa', 'testrealm@host.com', 'CircleOfLife');
  const response = responseFor({ algorithm: 'MD5', ha1, method: 'GET', uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093' });
  assert.equal(response, '1949323746fe6a43ef61f9606e7febea');
  const c = parse(`username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="${response}", opaque="5ccc069c403ebaf9f0171e9517f40e41"`);
  const input: DigestVerifyInput = { credentials: c, method: 'GET', requestTarget: '/dir/index.html', ha1, expectedRealm: 'testrealm@host.com', offeredAlgorithms: DIGEST_ALGORITHMS, allowedQops: ['auth'], allowNoQop: true };
  assert.deepEqual(verifyDigest(input), { ok: true, algorithm: 'MD5', qop: undefined, detail: 'MD5, no qop (RFC 2069)' });
  const refused = verifyDigest({ ...input, allowNoQop: false });
  assert.equal(!refused.ok && refused.reason, 'the credentials have no qop (RFC 2069 mode is not allowed)');
  const sha = verifyDigest({ ...input, credentials: { ...c, algorithm: 'SHA-256' }, ha1: ha1Verifier('SHA-256', 'Mufasa', 'testrealm@host.com', 'CircleOfLife') });
  assert.equal(sha.ok, false);
  const sess = verifyDigest({ ...input, credentials: { ...c, algorithm: 'MD5-sess' } });
  assert.equal(sess.ok, false);
});

test('uri matching: what is accepted, exactly', () => {
  const yes: [string, string, string?][] = [
    ['/a/b?c=d', '/a/b?c=d'],
    ['*', '*'],
    ['http://Example.COM:8080/a?b', 'HTTP://example.com:8080/a?b'],
    ['/a?b', 'http://example.com/a?b', 'example.com'],
    ['https://example.com/a?b', '/a?b', 'EXAMPLE.com'],
    ['http://example.com', '/', 'example.com'],
  ];
  const no: [string, string, string?][] = [
    ['/a/b', '/a/b?c=d'],
    ['/a/b?c=d', '/a/b'],
    ['/A/b', '/a/b'],
    ['/a/%62', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/b/', '/a/b'],
    ['http://example.com/a', 'http://example.org/a'],
    ['http://example.com/a', 'https://example.com:80/a'],
    ['/a?b', 'http://example.com/a?b'],
    ['/a?b', 'http://example.com/a?b', 'evil.example'],
    ['ftp://example.com/a', '/a', 'example.com'],
    ['a', '/a'],
    ['*', '/'],
  ];
  for (const [uri, target, host] of yes) assert.equal(uriMatchesTarget(uri, target, host), true, `${uri} vs ${target} (host ${host})`);
  for (const [uri, target, host] of no) assert.equal(uriMatchesTarget(uri, target, host), false, `${uri} vs ${target} (host ${host})`);
});

const PYTHON_CLIENTS = `
import json, sys, urllib.request
from requests.auth import HTTPDigestAuth

out = []
for c in json.load(open(sys.argv[1], encoding='utf-8')):
    if c['client'] == 'requests':
        auth = HTTPDigestAuth(c['user'], c['password'])
        auth.init_per_thread_state()
        auth._thread_local.chal = c['chal']
        # Two requests with the same nonce: nc 00000001 then 00000002.
        out.append([auth.build_digest_header(c['method'], c['url']), auth.build_digest_header(c['method'], c['url'])])
    else:
        mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        mgr.add_password(None, c['url'], c['user'], c['password'])
        handler = urllib.request.HTTPDigestAuthHandler(mgr)
        req = urllib.request.Request(c['url'], method=c['method'])
        first = handler.get_authorization(req, c['chal'])
        out.append([first, handler.get_authorization(req, c['chal'])])
print(json.dumps(out))
`;

test('responses computed by Python requests (HTTPDigestAuth) and urllib are accepted, nc counting up', async () => {
  const nonce = 'AAABm0i2rAAxMjM0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcA';
  const cases = [
    { client: 'requests', algorithm: 'MD5', user: 'Mufasa', password: 'Circle of Life' },
    { client: 'requests', algorithm: 'MD5-sess', user: 'Mufasa', password: 'Circle of Life' },
    { client: 'requests', algorithm: 'SHA-256', user: 'Mufasa', password: 'Circle of Life' },
    // requests sends the name as latin1 bytes but hashes it as UTF-8: our parser reads the bytes back as ISO-8859-1.
    { client: 'requests', algorithm: 'SHA-256', user: 'J\u00e4s\u00f8n Doe', password: 'Secret, or not?' },
    { client: 'urllib', algorithm: 'MD5', user: 'Mufasa', password: 'Circle of Life' },
  ].map((c) => ({
    ...c,
    method: 'GET',
    url: 'http://127.0.0.1:8080/dir/index.html?x=1',
    chal: { realm: 'persona@example.org', nonce, qop: 'auth', algorithm: c.algorithm, opaque: 'op' },
  }));
  const headers = (await runPython(PYTHON_CLIENTS, cases)) as [string, string][];
  assert.equal(headers.length, cases.length);
  cases.forEach((k, i) => {
    const pair = headers[i] as [string, string];
    pair.forEach((header, n) => {
      const rest = header.replace(/^Digest /, '');
      const c = parse(rest);
      assert.equal(c.nc, n + 1, `${k.client} ${k.algorithm}`);
      assert.equal(c.username, k.user);
      const algorithm = k.algorithm as DigestAlgorithm;
      const verdict = verifyDigest({
        credentials: c,
        method: 'GET',
        requestTarget: '/dir/index.html?x=1',
        ha1: ha1Verifier(hashOf(algorithm), k.user, 'persona@example.org', k.password),
        expectedRealm: 'persona@example.org',
        expectedOpaque: 'op',
        offeredAlgorithms: [algorithm],
        allowedQops: ['auth'],
        allowNoQop: false,
      });
      assert.deepEqual(verdict, { ok: true, algorithm, qop: 'auth', detail: `${algorithm}, qop=auth` }, `${k.client} ${k.algorithm}: ${header}`);
    });
  });
});

test('a Python requests response without qop (RFC 2069 server) is accepted only in no-qop mode', async () => {
  const cases = [{ client: 'requests', user: 'Mufasa', password: 'Circle of Life', method: 'PUT', url: 'http://h/a', chal: { realm: 'r', nonce: 'abc' } }];
  const [pair] = (await runPython(PYTHON_CLIENTS, cases)) as [string, string][];
  const c = parse((pair?.[0] ?? '').replace(/^Digest /, ''));
  assert.equal(c.qop, undefined);
  const input: DigestVerifyInput = { credentials: c, method: 'PUT', requestTarget: '/a', ha1: ha1Verifier('MD5', 'Mufasa', 'r', 'Circle of Life'), expectedRealm: 'r', offeredAlgorithms: ['MD5'], allowedQops: ['auth'], allowNoQop: true };
  assert.equal(verifyDigest(input).ok, true);
  assert.equal(verifyDigest({ ...input, allowNoQop: false }).ok, false);
});

test('verifyDigest never throws and never accepts for credentials parsed from mutated headers (fuzz)', () => {
  const mutated = fc
    .tuple(fc.constantFrom(...VECTORS), fc.nat(), fc.nat({ max: 12 }), fc.string({ unit: 'binary', maxLength: 6 }))
    .map(([v, at, del, ins]) => {
      const i = at % (v.header.length + 1);
      return { v, header: v.header.slice(0, i) + ins + v.header.slice(i + del) };
    });
  fc.assert(
    fc.property(mutated, fc.string({ maxLength: 30 }), ({ v, header }, target) => {
      const c = parseDigestAuthorization(header);
      if (isDigestError(c)) return;
      const verdict = verifyDigest({
        credentials: c,
        method: v.method,
        requestTarget: target,
        host: 'example.org',
        ha1: ha1Verifier(credentialsHash(c) ?? 'MD5', v.user, v.realm, v.password),
        expectedRealm: v.realm,
        offeredAlgorithms: DIGEST_ALGORITHMS,
        allowedQops: ALL_QOPS,
        allowNoQop: true,
        entityBodyHash: digestHex(credentialsHash(c) ?? 'MD5', ''),
      });
      // The target is random, so only a target equal to the vector's (or an equivalent uri) could pass.
      if (verdict.ok) assert.ok(uriMatchesTarget(c.uri, target, 'example.org'));
      else assert.equal(typeof verdict.reason, 'string');
    }),
    { numRuns: 3000 },
  );
});
