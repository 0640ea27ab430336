/** Digest challenges (RFC 7616 §3.3, §3.7): wire format, strongest first, and parseable by our own list parser. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { digestChallenge, digestChallenges } from '../../../src/auth/digest/challenge.js';
import { DIGEST_ALGORITHMS, type DigestAlgorithm } from '../../../src/auth/digest/algorithms.js';
import { parseAuthParams } from '../../../src/auth/digest/parameters.js';

test('the RFC 7616 §3.9.1 challenge, with the RFC quoting (realm, qop, nonce, opaque quoted; algorithm, charset tokens)', () => {
  assert.equal(
    digestChallenge({
      realm: 'http-auth@example.org',
      algorithm: 'SHA-256',
      qop: ['auth', 'auth-int'],
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    }),
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ' +
      'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", charset=UTF-8',
  );
});

test('stale, userhash, no charset, a realm needing escapes and UTF-8', () => {
  const line = digestChallenge({ realm: 'a "q" \\ \u00e9', algorithm: 'MD5-sess', qop: ['auth'], nonce: 'n', stale: true, userhash: true, charset: false });
  assert.equal(line, 'Digest realm="a \\"q\\" \\\\ \u00c3\u00a9", qop="auth", algorithm=MD5-sess, nonce="n", stale=true, userhash=true');
  const params = parseAuthParams(line.slice('Digest '.length));
  assert.ok(!('error' in params));
  assert.equal(Buffer.from(params.params.get('realm')?.value ?? '', 'latin1').toString('utf8'), 'a "q" \\ \u00e9');
});

test('one line per configured algorithm, strongest first whatever the configured order', () => {
  const nonces: DigestAlgorithm[] = [];
  const lines = digestChallenges(
    { realm: 'r', algorithms: ['MD5', 'SHA-256-sess', 'SHA-512-256', 'SHA-256'], qop: ['auth'], userhash: false, opaque: 'o' },
    (a) => {
      nonces.push(a);
      return `nonce-${a}`;
    },
    true,
  );
  assert.deepEqual(
    lines.map((l) => /algorithm=([^,]+)/.exec(l)?.[1]),
    ['SHA-512-256', 'SHA-256', 'SHA-256-sess', 'MD5'],
  );
  assert.deepEqual(nonces, ['SHA-512-256', 'SHA-256', 'SHA-256-sess', 'MD5']);
  for (const line of lines) {
    assert.match(line, /stale=true/);
    assert.match(line, /opaque="o"/);
    assert.ok(line.includes(`nonce="nonce-${/algorithm=([^,]+)/.exec(line)?.[1]}"`));
  }
});

test('every challenge parses back to its inputs (property)', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)),
      fc.uniqueArray(fc.constantFrom(...DIGEST_ALGORITHMS), { minLength: 1 }),
      fc.uniqueArray(fc.constantFrom('auth' as const, 'auth-int' as const), { minLength: 1 }),
      fc.boolean(),
      fc.boolean(),
      (realm, algorithms, qop, userhash, stale) => {
        const lines = digestChallenges({ realm, algorithms, qop, userhash }, () => 'abc_-123', stale);
        assert.equal(lines.length, algorithms.length);
        for (const line of lines) {
          assert.ok(line.startsWith('Digest '));
          const r = parseAuthParams(line.slice('Digest '.length));
          if ('error' in r) assert.fail(r.error);
          const p = r.params;
          assert.equal(Buffer.from(p.get('realm')?.value ?? '', 'latin1').toString('utf8'), realm);
          assert.deepEqual(p.get('qop')?.value.split(', '), qop);
          assert.equal(p.get('nonce')?.value, 'abc_-123');
          assert.equal(p.get('stale')?.value, stale ? 'true' : undefined);
          assert.equal(p.get('userhash')?.value, userhash ? 'true' : undefined);
          assert.equal(p.get('charset')?.value, 'UTF-8');
        }
      },
    ),
  );
});
