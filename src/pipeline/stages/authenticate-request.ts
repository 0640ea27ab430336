/**
 * Stage `authenticateRequest`: turn the request's credentials into a token (MODEL.md §3, §5), or refuse.
 *
 * - An Authorization header is handled by the provider of its scheme (Basic here; NTLM and Digest in src/auth;
 *   Negotiate and certificates join as providers). Credentials of a scheme this URL does not enable are ignored where anonymous
 *   access is on, and refused with 401.2 and the challenges where it is off.
 * - Without one, the request is anonymous when anonymous authentication is enabled (IUSR, a configured account, or
 *   the process identity), else 401.2 with one challenge per enabled scheme.
 * Reasons that could tell a client which part of a logon was wrong stay in the audit log (MODEL.md §3).
 */
import type { IncomingMessage } from 'node:http';
import type { AuthenticationSettings } from '../../config/schema.js';
import { basicUsable, freshChallenges } from '../../auth/challenges.js';
import { digest } from '../../auth/digest/provider.js';
import { parseAuthorization } from '../../auth/credentials-header.js';
import { parseBasicCredentials } from '../../auth/basic-credentials.js';
import { connectionToken, ntlm } from '../../auth/ntlm/provider.js';
import type { ConnectionInfo } from '../../server/connection.js';
import { logonUser, splitAccountName, type LogonRequest, type LogonResult } from '../../security/logon.js';
import { iusrToken, processIdentityToken } from '../../security/process-identity.js';
import type { SecurityServices } from '../../security/services.js';
import type { Token } from '../../security/token.js';
import { httpError, isHttpError, Win32, withLogonFailure, type HttpError } from '../errors.js';
import { hasRequestBody } from '../body.js';

export interface Authenticated {
  readonly token: Token;
  /** How the token was obtained, for the trace. */
  readonly how: string;
}

export interface AuthenticationInput {
  readonly req: IncomingMessage;
  readonly connection: ConnectionInfo;
  readonly settings: AuthenticationSettings;
  readonly applicationPool: string;
  readonly traceId: string;
  /** The request's host name without the port (NTLM keeps a connection's logon for one host). */
  readonly host: string;
  /**
   * challengesFor(settings, connection, host, security): computed once by the pipeline, used here and by
   * authorization. Memoised lines: a 401 sends them through freshChallenges (Digest lines get a new nonce).
   */
  readonly challenges: readonly string[];
}

/** A 401 carrying the challenges the client may answer (Digest lines with a fresh nonce). */
export function unauthorized(substatus: number, reason: string, challenges: readonly string[], win32 = substatus === 1 ? Win32.LOGON_FAILURE : Win32.ACCESS_DENIED): HttpError {
  const lines = freshChallenges(challenges);
  return httpError(401, substatus, reason, win32, lines.length ? { 'WWW-Authenticate': lines } : undefined);
}

export function enabledSchemes(settings: AuthenticationSettings): string[] {
  return [
    ...(settings.anonymous.enabled ? ['Anonymous'] : []),
    ...(settings.ntlm.enabled ? ['NTLM'] : []),
    ...(settings.digest.enabled ? ['Digest'] : []),
    ...(settings.basic.enabled ? ['Basic'] : []),
  ];
}

/** Synchronous when the answer needs no logon (a token-cache hit, IUSR, the process identity): most requests. */
export function authenticateRequest(input: AuthenticationInput, security: SecurityServices): Authenticated | HttpError | Promise<Authenticated | HttpError> {
  const { req, connection, settings, challenges } = input;
  const credentials = parseAuthorization(req.headers.authorization);
  if (isHttpError(credentials)) return credentials;

  if (credentials) {
    if (credentials.schemeLower === 'basic' && settings.basic.enabled) {
      if (!basicUsable(settings, connection)) {
        return httpError(
          403,
          4,
          'Basic authentication sends the password in clear text: this URL accepts it only over HTTPS or from this machine ' +
            '(authentication.basic.allowCleartext: true accepts it over plain HTTP)',
        );
      }
      return basic(credentials.rest, input, security, challenges);
    }
    if (credentials.schemeLower === 'ntlm' && settings.ntlm.enabled) {
      // The NTLM provider sends the lines as they are: rendered here (handshake legs are few; Digest needs new nonces).
      return ntlm(credentials.rest, { connection, settings: settings.ntlm, host: input.host, challenges: freshChallenges(challenges), traceId: input.traceId, now: Date.now() }, security);
    }
    if (credentials.schemeLower === 'digest' && settings.digest.enabled) {
      return digest(
        credentials.rest,
        {
          connection,
          settings: settings.digest,
          method: req.method ?? 'GET',
          requestTarget: req.url ?? '',
          host: req.headers.host,
          hasBody: hasRequestBody(req),
          challenges,
          traceId: input.traceId,
          now: Date.now(),
        },
        security,
      );
    }
    // Credentials for a scheme this URL does not enable are not an identity here. Where anonymous access is on
    // they are ignored (a browser may send Basic credentials it cached for another path of the site); else 401.2.
    if (!settings.anonymous.enabled) {
      return unauthorized(
        2,
        `the client sent ${credentials.scheme} credentials, which this URL does not accept (enabled: ${enabledSchemes(settings).join(', ') || 'none'})`,
        challenges,
      );
    }
  }

  // A connection that completed an NTLM handshake stays authenticated (IIS authPersistSingleRequest: false).
  if (connection.ntlm !== undefined && settings.ntlm.enabled) {
    const kept = connectionToken({ connection, settings: settings.ntlm, host: input.host }, security);
    if (kept) return kept;
  }
  if (settings.anonymous.enabled) return anonymous(input, security, challenges);
  return unauthorized(
    2,
    challenges.length
      ? 'anonymous access is disabled for this URL: the client must authenticate'
      : 'no authentication method is enabled for this URL (anonymous is off and no scheme is usable on this connection)',
    challenges,
  );
}

