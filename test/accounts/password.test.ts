import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_SCRYPT_LN, hashPassword, MAX_PASSWORD_LENGTH, passwordProblem, verifierAlgorithm, verifyNothing, verifyPassword } from '../../src/accounts/password.js';

const cheap = { scryptLn: 4 };

test('the production scrypt default is ln=15,r=8,p=1 in PHC form, and verifies', async () => {
  assert.equal(DEFAULT_SCRYPT_LN, 15);
  const stored = await hashPassword('correct horse');
  assert.match(stored, /^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.equal(await verifyPassword(stored, 'correct horse'), true);
  assert.equal(await verifyPassword(stored, 'correct horsf'), false);
  assert.equal(verifierAlgorithm(stored), 'scrypt');
});

test('scrypt: right password true, wrong false, salts differ', async () => {
  const a = await hashPassword('pässwörd', 'scrypt', cheap);
  const b = await hashPassword('pässwörd', 'scrypt', cheap);
  assert.notEqual(a, b);
  assert.match(a, /^\$scrypt\$ln=4,r=8,p=1\$/);
  assert.equal(await verifyPassword(a, 'pässwörd'), true);
  assert.equal(await verifyPassword(b, 'pässwörd'), true);
  assert.equal(await verifyPassword(a, 'Pässwörd'), false);
  assert.equal(await verifyPassword(a, ''), false);
});

test('argon2id: PHC form, right password true, wrong false', async () => {
  const stored = await hashPassword('s3cret', 'argon2id');
  assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.equal(verifierAlgorithm(stored), 'argon2id');
  assert.equal(await verifyPassword(stored, 's3cret'), true);
  assert.equal(await verifyPassword(stored, 's3cret '), false);
});

test('passwords are not normalised: NFC and NFD forms are different passwords (as on Windows)', async () => {
  const nfc = 'caf\u00e9';
  const nfd = 'cafe\u0301';
  const stored = await hashPassword(nfc, 'scrypt', cheap);
  assert.equal(await verifyPassword(stored, nfc), true);
  assert.equal(await verifyPassword(stored, nfd), false);
});

test('the empty password can be stored and verified (Windows allows blank passwords)', async () => {
  const stored = await hashPassword('', 'scrypt', cheap);
  assert.equal(await verifyPassword(stored, ''), true);
  assert.equal(await verifyPassword(stored, ' '), false);
});

test('passwords that cannot be set: too long, lone surrogates; they never verify either', async () => {
  assert.equal(passwordProblem('x'.repeat(MAX_PASSWORD_LENGTH)), null);
  assert.match(passwordProblem('x'.repeat(MAX_PASSWORD_LENGTH + 1)) ?? '', /longer/);
  assert.match(passwordProblem('a\ud800b') ?? '', /surrogate/);
  await assert.rejects(hashPassword('a\ud800b', 'scrypt', cheap), /surrogate/);
  // A lone surrogate encodes to U+FFFD in UTF-8: it must not match a password that really contains U+FFFD.
  const stored = await hashPassword('a\ufffdb', 'scrypt', cheap);
  assert.equal(await verifyPassword(stored, 'a\ufffdb'), true);
  assert.equal(await verifyPassword(stored, 'a\ud800b'), false);
});

test('scrypt cost out of range is refused when hashing', async () => {
  await assert.rejects(hashPassword('x', 'scrypt', { scryptLn: 0 }), /ln/);
  await assert.rejects(hashPassword('x', 'scrypt', { scryptLn: 21 }), /ln/);
  await assert.rejects(hashPassword('x', 'md5' as never, cheap), /unknown verifier algorithm/);
});

test('malformed stored values verify false and never throw', async () => {
  const good = await hashPassword('pw', 'scrypt', cheap);
  const goodArgon = await hashPassword('pw', 'argon2id');
  const [, , params, salt, hash] = good.split('$');
  const cases = [
    '',
    'pw',
    '$scrypt$',
    `$scrypt$${params}$${salt}`,
    `$scrypt$${params}$${salt}$${hash}$`,
    `$scrypt$ln=0,r=8,p=1$${salt}$${hash}`,
    `$scrypt$ln=40,r=8,p=1$${salt}$${hash}`, // would need terabytes: refused, not attempted
    `$scrypt$ln=4,r=0,p=1$${salt}$${hash}`,
    `$scrypt$ln=4,r=8,p=1$${salt}=$${hash}`,
    `$scrypt$ln=4,r=8,p=1$${salt}$${hash!.slice(0, 10)}`,
    `$scrypt$ln=4,r=8,p=1$!!!!!!!!!!!!!!!!!!!!!!$${hash}`,
    `$scrypt$ln=4,r=8,p=1$${salt}$${hash!.slice(0, -1)}B`, // not the canonical encoding of any bytes
    goodArgon.replace('$v=19$', '$v=16$'),
    goodArgon.replace('m=19456', 'm=999999999'),
    goodArgon.replace('t=2', 't=0'),
    goodArgon.replace('$argon2id$', '$argon2i$'),
    good.replace(hash!, hash!.slice(0, -2) + (hash!.endsWith('AA') ? 'BA' : 'AA')), // well-formed, wrong hash
  ];
  for (const stored of cases) assert.equal(await verifyPassword(stored, 'pw'), false, stored);
  assert.equal(await verifyPassword(null as never, 'pw'), false);
  assert.equal(await verifyPassword(good, undefined as never), false);
});

test('property: verifyPassword on arbitrary stored text answers false without throwing', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 200 }), fc.string({ maxLength: 20 }), async (stored, password) => {
      assert.equal(await verifyPassword(stored, password), false);
    }),
    { numRuns: 300 },
  );
});

test('property: verifyPassword on mutations of a real verifier never throws, and only the original text verifies', async () => {
  const good = await hashPassword('pw', 'scrypt', cheap);
  await fc.assert(
    fc.asyncProperty(fc.nat(good.length - 1), fc.string({ minLength: 1, maxLength: 3 }), async (at, insert) => {
      const mutated = good.slice(0, at) + insert + good.slice(at + 1);
      const ok = await verifyPassword(mutated, 'pw');
      if (mutated !== good) {
        // Only a change that decodes to the same bytes and parameters could still verify; our strict decoding allows none.
        assert.equal(ok, false, mutated);
      }
    }),
    { numRuns: 200 },
  );
});

test('property: any well-formed password verifies against its own hash and not against another', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }), async (a, b) => {
      const stored = await hashPassword(a, 'scrypt', { scryptLn: 1 });
      assert.equal(await verifyPassword(stored, a), true);
      assert.equal(await verifyPassword(stored, b), a === b);
    }),
    { numRuns: 100 },
  );
});

test('verifyNothing spends a verification and answers false', async () => {
  assert.equal(await verifyNothing('anything'), false);
});
