/** Digest algorithms: hash functions, verifiers, userhash, strength order, cross-checked with Python's hashlib. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DIGEST_ALGORITHMS,
  algorithmFromName,
  digestHex,
  ha1Verifier,
  hashOf,
  isSession,
  strongestFirst,
  userhashOf,
  type DigestAlgorithm,
  type DigestHash,
} from '../../../src/auth/digest/algorithms.js';
import { runPython } from './python.js';

test('the hash functions give their published values for "abc" (FIPS 180-4 / RFC 1321)', () => {
  assert.equal(digestHex('MD5', 'abc'), '900150983cd24fb0d6963f7d28e17f72');
  assert.equal(digestHex('SHA-256', 'abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  // SHA-512/256 has its own initial values: not the first half of SHA-512("abc") (ddaf35a1…).
  assert.equal(digestHex('SHA-512-256', 'abc'), '53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23');
});

test('hashOf and isSession split every algorithm name', () => {
  const expected: Record<DigestAlgorithm, [DigestHash, boolean]> = {
    MD5: ['MD5', false],
    'MD5-sess': ['MD5', true],
    'SHA-256': ['SHA-256', false],
    'SHA-256-sess': ['SHA-256', true],
    'SHA-512-256': ['SHA-512-256', false],
    'SHA-512-256-sess': ['SHA-512-256', true],
  };
  for (const a of DIGEST_ALGORITHMS) assert.deepEqual([hashOf(a), isSession(a)], expected[a], a);
});

test('algorithm names match case-insensitively; unknown names are undefined', () => {
  assert.equal(algorithmFromName('md5-SESS'), 'MD5-sess');
  assert.equal(algorithmFromName('sha-512-256'), 'SHA-512-256');
  assert.equal(algorithmFromName('SHA-512'), undefined);
  assert.equal(algorithmFromName('SHA'), undefined);
  assert.equal(algorithmFromName(''), undefined);
});

test('strongest first: SHA-512-256 > SHA-256 > MD5, plain before -sess, duplicates dropped', () => {
  assert.deepEqual(strongestFirst(['MD5', 'MD5-sess', 'SHA-256', 'MD5', 'SHA-512-256-sess', 'SHA-512-256']), [
    'SHA-512-256',
    'SHA-512-256-sess',
    'SHA-256',
    'MD5',
    'MD5-sess',
  ]);
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...DIGEST_ALGORITHMS)), (list) => {
      const sorted = strongestFirst(list);
      assert.deepEqual(new Set(sorted), new Set(list));
      assert.deepEqual(sorted, DIGEST_ALGORITHMS.filter((a) => list.includes(a)));
    }),
  );
});

test('verifiers and userhash of the RFC 7616 examples (§3.9.1; §3.9.2 with erratum 4897)', () => {
  assert.equal(ha1Verifier('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life'), digestHex('MD5', 'Mufasa:http-auth@example.org:Circle of Life'));
  // Erratum 4897: the published example was computed with a draft SHA-512/256; these are the FIPS values.
  assert.equal(userhashOf('SHA-512-256', 'J\u00e4s\u00f8n Doe', 'api@example.org'), '793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b');
  assert.notEqual(userhashOf('SHA-512-256', 'J\u00e4s\u00f8n Doe', 'api@example.org'), '488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec');
});

test('digestHex, ha1Verifier and userhashOf agree with Python hashlib on arbitrary Unicode', async () => {
  const cases = fc.sample(
    fc.record({
      hash: fc.constantFrom<DigestHash>('MD5', 'SHA-256', 'SHA-512-256'),
      user: fc.string({ unit: 'binary', maxLength: 20 }),
      realm: fc.string({ unit: 'binary', maxLength: 20 }),
      password: fc.string({ unit: 'binary', maxLength: 20 }),
    }),
    { numRuns: 200, seed: 7616 },
  );
  cases.push({ hash: 'SHA-512-256', user: 'J\u00e4s\u00f8n Doe', realm: 'api@example.org', password: 'Secret, or not?' });
  const program = `
import hashlib, json, sys
names = {'MD5': 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512_256'}
H = lambda h, s: hashlib.new(names[h], s.encode('utf-8')).hexdigest()
cases = json.load(open(sys.argv[1], encoding='utf-8'))
print(json.dumps([[H(c['hash'], c['user'] + ':' + c['realm'] + ':' + c['password']), H(c['hash'], c['user'] + ':' + c['realm'])] for c in cases]))
`;
  const python = (await runPython(program, cases)) as [string, string][];
  assert.equal(python.length, cases.length);
  cases.forEach((c, i) => {
    assert.deepEqual([ha1Verifier(c.hash, c.user, c.realm, c.password), userhashOf(c.hash, c.user, c.realm)], python[i], JSON.stringify(c));
  });
  assert.equal(python.at(-1)?.[1], '793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b');
});