function tokenKey(security: SecurityServices, request: LogonRequest, realm: string): string {
  return security.tokens.key([request.authPackage, request.domain?.toUpperCase() ?? '', request.name.toLowerCase(), request.passwordSync ? '' : request.password, request.logonMethod, realm]);
}

/**
 * A password logon for a token-cache miss (MODEL.md §3): logonUser writes one audit event, and the token is cached
 * under the keyed hash of the credentials. (Hits are answered by the callers without this, and write no event.)
 */
async function logonAndCache(security: SecurityServices, key: string, request: LogonRequest): Promise<LogonResult> {
  // The stamp is read before the logon, so a change racing with it leaves the cached token already stale.
  const user = security.store.findUser(request.name);
  const stamp = user ? security.store.currentStamp(user.sid) : undefined;
  const result = await logonUser(security.store, request, security.audit);
  if (!result.ok) return result;
  if (stamp) security.tokens.put(key, result.token, stamp);
  return result;
}

function basic(token68: string, input: AuthenticationInput, security: SecurityServices, challenges: readonly string[]): Authenticated | HttpError | Promise<Authenticated | HttpError> {
  const b = input.settings.basic;
  const settingsId = `${b.logonMethod}\u0000${b.defaultLogonDomain}\u0000${b.realm}`;
  const memo = input.connection.basicMemo;
  if (memo && memo.token68 === token68 && memo.settings === settingsId) {
    const hit = security.tokens.get(memo.key, security.store);
    if (hit) return { token: hit, how: `Basic, token cache hit for ${hit.user.name}` };
  }
  const parsed = parseBasicCredentials(token68);
  if (isHttpError(parsed)) return parsed.status === 401 ? unauthorized(parsed.substatus, parsed.reason, challenges) : parsed;
  const account = splitAccountName(parsed.userId, b.defaultLogonDomain, security.machineName);
  const request: LogonRequest = {
    name: account.name,
    domain: account.domain,
    password: parsed.password,
    logonMethod: b.logonMethod,
    authPackage: 'Basic',
    defaultLogonDomain: b.defaultLogonDomain,
    clientAddress: input.connection.remoteAddress,
  };
  const key = tokenKey(security, request, b.realm);
  input.connection.basicMemo = { token68, settings: settingsId, key };
  const cached = security.tokens.get(key, security.store);
  if (cached) return { token: cached, how: `Basic, token cache hit for ${cached.user.name}` };
  return logonAndCache(security, key, request).then((result) =>
    result.ok
      ? { token: result.token, how: `Basic logon of ${result.token.user.name} (${b.logonMethod})` }
      : withLogonFailure(unauthorized(1, `Basic logon failed for "${parsed.userId.slice(0, 100)}" (why is in the audit log, trace ${input.traceId})`, challenges), result),
  );
}

const BUILT_IN_ANONYMOUS = new Set(['iusr', 'nt authority\\iusr']);

// IUSR and the process identity have no password and nothing in the store to change: one token each is reused, as
// IIS reuses its anonymous token (and the access check's per-token caches keep working).
const iusrTokens = new Map<string, Token>();
const processTokens = new Map<string, Token>();
function memo(cache: Map<string, Token>, key: string, make: () => Token): Token {
  let token = cache.get(key);
  if (!token) cache.set(key, (token = make()));
  return token;
}

function anonymous(input: AuthenticationInput, security: SecurityServices, challenges: readonly string[]): Authenticated | HttpError | Promise<Authenticated | HttpError> {
  const a = input.settings.anonymous;
  if (a.userName === '') {
    const token = memo(processTokens, `${input.applicationPool}\u0000${security.processUser}`, () => processIdentityToken(input.applicationPool, security.processUser));
    return { token, how: `anonymous as the process identity (pool ${input.applicationPool})` };
  }
  if (BUILT_IN_ANONYMOUS.has(a.userName.toLowerCase())) return { token: memo(iusrTokens, a.logonMethod, () => iusrToken(a.logonMethod)), how: 'anonymous as IUSR' };
  const account = splitAccountName(a.userName, '', security.machineName);
  const request: LogonRequest = {
    name: account.name,
    domain: account.domain,
    password: a.password,
    // Password synchronisation (IIS 4/5) makes a network token without the password: nothing to delegate.
    logonMethod: a.passwordSync ? 'Network' : a.logonMethod,
    authPackage: 'Anonymous',
    defaultLogonDomain: '',
    clientAddress: input.connection.remoteAddress,
    passwordSync: a.passwordSync,
  };
  const key = tokenKey(security, request, '');
  const sync = a.passwordSync ? ' (password sync: network token)' : '';
  const cached = security.tokens.get(key, security.store);
  if (cached) return { token: cached, how: `anonymous as ${cached.user.name}${sync}, token cache hit` };
  return logonAndCache(security, key, request).then((result) =>
    result.ok
      ? { token: result.token, how: `anonymous as ${result.token.user.name}${sync}` }
      : withLogonFailure(unauthorized(1, `the anonymous account "${a.userName}" could not log on (why is in the audit log, trace ${input.traceId})`, challenges), result),
  );
}
