/**
 * The Digest proof (RFC 7616 §3.4.1-§3.4.6, RFC 2617 §3.2.2): do these credentials answer the challenge for this
 * request with the password behind the stored verifier? Pure over strings: nonce validity and nonce counts are
 * the caller's (nonce.ts, nonce-counts.ts), the account lookup too (userhash included).
 *
 *   HA1 = H(user ":" realm ":" password)                      (stored: ha1Verifier)
 *   -sess: HA1 = H(HA1 ":" nonce ":" cnonce)
 *   HA2 = H(method ":" uri)            auth-int: H(method ":" uri ":" H(entity-body))
 *   response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)
 *   no qop (RFC 2069): response = H(HA1 ":" nonce ":" HA2)
 *
 * Header values are hashed as the bytes that were sent: Node gives them as latin1 characters, so such strings are
 * hashed as latin1 (identical to UTF-8 for ASCII, which is all a conforming client sends in these fields).
 */
import { timingSafeEqual } from 'node:crypto';
import { algorithmFromName, digestHex, hashOf, HEX_LENGTH, isSession, type DigestAlgorithm, type DigestHash } from './algorithms.js';
import type { DigestCredentials, DigestQop } from './authorization.js';

export interface DigestVerifyInput {
  readonly credentials: DigestCredentials;
  readonly method: string;
  /** The request line's target, as received (origin-form "/a?b", absolute-form "http://h/a?b", or "*"). */
  readonly requestTarget: string;
  /** The Host header: needed only when one of uri and request target is absolute-form and the other is not. */
  readonly host?: string;
  /** The stored H(user ":" realm ":" password), hex, with the hash of the credentials' algorithm. */
  readonly ha1: string;
  readonly expectedRealm: string;
  /** The opaque the challenge carried, when it carried one: the client must return it unchanged (RFC 7616 §3.3). */
  readonly expectedOpaque?: string;
  readonly offeredAlgorithms: readonly DigestAlgorithm[];
  readonly allowedQops: readonly DigestQop[];
  /**
   * Accept credentials without qop (RFC 2069 clients, kept by RFC 2617 §3.2.2.1 for compatibility). Only with
   * plain MD5: no client of any other algorithm predates qop, and "-sess" needs the cnonce qop brings.
   */
  readonly allowNoQop: boolean;
  /** For qop=auth-int: H(entity-body), hex, with the hash of the credentials' algorithm (see `credentialsHash`). */
  readonly entityBodyHash?: string;
}

export type DigestVerdict =
  | { readonly ok: true; readonly algorithm: DigestAlgorithm; readonly qop: DigestQop | undefined; readonly detail: string }
  | { readonly ok: false; readonly reason: string; readonly wrongPassword: boolean };

/** The hash the credentials' algorithm uses (to pick the stored verifier and hash an auth-int body), if known. */
export function credentialsHash(credentials: Pick<DigestCredentials, 'algorithm'>): DigestHash | undefined {
  const algorithm = algorithmFromName(credentials.algorithm);
  return algorithm && hashOf(algorithm);
}

/**
 * Latin1 bytes for strings of header characters; UTF-8 for text that has characters a header cannot hold. ASCII
 * (all a conforming client sends) is the same in both and is handed over as the string, saving a copy.
 */
function wireBytes(text: string): string | Buffer {
  if (!/[^\x00-\x7f]/.test(text)) return text;
  return /[^\x00-\xff]/.test(text) ? Buffer.from(text, 'utf8') : Buffer.from(text, 'latin1');
}

function h(hash: DigestHash, text: string): string {
  return digestHex(hash, wireBytes(text));
}

// H(A2) = H(method ":" uri) is the same for every request a keep-alive client makes to one URL: kept for the last
// few hundred (method, uri) pairs per hash, so such requests hash once (the response) instead of twice.
const HA2_CACHE_SIZE = 512;
const ha2Cache = new Map<string, string>();
function ha2Of(hash: DigestHash, a2: string): string {
  const key = `${hash}\u0000${a2}`;
  let value = ha2Cache.get(key);
  if (value === undefined) {
    value = h(hash, a2);
    if (ha2Cache.size >= HA2_CACHE_SIZE) ha2Cache.delete(ha2Cache.keys().next().value as string);
    ha2Cache.set(key, value);
  }
  return value;
}

