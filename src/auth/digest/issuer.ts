/**
 * The per-process Digest state of a server: the installation's nonce key, the `opaque` derived from it, the realm
 * list of the store (read again only when the store changed), and the nonce counts. One per SecurityServices.
 *
 * Nonces are stateless (nonce.ts) and the key is the state folder's (src/state/digest-key.ts), so any worker
 * validates any nonce, across restarts. Nonce counts are in memory, per worker: enough, because the response hash
 * covers the uri, and a uri belongs to exactly one application pool, hence one worker (nonce-counts.ts).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { DigestSettings } from '../../config/schema.js';
import type { SecurityServices } from '../../security/services.js';
import { digestChallenges } from './challenge.js';
import { checkNonce, makeNonce, MAX_FUTURE_SKEW_MS, nonceIssuedAt, type NonceState } from './nonce.js';
import { NonceCounts } from './nonce-counts.js';

/** What the issuer needs of the security services. */
export type DigestIssuerSource = Pick<SecurityServices, 'machineName' | 'store'> & { readonly digestKey?: Buffer };

export class DigestIssuer {
  readonly #key: Buffer;
  readonly #machineName: string;
  readonly #store: DigestIssuerSource['store'];
  readonly #opaque = new Map<string, string>();
  readonly #counts = new Map<number, NonceCounts>();
  #realms: { readonly version: string; readonly realms: ReadonlySet<string> } | undefined;
  /** Nonces whose MAC verified (realm NUL nonce → issue time), oldest first. */
  readonly #verifiedNonces = new Map<string, number>();

  constructor(source: DigestIssuerSource) {
    // Without the state folder's key (unit tests, an embedded server) a per-process key: nonces then die with the
    // process and are not shared with other workers. `persona serve` always passes the folder's key.
    this.#key = source.digestKey ?? randomBytes(32);
    this.#machineName = source.machineName;
    this.#store = source.store;
  }

  /** The realm of these settings: the configured one, or this machine's name (IIS sends its computer name). */
  realmOf(settings: Pick<DigestSettings, 'realm'>): string {
    return settings.realm === '' ? this.#machineName : settings.realm;
  }

  /**
   * A fixed per-installation, per-realm value (RFC 7616 §3.3 lets the server choose it; clients return it as is).
   * Derived from the key, so every worker sends the same one and a restart keeps it.
   */
  opaqueFor(realm: string): string {
    let value = this.#opaque.get(realm);
    if (value === undefined) {
      value = createHmac('sha256', this.#key).update('persona digest opaque v1\0').update(realm, 'utf8').digest().subarray(0, 16).toString('base64url');
      this.#opaque.set(realm, value);
    }
    return value;
  }

  /** The Digest challenge lines for one 401: one per algorithm, strongest first, sharing one fresh nonce. */
  challengeLines(settings: DigestSettings, stale: boolean, now: number = Date.now()): string[] {
    const realm = this.realmOf(settings);
    const nonce = makeNonce(this.#key, realm, now);
    return digestChallenges({ realm, algorithms: settings.algorithms, qop: settings.qop, userhash: settings.userhash, opaque: this.opaqueFor(realm) }, () => nonce, stale);
  }

  /**
   * checkNonce, with the MAC checked once per nonce: a keep-alive client sends the same nonce on every request, so
   * a nonce whose MAC verified is remembered with its issue time (which the MAC covered) and later requests only
   * check its age. Bounded: the oldest entries go first, and a forgotten nonce is simply MAC-checked again.
   */
  checkNonce(realm: string, nonce: string, now: number, lifetimeSeconds: number): NonceState {
    const id = `${realm}\u0000${nonce}`;
    const issued = this.#verifiedNonces.get(id);
    if (issued !== undefined) return issued > now + MAX_FUTURE_SKEW_MS ? 'invalid' : now - issued > lifetimeSeconds * 1000 ? 'stale' : 'fresh';
    const state = checkNonce(this.#key, realm, nonce, now, lifetimeSeconds);
    if (state === 'fresh') {
      if (this.#verifiedNonces.size >= VERIFIED_NONCES) this.#verifiedNonces.delete(this.#verifiedNonces.keys().next().value as string);
      this.#verifiedNonces.set(id, nonceIssuedAt(nonce) as number);
    }
    return state;
  }

  /** The nonce counts for nonces of this lifetime (the lifetime decides when an entry may be forgotten). */
  counts(lifetimeSeconds: number): NonceCounts {
    let counts = this.#counts.get(lifetimeSeconds);
    if (counts === undefined) this.#counts.set(lifetimeSeconds, (counts = new NonceCounts({ lifetimeSeconds })));
    return counts;
  }

  /** Whether the store keeps verifiers for `realm`; the list is read again only when the store changed. */
  hasRealm(realm: string): boolean {
    const version = this.#store.changeVersion();
    if (this.#realms?.version !== version) this.#realms = { version, realms: new Set(this.#store.digestRealms()) };
    return this.#realms.realms.has(realm);
  }

  realms(): string[] {
    return this.#store.digestRealms();
  }
}

/** Verified nonces remembered per process (about 100 bytes each). */
const VERIFIED_NONCES = 20_000;

const issuers = new WeakMap<object, DigestIssuer>();

/** The issuer of these security services (made on first use, kept as long as they live). */
export function digestIssuer(source: DigestIssuerSource): DigestIssuer {
  let issuer = issuers.get(source);
  if (issuer === undefined) issuers.set(source, (issuer = new DigestIssuer(source)));
  return issuer;
}
