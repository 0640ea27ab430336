/**
 * The Digest provider of `authenticateRequest` (RFC 7616, RFC 2617). Digest authenticates each request: the client
 * answers a challenge with a hash over the request and a nonce, and may reuse the nonce on later requests with an
 * increasing nonce count (nc). Every request is checked in full — nonce (MAC and age), nc (never seen before for the
 * nonce), response (against the stored verifier) — only the logon behind it is cached:
 *
 *   parse → precheck (algorithm, realm, uri, opaque, nonce) → account → verifier → verify → nc → token
 *
 * A keep-alive connection whose header then changes only in nc and response is answered by its session
 * (session.ts): the same decisions for the unchanged parts, one hash and the nc check for the changed ones; anything
 * else, a wrong response included, comes back here.
 *
 * The token is a Network logon of package Digest without delegable credentials (MODEL.md §3): Digest never gives
 * the server a password. A new logon goes through logonUser with a proof (lockout, disabled, rights, audit 4624 with
 * the algorithm as `detail`); a request whose account and verifier map to a token-cache entry reuses it (no audit
 * event, as for Basic). A wrong response always goes through logonUser, so it is counted toward lockout.
 */
import { hostname } from 'node:os';
import type { DigestSettings } from '../../config/schema.js';
import { httpError, Win32, withLogonFailure, type HttpError } from '../../pipeline/errors.js';
import type { ConnectionInfo } from '../../server/connection.js';
import { logonUser, ntStatusHex, type NtStatus, type ProofResult } from '../../security/logon.js';
import type { SecurityServices } from '../../security/services.js';
import { LogonType, type Token } from '../../security/token.js';
import { freshChallenges } from '../challenges.js';
import { findDigestAccount, findDigestVerifier, printable } from './account.js';
import { digestHex, type DigestHash } from './algorithms.js';
import { isDigestError, ncHex, parseDigestAuthorization, type DigestCredentials } from './authorization.js';
import { digestIssuer, type DigestIssuer } from './issuer.js';
import { precheckDigest } from './precheck.js';
import { digestTemplate, reparse, type DigestTemplate } from './reparse.js';
import { answerFromSession, makeDigestSession, type DigestSession } from './session.js';
import { verifyDigest, type DigestVerdict } from './verify.js';

export interface DigestRequest {
  readonly connection: ConnectionInfo;
  readonly settings: DigestSettings;
  readonly method: string;
  /** The request line's target as received (req.url). */
  readonly requestTarget: string;
  /** The Host header as sent (for an absolute-form uri), if any. */
  readonly host: string | undefined;
  readonly hasBody: boolean;
  readonly challenges: readonly string[];
  readonly traceId: string;
  readonly now: number;
}

export type DigestOutcome = { readonly token: Token; readonly how: string } | HttpError;

/**
 * What a keep-alive connection remembers between Digest requests: the account and verifier its credentials resolved
 * to, so the next request (new nc, same user) skips the store. Valid only while the token-cache entry it names is
 * (a password change, disable, lockout or group change ends that entry, and with it this memo).
 */
interface ConnectionMemo {
  /** realm, hash, userhash flag and username as sent: what the resolution depended on. */
  readonly who: string;
  readonly nameAsTyped: string;
  readonly ha1: string;
  readonly key: string;
}
const memos = new WeakMap<ConnectionInfo, ConnectionMemo>();

/**
 * The connection's last Digest header and its parse, for the next one (reparse.ts). A template costs a second parse
 * to make, so a client whose headers never match one (a new cnonce per request, as Python requests sends) gets a new
 * template only on every 16th miss; one that matched before gets one at once (it moved to a new nonce).
 */
interface TemplateSlot {
  template: DigestTemplate | undefined;
  hits: number;
  misses: number;
}
const templates = new WeakMap<ConnectionInfo, TemplateSlot>();

/** The connection's keep-alive Digest session (session.ts), made when a request passes the full path. */
const sessions = new WeakMap<ConnectionInfo, DigestSession>();

