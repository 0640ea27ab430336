/**
 * Digest challenges (RFC 7616 §3.3): one `WWW-Authenticate` value per offered algorithm, strongest first (§3.7:
 * "the server ... SHOULD list the preferred algorithm first"; a client picks the first it supports).
 *
 * Quoting follows the RFC 7616 examples: realm, nonce, opaque and qop are quoted strings; algorithm, stale, charset
 * and userhash are tokens. qop is a quoted, comma-separated list (`qop="auth, auth-int"`, §3.9.1).
 */
import { strongestFirst, type DigestAlgorithm } from './algorithms.js';
import type { DigestQop } from './authorization.js';
import { quoteParam } from './parameters.js';

export interface DigestChallengeInput {
  readonly realm: string;
  readonly algorithm: DigestAlgorithm;
  /** The qop values offered; at least one (RFC 7616 §3.3: qop is REQUIRED in a challenge). */
  readonly qop: readonly DigestQop[];
  readonly nonce: string;
  readonly opaque?: string;
  /** The request's nonce was valid but expired: the client may retry with the new nonce without asking the user. */
  readonly stale?: boolean;
  /** Ask the client to send H(user ":" realm) instead of the user name. */
  readonly userhash?: boolean;
  /** Announce that user names and passwords are UTF-8 (the only value RFC 7616 allows). Default true. */
  readonly charset?: boolean;
}

/** One challenge value, starting with the scheme name: `Digest realm="…", qop="auth", algorithm=SHA-256, …`. */
export function digestChallenge(c: DigestChallengeInput): string {
  // The realm is configuration text; on the wire it is UTF-8 bytes, which Node writes from latin1 characters.
  const parts = [`realm=${quoteParam(Buffer.from(c.realm, 'utf8').toString('latin1'))}`];
  if (c.qop.length > 0) parts.push(`qop=${quoteParam([...new Set(c.qop)].join(', '))}`);
  parts.push(`algorithm=${c.algorithm}`);
  parts.push(`nonce=${quoteParam(c.nonce)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quoteParam(c.opaque)}`);
  if (c.stale) parts.push('stale=true');
  if (c.charset ?? true) parts.push('charset=UTF-8');
  if (c.userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}

/** What the challenge lines depend on: the digest settings with the realm resolved (e.g. to the host name). */
export interface DigestChallengeSettings {
  readonly realm: string;
  readonly algorithms: readonly DigestAlgorithm[];
  readonly qop: readonly DigestQop[];
  readonly userhash: boolean;
  readonly opaque?: string;
}

/**
 * One challenge per configured algorithm, strongest first whatever the configured order. `nonceFor` makes the
 * nonce of each line (one nonce for all lines is fine too: the nonce does not depend on the algorithm).
 */
export function digestChallenges(settings: DigestChallengeSettings, nonceFor: (algorithm: DigestAlgorithm) => string, stale: boolean): string[] {
  return strongestFirst(settings.algorithms).map((algorithm) => {
    const input: { -readonly [K in keyof DigestChallengeInput]: DigestChallengeInput[K] } = {
      realm: settings.realm,
      algorithm,
      qop: settings.qop,
      nonce: nonceFor(algorithm),
      stale,
      userhash: settings.userhash,
    };
    if (settings.opaque !== undefined) input.opaque = settings.opaque;
    return digestChallenge(input);
  });
}