export interface DigestResponseInput {
  readonly algorithm: DigestAlgorithm;
  /** H(user ":" realm ":" password) with hashOf(algorithm): ha1Verifier(...). */
  readonly ha1: string;
  readonly method: string;
  readonly uri: string;
  readonly nonce: string;
  /** With qop: the client nonce and the 8-hex-digit count as sent. */
  readonly cnonce?: string;
  readonly nc?: string;
  readonly qop?: DigestQop;
  readonly entityBodyHash?: string;
}

/**
 * The request-digest a client sends (RFC 7616 §3.4.1), lower-case hex. Used by verifyDigest, by tests and by the
 * load generator. With qop, cnonce and nc must be given; with "-sess", cnonce must be given.
 */
export function responseFor(r: DigestResponseInput): string {
  const hash = hashOf(r.algorithm);
  if (!withQop(r)) {
    const { sessionKey, ha2 } = responseKeys(r);
    return h(hash, `${sessionKey}:${r.nonce}:${ha2}`);
  }
  const { before, after } = responseAroundNc(r);
  return h(hash, `${before}${r.nc ?? ''}${after}`);
}

function withQop(r: DigestResponseInput): r is DigestResponseInput & { readonly qop: DigestQop } {
  return r.qop !== undefined;
}

function responseKeys(r: Omit<DigestResponseInput, 'nc'>): { sessionKey: string; ha2: string } {
  const hash = hashOf(r.algorithm);
  const ha1 = r.ha1.toLowerCase();
  const sessionKey = isSession(r.algorithm) ? h(hash, `${ha1}:${r.nonce}:${r.cnonce ?? ''}`) : ha1;
  const a2 = r.qop === 'auth-int' ? `${r.method}:${r.uri}:${(r.entityBodyHash ?? '').toLowerCase()}` : `${r.method}:${r.uri}`;
  // auth-int's A2 holds the body hash: different for every body, not worth keeping.
  const ha2 = r.qop === 'auth-int' ? h(hash, a2) : ha2Of(hash, a2);
  return { sessionKey, ha2 };
}

/**
 * With qop, the text the response hashes is `before + nc + after` (RFC 7616 §3.4.1: KD(secret, nonce ":" nc ":"
 * cnonce ":" qop ":" H(A2))): everything but the nonce count is fixed while a client reuses its nonce, which the
 * keep-alive fast path (session.ts) relies on. Strings, hashed as wireBytes makes them.
 */
export function responseAroundNc(r: Omit<DigestResponseInput, 'nc' | 'qop'> & { readonly qop: DigestQop }): { before: string; after: string } {
  const { sessionKey, ha2 } = responseKeys(r);
  return { before: `${sessionKey}:${r.nonce}:`, after: `:${r.cnonce ?? ''}:${r.qop}:${ha2}` };
}

interface TargetParts {
  /** Lower-cased "scheme://authority" for absolute-form, undefined for origin-form. */
  readonly origin: string | undefined;
  readonly authority: string | undefined;
  readonly pathAndQuery: string;
}

