/**
 * A keep-alive client's Digest session: the fast path of the provider. A client that reuses its nonce sends, on
 * one connection, the same Authorization header again and again except for the nonce count and the response
 * (reparse.ts). Once such a header has passed the full path (parse, precheck, account, verifier, verifyDigest, nc,
 * token), everything the full path decided from the unchanged parts is still decided the same way as long as
 *
 * - the header differs only in those two spans (template, proven by a probe parse when it was made),
 * - the request has the same method, target and Host, and the location the same Digest settings (the same object:
 *   a reload makes new ones), so algorithm, realm, uri, opaque and qop checks give the same answers,
 * - the account store has not changed (its change version: accounts, verifiers, realms, lockouts, rights),
 * - the nonce has not expired (its issue time was covered by the MAC checked on the full path).
 *
 * What is left per request is what changes: the response is checked with one hash over `before + nc + after`
 * (responseAroundNc, the formula verifyDigest uses), the token-cache entry must still be valid, and the nonce count
 * must grow. Anything else, including a wrong response (which must reach logonUser, to be counted toward lockout),
 * a replayed count, or a changed store, returns undefined and the provider takes the full path, which then answers
 * and explains as it always does.
 */
import { timingSafeEqual } from 'node:crypto';
import type { DigestSettings } from '../../config/schema.js';
import type { SecurityServices } from '../../security/services.js';
import type { Token } from '../../security/token.js';
import { digestHex, HEX_LENGTH, hashOf, type DigestAlgorithm, type DigestHash } from './algorithms.js';
import type { DigestCredentials } from './authorization.js';
import { MAX_FUTURE_SKEW_MS, nonceIssuedAt } from './nonce.js';
import type { NonceCounts } from './nonce-counts.js';
import { changedValues, type DigestTemplate } from './reparse.js';
import { responseAroundNc } from './verify.js';

export interface DigestSession {
  readonly template: DigestTemplate;
  readonly settings: DigestSettings;
  readonly method: string;
  readonly requestTarget: string;
  readonly host: string | undefined;
  /** The store's change version the full path decided under. */
  readonly storeVersion: string;
  readonly nonce: string;
  readonly issuedAt: number;
  readonly lifetimeMs: number;
  readonly counts: NonceCounts;
  readonly hash: DigestHash;
  /**
   * The bytes the response hashes, `before + nc + after` (ASCII: the bytes verifyDigest hashes), with the 8 digits
   * of nc at `ncAt` written over per request: hashing a kept buffer skips building and encoding the string.
   */
  readonly hashed: Buffer;
  readonly ncAt: number;
  /** Room for the given and the expected response, decoded from hex, for timingSafeEqual. */
  readonly given: Buffer;
  readonly expected: Buffer;
  readonly tokenKey: string;
  /** algorithm and qop, for the trace line. */
  readonly detail: string;
}

export interface DigestSessionRequest {
  readonly settings: DigestSettings;
  readonly method: string;
  readonly requestTarget: string;
  readonly host: string | undefined;
  readonly now: number;
}

export interface SessionFacts {
  readonly template: DigestTemplate;
  /** The credentials of the request the full path just accepted (the template's text, or a reparse of it). */
  readonly credentials: DigestCredentials;
  readonly algorithm: DigestAlgorithm;
  readonly ha1: string;
  readonly counts: NonceCounts;
  readonly tokenKey: string;
  readonly storeVersion: string;
  readonly detail: string;
}

/**
 * The session for a request the full path accepted, or undefined when the fast path cannot stand for it: no nc
 * (RFC 2069 mode), qop=auth-int (hashes the body), or text that is not ASCII (hashed differently, see wireBytes).
 */
export function makeDigestSession(request: DigestSessionRequest, facts: SessionFacts): DigestSession | undefined {
  const c = facts.credentials;
  if (c.qop !== 'auth' || c.cnonce === undefined || c.ncText === undefined) return undefined;
  const issuedAt = nonceIssuedAt(c.nonce);
  if (issuedAt === undefined) return undefined;
  const { before, after } = responseAroundNc({ algorithm: facts.algorithm, ha1: facts.ha1, method: request.method, uri: c.uri, nonce: c.nonce, cnonce: c.cnonce, qop: 'auth' });
  if (/[^\x00-\x7f]/.test(before + after)) return undefined;
  const hash = hashOf(facts.algorithm);
  return {
    template: facts.template,
    settings: request.settings,
    method: request.method,
    requestTarget: request.requestTarget,
    host: request.host,
    storeVersion: facts.storeVersion,
    nonce: c.nonce,
    issuedAt,
    lifetimeMs: request.settings.nonceLifetime * 1000,
    counts: facts.counts,
    hash,
    hashed: Buffer.from(`${before}${c.ncText}${after}`, 'latin1'),
    ncAt: before.length,
    given: Buffer.alloc(HEX_LENGTH[hash] / 2),
    expected: Buffer.alloc(HEX_LENGTH[hash] / 2),
    tokenKey: facts.tokenKey,
    detail: facts.detail,
  };
}

/** The token for `text` on the session's connection, or undefined: take the full path. */
export function answerFromSession(session: DigestSession, text: string, request: DigestSessionRequest, security: SecurityServices): { token: Token; how: string } | undefined {
  if (session.settings !== request.settings || session.method !== request.method || session.requestTarget !== request.requestTarget || session.host !== request.host) return undefined;
  const values = changedValues(session.template, text);
  if (values === undefined) return undefined;
  const { now } = request;
  if (now - session.issuedAt > session.lifetimeMs || session.issuedAt > now + MAX_FUTURE_SKEW_MS) return undefined;
  if (security.store.changeVersion() !== session.storeVersion) return undefined;
  const { response, ncText } = values;
  const { given, expected } = session;
  // Hex of the right length, either case (as verifyDigest accepts): decoding stops at the first pair that is not
  // hex, so anything else writes fewer bytes than the buffer holds.
  if (response.length !== 2 * given.length || given.write(response, 0, 'hex') !== given.length) return undefined;
  // Hex output, decoded into a kept buffer: crypto.hash's 'buffer' output allocates and costs several times more.
  session.hashed.write(ncText, session.ncAt, 'latin1');
  expected.write(digestHex(session.hash, session.hashed), 0, 'hex');
  if (!timingSafeEqual(expected, given)) return undefined;
  // Token before count: a count recorded here and then refused for a stale token would look like a replay to the
  // full path that follows.
  const token = security.tokens.get(session.tokenKey, security.store);
  if (token === undefined) return undefined;
  if (session.counts.check(session.nonce, values.nc, now) !== 'accepted') return undefined;
  return { token, how: `Digest, this connection's session: token cache hit for ${token.user.name} (${session.detail}, nc=${values.ncText})` };
}