/** The parse of `rest`, and the connection's template when it describes `rest` (a session can be made from it). */
function parseOn(connection: ConnectionInfo, rest: string): { parsed: ReturnType<typeof parseDigestAuthorization>; template: DigestTemplate | undefined } {
  let slot = templates.get(connection);
  const quick = slot?.template && reparse(slot.template, rest);
  if (quick) {
    (slot as TemplateSlot).hits++;
    return { parsed: quick, template: slot?.template };
  }
  const parsed = parseDigestAuthorization(rest);
  if (isDigestError(parsed)) return { parsed, template: undefined };
  if (!slot) templates.set(connection, (slot = { template: undefined, hits: 0, misses: 0 }));
  if (slot.template === undefined || slot.hits > 0 || ++slot.misses % 16 === 0) {
    slot.template = digestTemplate(rest, parsed);
    slot.hits = 0;
    return { parsed, template: slot.template };
  }
  return { parsed, template: undefined };
}

/** `Authorization: Digest …`. */
export function digest(rest: string, request: DigestRequest, security: SecurityServices): DigestOutcome | Promise<DigestOutcome> {
  const session = sessions.get(request.connection);
  if (session) {
    const fast = answerFromSession(session, rest, request, security);
    if (fast) return fast;
    sessions.delete(request.connection);
  }
  // Read before anything is decided: a change during this request leaves the session made from it unusable.
  const storeVersion = security.store.changeVersion();
  const { parsed, template } = parseOn(request.connection, rest);
  if (isDigestError(parsed)) return httpError(400, 0, `malformed Digest credentials: ${parsed.error}`, Win32.INVALID_PARAMETER);
  const { settings, now } = request;
  const issuer = digestIssuer(security);
  const realm = issuer.realmOf(settings);
  const audit = auditor(request, security, parsed);

  const pre = precheckDigest(parsed, {
    offeredAlgorithms: settings.algorithms,
    realm,
    realmKnown: issuer.hasRealm(realm),
    opaque: issuer.opaqueFor(realm),
    requestTarget: request.requestTarget,
    host: request.host,
    hasBody: request.hasBody,
    nonce: () => issuer.checkNonce(realm, parsed.nonce, now, settings.nonceLifetime),
  });
  if (!pre.ok) {
    audit.failure('STATUS_LOGON_FAILURE', 'STATUS_INVALID_PARAMETER', pre.reason);
    if (pre.tooLarge) return httpError(413, 0, `Digest: ${pre.reason}`, Win32.INVALID_PARAMETER);
    return refused(request, pre.stale ? 'Digest: the nonce is stale; new challenges say stale=true' : `Digest logon refused (why is in the audit log, trace ${request.traceId})`, pre.stale);
  }
  const { hash, algorithm } = pre;
  /** After a success: let the connection's next requests take the fast path. */
  const remember = (ha1: string, tokenKey: string, detail: string): void => {
    if (template === undefined) return;
    const made = makeDigestSession(request, { template, credentials: parsed, algorithm, ha1, counts: issuer.counts(settings.nonceLifetime), tokenKey, storeVersion, detail });
    if (made) sessions.set(request.connection, made);
  };
  const verify = (ha1: string): DigestVerdict =>
    verifyDigest({
      credentials: parsed,
      method: request.method,
      requestTarget: request.requestTarget,
      ...(request.host !== undefined && { host: request.host }),
      ha1,
      expectedRealm: realm,
      ...(parsed.opaque !== undefined && { expectedOpaque: issuer.opaqueFor(realm) }),
      offeredAlgorithms: settings.algorithms,
      allowedQops: settings.qop,
      allowNoQop: settings.allowNoQop,
      // Reached with auth-int only for a request without a body (precheck): H of the empty body.
      ...(parsed.qop === 'auth-int' && { entityBodyHash: emptyBodyHash(hash) }),
    });

  const who = `${realm}\u0000${hash}\u0000${parsed.userhash ? 1 : 0}\u0000${parsed.username}`;
  const memo = memos.get(request.connection);
  if (memo?.who === who) {
    const cached = security.tokens.get(memo.key, security.store);
    if (cached) {
      const fast = cachedLogon(cached, memo.ha1, verify, parsed, request, issuer, audit, (detail) => remember(memo.ha1, memo.key, detail));
      if (fast) return fast;
    } else {
      memos.delete(request.connection);
    }
  }

  const found = findDigestAccount(parsed, realm, hash, security.store, machineNames(security));
  if (!found.ok) {
    audit.failure('STATUS_LOGON_FAILURE', found.unknownUser ? 'STATUS_NO_SUCH_USER' : 'STATUS_LOGON_FAILURE', found.reason, { account: found.account, domain: found.domain });
    return refused(request, `Digest logon failed (why is in the audit log, trace ${request.traceId})`, false);
  }
  const { user, nameAsTyped } = found;
  const verifier = findDigestVerifier(security.store, user, realm, hash, nameAsTyped);
  const key = verifier.ok ? security.tokens.key(['Digest', realm, hash, user.sid, nameAsTyped, verifier.ha1]) : undefined;
  if (verifier.ok && key !== undefined) {
    const cached = security.tokens.get(key, security.store);
    if (cached) {
      const fast = cachedLogon(cached, verifier.ha1, verify, parsed, request, issuer, audit, (detail) => remember(verifier.ha1, key, detail));
      if (fast) {
        if (!isError(fast)) memos.set(request.connection, { who, nameAsTyped, ha1: verifier.ha1, key });
        return fast;
      }
    }
  }
  return newLogon({ parsed, request, security, issuer, verify, realm, hash, userName: user.name, nameAsTyped, key, who, remember });
}

