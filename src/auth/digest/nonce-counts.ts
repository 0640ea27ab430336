/**
 * Nonce counts (RFC 7616 §3.4, §5.2 replay protection): for each nonce, the highest `nc` a verified request used.
 * A request is accepted only when its nc is strictly greater than every nc seen for its nonce, which refuses both a
 * replayed request and counts that go backwards.
 *
 * Per process, in memory. That is enough because each application pool has one worker, so a nonce is only ever
 * checked by that worker; the nonce itself is stateless (nonce.ts) so a restarted worker still validates it, and
 * a restart forgets the counts of nonces it already saw, which is the one window (until the nonces expire) where a
 * replay of a request captured before the restart would be counted as new. Keep nonce lifetimes short.
 *
 * Call `accept` only after verifyDigest said the response is right: otherwise anyone could push a nonce's count to
 * ffffffff with a bogus response and lock its honest client out.
 *
 * Bounded memory: an entry lives until its nonce has expired (then checkNonce answers "stale" before the counts are
 * asked), and at most `maxNonces` entries are kept. When full, the entry seen first is dropped and its nonce's
 * issue time becomes a floor: any unknown nonce issued at or before the floor is refused as "forgotten" (the
 * caller answers stale=true and the client continues with a new nonce) rather than accepted with any count.
 */
import { MAX_FUTURE_SKEW_MS, nonceIssuedAt } from './nonce.js';

export type NonceCountVerdict = 'accepted' | 'replayed' | 'forgotten';

export interface NonceCountsOptions {
  /** The nonce lifetime the provider checks with (seconds). */
  readonly lifetimeSeconds: number;
  /** Most nonces remembered at once. Default 100 000 (a few tens of MB at most). */
  readonly maxNonces?: number;
  /** Issue time of a nonce (ms since the epoch); default: the time nonce.ts writes in it. */
  readonly issuedAt?: (nonce: string) => number | undefined;
}

interface Entry {
  highest: number;
  readonly issuedAt: number;
}

/** Extra time an entry is kept past its nonce's expiry, so that a nonce checked "fresh" never finds it gone. */
const EXPIRY_MARGIN_MS = 60_000 + MAX_FUTURE_SKEW_MS;

export class NonceCounts {
  // Map iteration order is insertion order: the front holds the entries seen first, which expire first.
  private readonly entries = new Map<string, Entry>();
  private readonly lifetimeMs: number;
  private readonly maxNonces: number;
  private readonly issuedAt: (nonce: string) => number | undefined;
  private floor = -Infinity;

  constructor(options: NonceCountsOptions) {
    this.lifetimeMs = options.lifetimeSeconds * 1000;
    this.maxNonces = Math.max(1, options.maxNonces ?? 100_000);
    this.issuedAt = options.issuedAt ?? nonceIssuedAt;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Records `nc` for `nonce` when it is greater than every count seen for it, and says why not otherwise. */
  check(nonce: string, nc: number, now: number = Date.now()): NonceCountVerdict {
    this.expire(now);
    const entry = this.entries.get(nonce);
    if (entry) {
      if (!(nc > entry.highest)) return 'replayed';
      entry.highest = nc;
      return 'accepted';
    }
    const issued = this.issuedAt(nonce);
    if (this.floor !== -Infinity && (issued === undefined || issued <= this.floor)) return 'forgotten';
    while (this.entries.size >= this.maxNonces) this.evictOldest();
    this.entries.set(nonce, { highest: nc, issuedAt: issued ?? now });
    return 'accepted';
  }

  /** True only when `nc` is strictly greater than every count seen for `nonce` (and then records it). */
  accept(nonce: string, nc: number, now: number = Date.now()): boolean {
    return this.check(nonce, nc, now) === 'accepted';
  }

  private expire(now: number): void {
    for (const [nonce, entry] of this.entries) {
      if (entry.issuedAt + this.lifetimeMs + EXPIRY_MARGIN_MS >= now) break;
      this.entries.delete(nonce);
    }
  }

  private evictOldest(): void {
    const first = this.entries.entries().next();
    if (first.done) return;
    const [nonce, entry] = first.value;
    this.entries.delete(nonce);
    this.floor = Math.max(this.floor, entry.issuedAt);
  }
}
