/**
 * The token cache (IIS UserTokenTTL, MODEL.md §3): a password logon costs a slow hash, so the token it made is
 * reused for the same credentials for `ttlMs`. Unlike IIS, which keeps an old password working until the entry
 * expires, an entry is used only while the account's stamp is the one saved with it: a password change, disable,
 * lockout, group or rights change — made by this process or by the CLI on the same database — ends it at once.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { AccountStore } from '../accounts/types.js';
import type { Token } from './token.js';

interface Entry {
  readonly token: Token;
  readonly stamp: { readonly user: number; readonly epoch: number };
  /** The store's change version when the stamp was last confirmed; '' = never (confirm on first use). */
  confirmedAt: string;
  readonly expiresAt: number;
  /** `#uses` when the entry was last put at the end of the order. */
  movedAt: number;
}

export class TokenCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** Never leaves the process: without it, a key (kept in memory, maybe in a core dump) cannot be tested against guesses. */
  readonly #hmacKey = randomBytes(32);
  /** Insertion order ≈ least recently used first (a hit moves its entry to the end, see `get`). */
  readonly #entries = new Map<string, Entry>();
  /** Hits and puts so far: each can put one entry at the end. */
  #uses = 0;

  constructor(options: { ttlMs: number; maxEntries: number; now?: () => number }) {
    this.#ttlMs = Math.max(0, options.ttlMs);
    this.#maxEntries = Math.max(0, Math.floor(options.maxEntries));
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Keyed by HMAC-SHA-256 under a per-process random key over (package, domain, user, password, logonMethod, realm) —
   * never the password itself. Each part is length-prefixed, so ('ab', 'c') and ('a', 'bc') are different keys.
   */
  key(parts: readonly string[]): string {
    const mac = createHmac('sha256', this.#hmacKey);
    for (const part of parts) {
      const bytes = Buffer.from(part, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      mac.update(length).update(bytes);
    }
    return mac.digest('hex');
  }

  /** The cached token, valid only while its TTL has not expired AND the store's current stamp for its user is the saved one. */
  get(key: string, store: AccountStore): Token | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    // The change may come from another process, which cannot tell us: the stamp is read again whenever the store's
    // change version moved since this entry was last confirmed (at most once per event-loop iteration under load).
    const version = store.changeVersion();
    if (entry.confirmedAt !== version) {
      const current = store.currentStamp(entry.token.user.sid);
      if (current === undefined || current.user !== entry.stamp.user || current.epoch !== entry.stamp.epoch) {
        this.#entries.delete(key);
        return undefined;
      }
      entry.confirmedAt = version;
    }
    // Moving an entry (delete + set) on every hit makes a small Map shrink and grow again each time, a measurable
    // part of a keep-alive Digest request. An entry moved within the last maxEntries/2 hits stays where it is: fewer
    // than maxEntries/2 entries can have been put behind it since, so it is still in the newer half of the order and
    // far from eviction. (`#uses` counts puts as well, so that holds however the entries behind it got there.)
    this.#uses++;
    if (this.#uses - entry.movedAt > this.#maxEntries / 2) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      entry.movedAt = this.#uses;
    }
    return entry.token;
  }

  /**
   * `stamp` must be read from the store BEFORE the logon that made the token: a change that lands during the logon
   * then makes the entry stale at once, instead of being hidden by a stamp read after it.
   */
  put(key: string, token: Token, stamp: { user: number; epoch: number }): void {
    if (this.#ttlMs === 0 || this.#maxEntries === 0) return; // userTokenTTL 0 disables the cache
    this.#uses++;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, { token, stamp: { user: stamp.user, epoch: stamp.epoch }, expiresAt: this.#now() + this.#ttlMs, confirmedAt: '', movedAt: this.#uses });
  }

  clear(): void {
    this.#entries.clear();
  }
}