function isError(outcome: DigestOutcome): outcome is HttpError {
  return 'status' in outcome;
}

/**
 * A request whose account already has a cached token: the response must still match (then nc is checked); a
 * mismatch returns undefined, so the caller goes through logonUser, which counts it.
 */
function cachedLogon(
  token: Token,
  ha1: string,
  verify: (ha1: string) => DigestVerdict,
  parsed: DigestCredentials,
  request: DigestRequest,
  issuer: DigestIssuer,
  audit: Auditor,
  remember: (detail: string) => void,
): DigestOutcome | undefined {
  const verdict = verify(ha1);
  if (!verdict.ok) return undefined;
  const counted = countNonce(parsed, request, issuer);
  if (!counted.ok) {
    audit.failure('STATUS_LOGON_FAILURE', 'STATUS_INVALID_PARAMETER', counted.reason, { account: token.user.name.split('\\').pop() ?? token.user.name, sid: token.user.sid });
    return refused(request, `Digest logon refused (why is in the audit log, trace ${request.traceId})`, counted.stale);
  }
  remember(verdict.detail);
  return { token, how: `Digest, token cache hit for ${token.user.name} (${verdict.detail}${parsed.ncText ? `, nc=${parsed.ncText}` : ''})` };
}

/** RFC 7616 §3.4: nc must grow per nonce. Asked only after the response matched (else anyone could burn counts). */
function countNonce(parsed: DigestCredentials, request: DigestRequest, issuer: DigestIssuer): { ok: true } | { ok: false; reason: string; stale: boolean } {
  // RFC 2069 mode (allowNoQop) has no nc: nothing to count, which is why it is off by default.
  if (parsed.nc === undefined) return { ok: true };
  const verdict = issuer.counts(request.settings.nonceLifetime).check(parsed.nonce, parsed.nc, request.now);
  if (verdict === 'accepted') return { ok: true };
  if (verdict === 'replayed') return { ok: false, stale: false, reason: `replay: nc ${ncHex(parsed.nc)} is not above the highest count this worker accepted for the nonce (a replayed or reordered request)` };
  return { ok: false, stale: true, reason: 'the nonce is older than the nonce counts this worker remembers (too many nonces in use): stale=true asks the client for a new one' };
}

interface NewLogonInput {
  readonly parsed: DigestCredentials;
  readonly request: DigestRequest;
  readonly security: SecurityServices;
  readonly issuer: DigestIssuer;
  readonly verify: (ha1: string) => DigestVerdict;
  readonly realm: string;
  readonly hash: DigestHash;
  readonly userName: string;
  readonly nameAsTyped: string;
  readonly key: string | undefined;
  readonly who: string;
  readonly remember: (ha1: string, tokenKey: string, detail: string) => void;
}

