import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { afterFailure, CLEAR_COUNTERS, isLockedAt, lockoutStateAt, type LockoutCounters } from '../../src/accounts/lockout.js';
import { lockoutPolicyProblem } from '../../src/accounts/builtin.js';
import type { LockoutPolicy } from '../../src/accounts/types.js';

const policy: LockoutPolicy = { threshold: 3, observationWindowSeconds: 60, durationSeconds: 600 };

function fail(c: LockoutCounters, p: LockoutPolicy, ...times: number[]): LockoutCounters {
  for (const t of times) c = afterFailure(c, p, t).next;
  return c;
}

test('failures inside the window add up to the threshold, which locks for the duration', () => {
  const c = fail(CLEAR_COUNTERS, policy, 0, 10_000);
  assert.deepEqual(lockoutStateAt(c, policy, 10_000), { failures: 2, lockedOut: false, lockedUntil: null });
  const third = afterFailure(c, policy, 20_000);
  assert.equal(third.lockedNow, true);
  assert.deepEqual(lockoutStateAt(third.next, policy, 20_000), { failures: 3, lockedOut: true, lockedUntil: 620_000 });
  assert.equal(isLockedAt(third.next, 619_999), true);
  assert.equal(isLockedAt(third.next, 620_000), false);
});

test('the window is measured from the last failure', () => {
  const c = fail(CLEAR_COUNTERS, policy, 0, 50_000, 100_000); // each within 60 s of the previous one
  assert.equal(lockoutStateAt(c, policy, 100_000).lockedOut, true);
  const d = fail(CLEAR_COUNTERS, policy, 0, 59_999, 119_999 + 1); // the third is 60 s after the second: the count restarted
  assert.deepEqual(lockoutStateAt(d, policy, 120_000), { failures: 1, lockedOut: false, lockedUntil: null });
  assert.equal(lockoutStateAt(fail(CLEAR_COUNTERS, policy, 0), policy, 60_000).failures, 0);
});

test('failures while locked change nothing; after expiry a new count starts', () => {
  const locked = fail(CLEAR_COUNTERS, policy, 0, 1, 2);
  const again = afterFailure(locked, policy, 5_000);
  assert.equal(again.lockedNow, false);
  assert.deepEqual(again.next, locked);
  assert.deepEqual(lockoutStateAt(locked, policy, 600_002), { failures: 0, lockedOut: false, lockedUntil: null });
  const after = afterFailure(locked, policy, 600_002);
  assert.equal(after.lockedNow, false);
  assert.deepEqual(lockoutStateAt(after.next, policy, 600_002), { failures: 1, lockedOut: false, lockedUntil: null });
});

test('duration 0 locks until unlocked; threshold 0 never locks', () => {
  const forever = { ...policy, durationSeconds: 0 };
  const c = fail(CLEAR_COUNTERS, forever, 0, 1, 2);
  assert.deepEqual(lockoutStateAt(c, forever, 10 ** 13), { failures: 3, lockedOut: true, lockedUntil: null });
  const never = { ...policy, threshold: 0 };
  const n = fail(CLEAR_COUNTERS, never, ...Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(lockoutStateAt(n, never, 50), { failures: 50, lockedOut: false, lockedUntil: null });
});

test('lockout policy rules (Windows limits)', () => {
  assert.equal(lockoutPolicyProblem({ threshold: 0, observationWindowSeconds: 1800, durationSeconds: 1800 }), null);
  assert.equal(lockoutPolicyProblem({ threshold: 5, observationWindowSeconds: 60, durationSeconds: 0 }), null);
  assert.match(lockoutPolicyProblem({ threshold: 1000, observationWindowSeconds: 60, durationSeconds: 60 }) ?? '', /threshold/);
  assert.match(lockoutPolicyProblem({ threshold: -1, observationWindowSeconds: 60, durationSeconds: 60 }) ?? '', /threshold/);
  assert.match(lockoutPolicyProblem({ threshold: 1.5, observationWindowSeconds: 60, durationSeconds: 60 }) ?? '', /threshold/);
  assert.match(lockoutPolicyProblem({ threshold: 3, observationWindowSeconds: 0, durationSeconds: 60 }) ?? '', /window/);
  assert.match(lockoutPolicyProblem({ threshold: 3, observationWindowSeconds: 120, durationSeconds: 60 }) ?? '', /at least the observation window/);
  assert.match(lockoutPolicyProblem({ threshold: 3, observationWindowSeconds: 60, durationSeconds: 99999 * 60 + 1 }) ?? '', /duration/);
});

test('property: with threshold t > 0, t failures each inside the window lock; fewer never do', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10 }), fc.array(fc.integer({ min: 0, max: 59_999 }), { minLength: 1, maxLength: 12 }), (threshold, gaps) => {
      const p = { ...policy, threshold, durationSeconds: 3600 }; // longer than all the attempts together
      let c = CLEAR_COUNTERS;
      let now = 1_000_000;
      for (const [i, gap] of gaps.entries()) {
        now += gap;
        const r = afterFailure(c, p, now);
        c = r.next;
        assert.equal(r.lockedNow, i + 1 === threshold, `attempt ${i + 1}`);
        assert.equal(lockoutStateAt(c, p, now).lockedOut, i + 1 >= threshold);
      }
    }),
  );
});
