/** Stateless nonces: fresh, stale, invalid; bound to key and realm; forgeries never fresh. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { MAX_FUTURE_SKEW_MS, NONCE_LENGTH, checkNonce, makeNonce, nonceIssuedAt } from '../../../src/auth/digest/nonce.js';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);

test('a new nonce is fresh within its lifetime, stale after it, and URL-safe', () => {
  const nonce = makeNonce(KEY, 'realm', T0);
  assert.equal(nonce.length, NONCE_LENGTH);
  assert.match(nonce, /^[A-Za-z0-9_-]+$/);
  assert.equal(checkNonce(KEY, 'realm', nonce, T0, 300), 'fresh');
  assert.equal(checkNonce(KEY, 'realm', nonce, T0 + 300_000, 300), 'fresh');
  assert.equal(checkNonce(KEY, 'realm', nonce, T0 + 300_001, 300), 'stale');
  assert.equal(checkNonce(KEY, 'realm', nonce, T0 + 86_400_000 * 365, 300), 'stale');
  assert.equal(nonceIssuedAt(nonce), T0);
});

test('a nonce dated in the future is fresh within the skew and invalid beyond it', () => {
  const nonce = makeNonce(KEY, 'realm', T0 + MAX_FUTURE_SKEW_MS);
  assert.equal(checkNonce(KEY, 'realm', nonce, T0, 300), 'fresh');
  assert.equal(checkNonce(KEY, 'realm', makeNonce(KEY, 'realm', T0 + MAX_FUTURE_SKEW_MS + 1), T0, 300), 'invalid');
});

test('every 401 gets a distinct nonce, even in the same millisecond', () => {
  const nonces = new Set(Array.from({ length: 1000 }, () => makeNonce(KEY, 'realm', T0)));
  assert.equal(nonces.size, 1000);
});

test('the same inputs give the same nonce (the random part is the only variation)', () => {
  const r = Buffer.alloc(12, 7);
  assert.equal(makeNonce(KEY, 'realm', T0, r), makeNonce(KEY, 'realm', T0, r));
});

test('a nonce from another key or another realm is invalid', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), (key, realm, other) => {
      const k = Buffer.from(key);
      const nonce = makeNonce(k, realm, T0);
      assert.equal(checkNonce(k, realm, nonce, T0, 60), 'fresh');
      if (other !== realm) assert.equal(checkNonce(k, other, nonce, T0, 60), 'invalid');
      const otherKey = Buffer.concat([k, Buffer.from([1])]);
      assert.equal(checkNonce(otherKey, realm, nonce, T0, 60), 'invalid');
    }),
  );
});

test('a valid nonce with any byte changed is invalid (the time cannot be moved either)', () => {
  const nonce = makeNonce(KEY, 'realm', T0);
  const bytes = Buffer.from(nonce, 'base64url');
  fc.assert(
    fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const changed = Buffer.from(bytes);
      changed[i] = (changed[i] as number) ^ x;
      assert.equal(checkNonce(KEY, 'realm', changed.toString('base64url'), T0, 300), 'invalid');
    }),
  );
});

test('random bytes and arbitrary strings never check fresh (nor stale)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ minLength: 36, maxLength: 36 }).map((b) => Buffer.from(b).toString('base64url')), fc.string({ unit: 'binary' })), (candidate) => {
      assert.equal(checkNonce(KEY, 'realm', candidate, T0, 300), 'invalid');
    }),
    { numRuns: 5000 },
  );
  assert.equal(checkNonce(KEY, 'realm', randomBytes(36).toString('base64'), T0, 300), 'invalid');
  assert.equal(checkNonce(KEY, 'realm', `${makeNonce(KEY, 'realm', T0)}=`, T0, 300), 'invalid');
  assert.equal(nonceIssuedAt('not a nonce'), undefined);
});