const ABSOLUTE = /^(https?):\/\/([^/?#]*)(.*)$/i;

function targetParts(target: string): TargetParts | undefined {
  const m = ABSOLUTE.exec(target);
  if (m) {
    const path = m[3] ?? '';
    return {
      origin: `${(m[1] as string).toLowerCase()}://${(m[2] as string).toLowerCase()}`,
      authority: (m[2] as string).toLowerCase(),
      // RFC 9112 §3.2.2: an absolute-form target with an empty path stands for "/".
      pathAndQuery: path === '' ? '/' : path.startsWith('/') ? path : `/${path}`,
    };
  }
  if (target.startsWith('/')) return { origin: undefined, authority: undefined, pathAndQuery: target };
  return undefined;
}

/**
 * RFC 7616 §3.4.6: the `uri` must name the request target. Accepted:
 * - the same text (the normal case; also the only way "*" matches);
 * - both absolute-form (http/https): scheme and authority equal ignoring case, path and query identical;
 * - one absolute-form, the other origin-form (a client behind a proxy, or a proxy that rewrote the request line):
 *   path and query identical, and the absolute one's authority equal (ignoring case) to the Host header; without a
 *   Host header, not accepted.
 * Path and query are compared byte for byte: no percent-decoding, no dot-segment or case normalisation. The
 * response hash covers the uri text, so anything looser would let a signed uri stand for another resource.
 */
export function uriMatchesTarget(uri: string, requestTarget: string, host?: string): boolean {
  if (uri === requestTarget) return true;
  const a = targetParts(uri);
  const b = targetParts(requestTarget);
  if (!a || !b || a.pathAndQuery !== b.pathAndQuery) return false;
  if (a.origin !== undefined && b.origin !== undefined) return a.origin === b.origin;
  const absolute = a.origin !== undefined ? a : b.origin !== undefined ? b : undefined;
  if (!absolute) return false; // both origin-form, yet different text
  return host !== undefined && host.toLowerCase() === absolute.authority;
}

const refuse = (reason: string): DigestVerdict => ({ ok: false, reason, wrongPassword: false });

function isHex(text: string, length: number): boolean {
  return text.length === length && /^[0-9a-fA-F]*$/.test(text);
}

function isQop(text: string): text is DigestQop {
  return text === 'auth' || text === 'auth-int';
}

export function verifyDigest(input: DigestVerifyInput): DigestVerdict {
  const c = input.credentials;
  const algorithm = algorithmFromName(c.algorithm);
  if (!algorithm) return refuse('the credentials use a Digest algorithm this server does not implement');
  if (!input.offeredAlgorithms.includes(algorithm)) return refuse(`the credentials use ${algorithm}, which this server did not offer`);
  const hash = hashOf(algorithm);

  if (c.realm !== input.expectedRealm) return refuse('the realm of the credentials is not the realm of the challenge');
  if (input.expectedOpaque !== undefined && c.opaque !== input.expectedOpaque) return refuse('the opaque value was not returned unchanged');
  if (!uriMatchesTarget(c.uri, input.requestTarget, input.host)) return refuse('the uri of the credentials is not the request target (RFC 7616 §3.4.6)');

  let qop: DigestQop | undefined;
  if (c.qop === undefined) {
    if (!input.allowNoQop) return refuse('the credentials have no qop (RFC 2069 mode is not allowed)');
    if (algorithm !== 'MD5') return refuse(`the credentials have no qop, which is only accepted with MD5, not ${algorithm}`);
  } else {
    if (!isQop(c.qop) || !input.allowedQops.includes(c.qop)) return refuse('the qop of the credentials was not offered');
    qop = c.qop;
    if (c.cnonce === undefined || c.ncText === undefined) return refuse('qop is present but cnonce or nc is missing');
  }
  if (isSession(algorithm) && c.cnonce === undefined) return refuse(`${algorithm} needs a cnonce`);

  let entityBodyHash: string | undefined;
  if (qop === 'auth-int') {
    if (input.entityBodyHash === undefined) return refuse('qop=auth-int needs the hash of the request body, which was not computed');
    if (!isHex(input.entityBodyHash, HEX_LENGTH[hash])) return refuse(`the request body hash is not ${hash} hex`);
    entityBodyHash = input.entityBodyHash;
  }

  if (!isHex(c.response, HEX_LENGTH[hash])) return refuse(`the response is not ${HEX_LENGTH[hash]} hexadecimal digits, as ${algorithm} makes`);
  if (!isHex(input.ha1, HEX_LENGTH[hash])) return refuse(`the stored Digest verifier is not a ${hash} hash`);

  const responseInput: { -readonly [K in keyof DigestResponseInput]: DigestResponseInput[K] } = {
    algorithm,
    ha1: input.ha1,
    method: input.method,
    uri: c.uri,
    nonce: c.nonce,
  };
  if (c.cnonce !== undefined) responseInput.cnonce = c.cnonce;
  if (qop !== undefined) {
    responseInput.qop = qop;
    responseInput.nc = c.ncText as string;
  }
  if (entityBodyHash !== undefined) responseInput.entityBodyHash = entityBodyHash;
  const expected = Buffer.from(responseFor(responseInput), 'latin1');
  const given = Buffer.from(c.response.toLowerCase(), 'latin1');
  // Same length is guaranteed by the hex check above; the comparison itself takes the same time wherever they differ.
  if (!timingSafeEqual(expected, given)) return { ok: false, reason: 'the response does not match: wrong password, or credentials made for another request', wrongPassword: true };
  return { ok: true, algorithm, qop, detail: qop ? `${algorithm}, qop=${qop}` : `${algorithm}, no qop (RFC 2069)` };
}
