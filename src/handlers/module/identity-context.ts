/**
 * The identity of the current async flow: Node cannot change its OS identity per request, so the impersonation
 * travels in an AsyncLocalStorage (MODEL.md §8) and every identity-aware API (persona.fs, spawnAsUser) reads it.
 * `runAs` scopes an identity to `fn` and everything it starts (promises, timers); when `fn` returns, the caller's
 * identity is back — RevertToSelf / ImpersonateLoggedOnUser with the restore built in, so a handler can never
 * leave another flow (another request) impersonating.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CurrentIdentity } from './contract.js';

const storage = new AsyncLocalStorage<CurrentIdentity>();

/** The identity of this async flow, or undefined outside any handler flow. */
export function currentIdentity(): CurrentIdentity | undefined {
  return storage.getStore();
}

/** Runs `fn` (and the async work it starts) as `identity`; the caller's own identity is unchanged. */
export function runAs<T>(identity: CurrentIdentity, fn: () => T): T {
  return storage.run(identity, fn);
}