async function newLogon(input: NewLogonInput): Promise<DigestOutcome> {
  const { parsed, request, security, issuer, realm, hash, nameAsTyped } = input;
  let detail = '';
  let verdictDetail = '';
  let ha1 = '';
  let stale = false;
  // The stamp is read before the logon, so a change racing with it leaves the cached token already stale.
  const before = security.store.findUser(input.userName);
  const stamp = before ? security.store.currentStamp(before.sid) : undefined;
  const result = await logonUser(
    security.store,
    {
      name: input.userName,
      domain: security.machineName,
      password: '',
      logonMethod: 'Network',
      authPackage: 'Digest',
      defaultLogonDomain: '',
      clientAddress: request.connection.remoteAddress,
      proof: {
        verify: (account): ProofResult => {
          const verifier = findDigestVerifier(security.store, account, realm, hash, nameAsTyped);
          // No verifier is not a wrong password (the user may have typed the right one): not counted.
          if (!verifier.ok) return { ok: false, wrongPassword: false, status: 'STATUS_LOGON_FAILURE', subStatus: 'STATUS_SUCCESS', reason: verifier.reason };
          const verdict = input.verify(verifier.ha1);
          if (!verdict.ok) {
            return verdict.wrongPassword
              ? { ok: false, wrongPassword: true, status: 'STATUS_LOGON_FAILURE', subStatus: 'STATUS_WRONG_PASSWORD', reason: `wrong response: ${verdict.reason}` }
              : { ok: false, wrongPassword: false, status: 'STATUS_LOGON_FAILURE', subStatus: 'STATUS_INVALID_PARAMETER', reason: verdict.reason };
          }
          const counted = countNonce(parsed, request, issuer);
          if (!counted.ok) {
            stale = counted.stale;
            return { ok: false, wrongPassword: false, status: 'STATUS_LOGON_FAILURE', subStatus: 'STATUS_INVALID_PARAMETER', reason: counted.reason };
          }
          ha1 = verifier.ha1;
          verdictDetail = verdict.detail;
          detail = `${verdict.detail}${parsed.userhash ? ', userhash' : ''}${parsed.usernameStar ? ', username*' : ''}`;
          return { ok: true, detail };
        },
      },
    },
    security.audit,
  );
  if (!result.ok) {
    return withLogonFailure(refused(request, stale ? 'Digest: the nonce is no longer tracked; new challenges say stale=true' : `Digest logon failed for "${parsed.userhash ? '(userhash)' : printable(parsed.username)}" (why is in the audit log, trace ${request.traceId})`, stale), result);
  }
  const key = input.key ?? security.tokens.key(['Digest', realm, hash, result.token.user.sid, nameAsTyped, ha1]);
  if (stamp) {
    security.tokens.put(key, result.token, stamp);
    memos.set(request.connection, { who: input.who, nameAsTyped, ha1, key });
    input.remember(ha1, key, verdictDetail);
  }
  return { token: result.token, how: `Digest logon of ${result.token.user.name}: ${detail}` };
}

interface Auditor {
  failure(status: NtStatus, subStatus: NtStatus, reason: string, who?: { account?: string; domain?: string; sid?: string }): void;
}

/** 4625 for refusals decided before logonUser (which writes its own events). */
function auditor(request: DigestRequest, security: SecurityServices, parsed: DigestCredentials): Auditor {
  return {
    failure(status, subStatus, reason, who = {}) {
      security.audit.write({
        eventId: 4625,
        account: who.account ?? (parsed.userhash ? '(userhash)' : printable(parsed.username)),
        domain: who.domain ?? security.machineName,
        ...(who.sid !== undefined && { sid: who.sid }),
        logonType: LogonType.Network,
        package: 'Digest',
        clientAddress: request.connection.remoteAddress,
        status,
        subStatus,
        statusCode: ntStatusHex(status),
        subStatusCode: ntStatusHex(subStatus),
        reason,
        traceId: request.traceId,
      });
    },
  };
}

function refused(request: DigestRequest, reason: string, stale: boolean): HttpError {
  const lines = freshChallenges(request.challenges, stale);
  return httpError(401, 1, reason, Win32.LOGON_FAILURE, lines.length ? { 'WWW-Authenticate': lines } : undefined);
}

const EMPTY_BODY: Partial<Record<DigestHash, string>> = {};
/** H("") for qop=auth-int on a request without a body. */
function emptyBodyHash(hash: DigestHash): string {
  return (EMPTY_BODY[hash] ??= digestHex(hash, Buffer.alloc(0)));
}

let dnsName: string | undefined;
/** The names a client may give this machine as a domain: the NetBIOS name and the DNS host name. */
function machineNames(security: SecurityServices): string[] {
  dnsName ??= hostname().toLowerCase();
  return [security.machineName, dnsName, dnsName.split('.')[0] ?? dnsName];
}
