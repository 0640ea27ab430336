/**
 * The checks Digest credentials must pass before any account is looked at (pure, each with its reason): they were
 * made for what this URL offered (algorithm, realm, opaque, qop), for this request (uri), with a nonce we issued
 * that has not expired. None of them is a wrong password, so none counts toward lockout.
 */
import { algorithmFromName, hashOf, type DigestAlgorithm, type DigestHash } from './algorithms.js';
import type { DigestCredentials } from './authorization.js';
import type { NonceState } from './nonce.js';
import { uriMatchesTarget } from './verify.js';

export interface DigestPrecheckFacts {
  readonly offeredAlgorithms: readonly DigestAlgorithm[];
  /** The realm this URL offers (configured, or the machine name). */
  readonly realm: string;
  /** Whether the store keeps verifiers for that realm (`persona digest realms`). */
  readonly realmKnown: boolean;
  readonly opaque: string;
  readonly requestTarget: string;
  readonly host: string | undefined;
  /** The request carries a body (Content-Length above 0, or Transfer-Encoding). */
  readonly hasBody: boolean;
  /** checkNonce's answer for the credentials' nonce (asked by the caller: it holds the key). */
  readonly nonce: () => NonceState;
}

export type DigestPrecheck =
  | { readonly ok: true; readonly algorithm: DigestAlgorithm; readonly hash: DigestHash }
  | {
      readonly ok: false;
      readonly reason: string;
      /** The nonce expired: answer with new challenges marked stale=true. */
      readonly stale: boolean;
      /** 413 rather than 401: the request cannot be authenticated this way whatever the credentials. */
      readonly tooLarge: boolean;
    };

const refuse = (reason: string, extra: { stale?: boolean; tooLarge?: boolean } = {}): DigestPrecheck => ({ ok: false, reason, stale: extra.stale ?? false, tooLarge: extra.tooLarge ?? false });

export function precheckDigest(c: DigestCredentials, facts: DigestPrecheckFacts): DigestPrecheck {
  const algorithm = algorithmFromName(c.algorithm);
  if (!algorithm) return refuse(`algorithm not offered: the credentials use "${c.algorithm.slice(0, 40).replace(/[^\x21-\x7e]/g, '?')}", which this server does not implement`);
  if (!facts.offeredAlgorithms.includes(algorithm)) return refuse(`algorithm not offered: the credentials use ${algorithm}; this URL offers ${facts.offeredAlgorithms.join(', ')}`);
  if (c.realm !== facts.realm) return refuse(`realm mismatch: the credentials were made for realm ${JSON.stringify(c.realm.slice(0, 100))}, this URL's realm is ${JSON.stringify(facts.realm)}`);
  if (!facts.realmKnown) {
    return refuse(
      `the realm "${facts.realm}" has no Digest verifiers: the account store makes them only for its realms (persona digest realms add "${facts.realm}", ` +
        'then set the Digest users\' passwords again), or set authentication.digest.realm to one of them (persona digest realms)',
    );
  }
  if (!uriMatchesTarget(c.uri, facts.requestTarget, facts.host)) return refuse('uri mismatch: the uri of the credentials is not the request target (RFC 7616 §3.4.6)');
  // RFC 7616 §3.3: the client returns opaque unchanged. Checked when present; a client that drops it loses nothing
  // we rely on (the value is fixed per installation and realm, not a secret).
  if (c.opaque !== undefined && c.opaque !== facts.opaque) return refuse('the opaque value is not the one this server sends');
  if (c.qop === 'auth-int' && facts.hasBody) {
    return refuse(
      'qop=auth-int covers the request body, which Persona does not read before authentication (handlers stream it): ' +
        'auth-int is accepted for requests without a body; use qop=auth',
      { tooLarge: true },
    );
  }
  const nonce = facts.nonce();
  if (nonce === 'invalid') return refuse('the nonce was not issued by this server for this realm (forged, mangled, or made with another key)');
  if (nonce === 'stale') return refuse('stale nonce: it expired (authentication.digest.nonceLifetime); new challenges carry stale=true', { stale: true });
  return { ok: true, algorithm, hash: hashOf(algorithm) };
}
