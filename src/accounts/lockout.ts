/**
 * Account lockout arithmetic (MODEL.md §2, Windows' policy): pure functions over one user's counters, so the store's
 * transaction only reads, applies and writes.
 *
 * - A failure counts toward the threshold only while the previous failure is younger than the observation window
 *   (Windows' "reset account lockout counter after": measured from the last failed attempt).
 * - Reaching the threshold locks until now + duration, or until an administrator unlocks when the duration is 0.
 * - An expired lockout is reported as unlocked, and the next failure starts a new count.
 * - Threshold 0 never locks (failures are still counted, for `user show`).
 * - While locked, failures do not change anything: the logon is refused before the password is looked at.
 */
import type { LockoutPolicy, LockoutState } from './types.js';

export interface LockoutCounters {
  readonly failures: number;
  /** Epoch ms of the last counted failure, or null. */
  readonly lastFailureAt: number | null;
  readonly locked: boolean;
  /** Epoch ms when the lock ends; null with `locked` = until unlocked. */
  readonly lockedUntil: number | null;
}

export const CLEAR_COUNTERS: LockoutCounters = { failures: 0, lastFailureAt: null, locked: false, lockedUntil: null };

export function isLockedAt(c: LockoutCounters, now: number): boolean {
  return c.locked && (c.lockedUntil === null || now < c.lockedUntil);
}

export function lockoutStateAt(c: LockoutCounters, policy: LockoutPolicy, now: number): LockoutState {
  if (isLockedAt(c, now)) return { failures: c.failures, lockedOut: true, lockedUntil: c.lockedUntil };
  if (c.locked) return { failures: 0, lockedOut: false, lockedUntil: null }; // the lockout expired: a new count starts
  return { failures: countsAt(c, policy, now) ? c.failures : 0, lockedOut: false, lockedUntil: null };
}

/** The counters after one more failed attempt at `now`, and whether this attempt locked the account. */
export function afterFailure(c: LockoutCounters, policy: LockoutPolicy, now: number): { readonly next: LockoutCounters; readonly lockedNow: boolean } {
  if (isLockedAt(c, now)) return { next: c, lockedNow: false };
  const previous = !c.locked && countsAt(c, policy, now) ? c.failures : 0;
  const failures = previous + 1;
  if (policy.threshold > 0 && failures >= policy.threshold) {
    const lockedUntil = policy.durationSeconds === 0 ? null : now + policy.durationSeconds * 1000;
    return { next: { failures, lastFailureAt: now, locked: true, lockedUntil }, lockedNow: true };
  }
  return { next: { failures, lastFailureAt: now, locked: false, lockedUntil: null }, lockedNow: false };
}

/** Whether the stored count still counts at `now` (the last failure is inside the observation window). */
function countsAt(c: LockoutCounters, policy: LockoutPolicy, now: number): boolean {
  return c.lastFailureAt !== null && now - c.lastFailureAt < policy.observationWindowSeconds * 1000;
}
