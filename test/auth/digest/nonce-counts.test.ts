/** Nonce counts: strictly increasing per nonce (RFC 7616 §3.4), against a model; expiry and the memory bound. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NonceCounts } from '../../../src/auth/digest/nonce-counts.js';
import { makeNonce } from '../../../src/auth/digest/nonce.js';

const KEY = Buffer.alloc(32, 9);
const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);

test('replays and counts that go backwards are refused; gaps are allowed', () => {
  const counts = new NonceCounts({ lifetimeSeconds: 300 });
  const n = makeNonce(KEY, 'r', T0);
  assert.equal(counts.check(n, 1, T0), 'accepted');
  assert.equal(counts.check(n, 1, T0), 'replayed');
  assert.equal(counts.check(n, 3, T0), 'accepted');
  assert.equal(counts.check(n, 2, T0), 'replayed');
  assert.equal(counts.accept(n, 4, T0), true);
  const other = makeNonce(KEY, 'r', T0);
  assert.equal(counts.accept(other, 1, T0), true, 'counts are per nonce');
});

test('monotonicity against a model (property)', () => {
  const nonces = Array.from({ length: 5 }, (_, i) => makeNonce(KEY, 'r', T0 + i));
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: nonces.length - 1 }), fc.integer({ min: 1, max: 20 })), { maxLength: 200 }), (ops) => {
      const counts = new NonceCounts({ lifetimeSeconds: 300 });
      const model = new Map<number, number>();
      for (const [which, nc] of ops) {
        const expected = nc > (model.get(which) ?? 0);
        assert.equal(counts.accept(nonces[which] as string, nc, T0), expected);
        if (expected) model.set(which, nc);
      }
      assert.equal(counts.size, model.size);
    }),
  );
});

test('entries are dropped once their nonce has expired', () => {
  const counts = new NonceCounts({ lifetimeSeconds: 10 });
  const n = makeNonce(KEY, 'r', T0);
  assert.ok(counts.accept(n, 1, T0));
  assert.equal(counts.size, 1);
  assert.ok(counts.accept(makeNonce(KEY, 'r', T0 + 5_000), 1, T0 + 5_000));
  assert.equal(counts.size, 2, 'still within the lifetime (and the margin)');
  counts.accept(makeNonce(KEY, 'r', T0 + 3_600_000), 1, T0 + 3_600_000);
  assert.equal(counts.size, 1, 'the expired entries are gone');
});

test('memory bound: at most maxNonces; a forgotten old nonce is refused, a newer one accepted', () => {
  const counts = new NonceCounts({ lifetimeSeconds: 300, maxNonces: 3 });
  const nonces = Array.from({ length: 5 }, (_, i) => makeNonce(KEY, 'r', T0 + i));
  for (const n of nonces.slice(0, 4)) assert.ok(counts.accept(n, 1, T0 + 10));
  assert.equal(counts.size, 3);
  // nonces[0] was evicted: replaying it must not start a new count.
  assert.equal(counts.check(nonces[0] as string, 1, T0 + 10), 'forgotten');
  assert.equal(counts.check(nonces[0] as string, 2, T0 + 10), 'forgotten');
  assert.equal(counts.check(nonces[4] as string, 1, T0 + 10), 'accepted');
  assert.equal(counts.size, 3);
  // A nonce that was never seen but is older than the evicted one is refused as well.
  assert.equal(counts.check(makeNonce(KEY, 'r', T0 - 1), 1, T0 + 10), 'forgotten');
});

test('replay is refused under any mix of nonces, evictions and time (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: 9 }), fc.integer({ min: 1, max: 10 }), fc.nat({ max: 1000 })), { maxLength: 150 }),
      fc.integer({ min: 1, max: 6 }),
      (ops, maxNonces) => {
        const nonces = Array.from({ length: 10 }, (_, i) => makeNonce(KEY, 'r', T0 + i * 100));
        const counts = new NonceCounts({ lifetimeSeconds: 300, maxNonces });
        const accepted = new Map<number, number>();
        let now = T0;
        for (const [which, nc, dt] of ops) {
          now += dt;
          const ok = counts.accept(nonces[which] as string, nc, now);
          // Whatever was forgotten, a count at or below one already accepted for that nonce never passes again.
          if (ok) {
            assert.ok(nc > (accepted.get(which) ?? 0), `nonce ${which} nc ${nc} accepted twice`);
            accepted.set(which, nc);
          }
          assert.ok(counts.size <= maxNonces);
        }
      },
    ),
  );
});
