/**
 * The NTLM provider of `authenticateRequest` (MS-NLMP over HTTP, IIS semantics). NTLM authenticates a connection,
 * not a request: NEGOTIATE → 401 with the CHALLENGE, AUTHENTICATE on the same connection → a Network token kept on
 * the connection for its later requests (unless authPersistSingleRequest). The CHALLENGE lives only on the
 * connection that received it and is consumed by the first AUTHENTICATE: another connection, a replay or a late
 * answer finds none and gets 401. Every AUTHENTICATE is one logonUser call, so lockout, disabled accounts, logon
 * rights and the audit log work as for Basic; the proof itself is handshake.ts.
 */
import { hostname } from 'node:os';
import type { NtlmSettings } from '../../config/schema.js';
import { httpError, Win32, withLogonFailure, type HttpError } from '../../pipeline/errors.js';
import type { ConnectionInfo } from '../../server/connection.js';
import { logonUser, ntStatusHex, splitAccountName, type NtStatus } from '../../security/logon.js';
import type { SecurityServices } from '../../security/services.js';
import { buildToken, LogonType, type Token } from '../../security/token.js';
import { WellKnownSid, WELL_KNOWN_NAMES } from '../../security/sid.js';
import { expectedChannelBindings } from './channel-bindings.js';
import { CHALLENGE_LIFETIME_MS, isAnonymousAuthenticate, makeChallenge, verifyProof, type ChannelFacts, type NtlmProof, type PendingChallenge, type ServerNames } from './handshake.js';
import { isNtlmParseError, messageType, parseAuthenticate, parseNegotiate } from './messages.js';
import { ntHashVerifier } from './verifier.js';
import { randomBytes } from 'node:crypto';

/** What a connection remembers of NTLM between its requests. */
export type NtlmConnectionState =
  | { readonly phase: 'challenged'; readonly pending: PendingChallenge; readonly host: string }
  | {
      readonly phase: 'authenticated';
      readonly token: Token;
      readonly host: string;
      /** The account's stamp at logon: a password change, disable or group change ends the connection's logon. */
      readonly stamp: { readonly user: number; readonly epoch: number } | undefined;
      /** The store's change version when the stamp was last confirmed. */
      confirmedAt: string;
    };

export interface NtlmRequest {
  readonly connection: ConnectionInfo;
  readonly settings: NtlmSettings;
  /** The request's host name (no port): the logon of a connection is kept for this host only. */
  readonly host: string;
  readonly challenges: readonly string[];
  readonly traceId: string;
  /** Monotonic enough for expiry; Date.now in the server, a fixed clock in tests. */
  readonly now: number;
}

export type NtlmOutcome = { readonly token: Token; readonly how: string } | HttpError;

let names: ServerNames | undefined;
function serverNames(security: SecurityServices): ServerNames {
  if (names?.netbiosComputer !== security.machineName) names = { netbiosComputer: security.machineName, dnsComputer: hostname().toLowerCase() };
  return names;
}

/**
 * The connection's NTLM token for a request without credentials, or undefined (then the request is anonymous or
 * challenged like any other). The token is dropped when the account changed since the logon (a stricter rule than
 * IIS, which keeps it for the connection's life).
 */
export function connectionToken(request: Pick<NtlmRequest, 'connection' | 'settings' | 'host'>, security: SecurityServices): NtlmOutcome | undefined {
  const state = request.connection.ntlm;
  if (state?.phase !== 'authenticated' || request.settings.authPersistSingleRequest || state.host !== request.host) return undefined;
  if (state.stamp !== undefined) {
    const version = security.store.changeVersion();
    if (state.confirmedAt !== version) {
      const current = security.store.currentStamp(state.token.user.sid);
      if (current === undefined || current.user !== state.stamp.user || current.epoch !== state.stamp.epoch) {
        request.connection.ntlm = undefined;
        return undefined;
      }
      state.confirmedAt = version;
    }
  }
  return { token: state.token, how: `NTLM, authenticated connection (${state.token.user.name})` };
}

/** `Authorization: NTLM <base64>`: a NEGOTIATE starts a handshake, an AUTHENTICATE ends it. */
export function ntlm(token68: string, request: NtlmRequest, security: SecurityServices): NtlmOutcome | Promise<NtlmOutcome> {
  const bytes = decodeBase64(token68);
  if (bytes === undefined) return badMessage('the NTLM credentials are not base64');
  const type = messageType(bytes);
  if (isNtlmParseError(type)) return badMessage(type.error);
  if (type === 1) return negotiate(bytes, request, security);
  if (type === 3) return authenticate(bytes, request, security);
  return badMessage(`the client sent an NTLM message of type ${type} (a CHALLENGE): only the server sends those`);
}

function negotiate(bytes: Buffer, request: NtlmRequest, security: SecurityServices): NtlmOutcome {
  const message = parseNegotiate(bytes);
  if (isNtlmParseError(message)) return badMessage(message.error);
  const { message: challenge, pending } = makeChallenge(message, serverNames(security), request.now);
  // A new handshake replaces whatever the connection had: its previous logon ends here, as on IIS.
  request.connection.ntlm = { phase: 'challenged', pending, host: request.host };
  return httpError(401, 1, 'NTLM handshake: CHALLENGE sent, waiting for the AUTHENTICATE on this connection', Win32.NO_CREDENTIALS, {
    'WWW-Authenticate': [`NTLM ${challenge.toString('base64')}`],
  });
}

async function authenticate(bytes: Buffer, request: NtlmRequest, security: SecurityServices): Promise<NtlmOutcome> {
  const { connection, settings } = request;
  const message = parseAuthenticate(bytes);
  if (isNtlmParseError(message)) return badMessage(message.error);
  const state = connection.ntlm;
  // Consumed now, whatever the outcome: one AUTHENTICATE per CHALLENGE, so a captured answer cannot be replayed.
  if (state?.phase === 'challenged') connection.ntlm = undefined;
  const clientAddress = connection.remoteAddress;

  const preLogonFailure = (status: NtStatus, reason: string): HttpError => {
    security.audit.write({
      eventId: 4625,
      account: message.user,
      domain: message.domain,
      logonType: LogonType.Network,
      package: 'NTLM',
      clientAddress,
      status,
      subStatus: 'STATUS_SUCCESS',
      statusCode: ntStatusHex(status),
      subStatusCode: '0x0',
      reason,
      traceId: request.traceId,
    });
    return failed(request, `NTLM logon failed for "${printable(message.user)}": ${reason}`);
  };

  if (state?.phase !== 'challenged') {
    return preLogonFailure(
      'STATUS_INVALID_PARAMETER',
      'an AUTHENTICATE arrived on a connection with no pending CHALLENGE: the client did not keep the connection alive between the legs, ' +
        'the connection is new, or the message is a replay',
    );
  }
  if (state.host !== request.host) return preLogonFailure('STATUS_INVALID_PARAMETER', `the CHALLENGE was sent for host "${state.host}", the AUTHENTICATE came for "${request.host}"`);
  const age = request.now - state.pending.issuedAt;
  if (age > CHALLENGE_LIFETIME_MS) return preLogonFailure('STATUS_INVALID_PARAMETER', `the CHALLENGE expired (${Math.round(age / 1000)} s old; the limit is ${CHALLENGE_LIFETIME_MS / 1000} s)`);

  if (isAnonymousAuthenticate(message)) return anonymousLogon(request, security, preLogonFailure);

  const account = splitAccountName(message.user, '', security.machineName);
  // The client's domain names this machine in many spellings: empty, ".", the NetBIOS name we sent as TargetName,
  // or the DNS name; logonUser decides whether it is ours.
  const domain = isOurDomain(message.domain, security) ? security.machineName : message.domain || account.domain;
  const channel = channelFacts(request, security);
  const policy = { allowNtlmv1: settings.allowNtlmv1, tokenChecking: settings.tokenChecking, maxClockSkewMs: settings.maxClockSkew * 1000 };
  let detail = '';
  const user = security.store.findUser(account.name);
  const stamp = user ? security.store.currentStamp(user.sid) : undefined;
  const result = await logonUser(
    security.store,
    {
      name: account.name,
      domain,
      password: '',
      logonMethod: 'Network',
      authPackage: 'NTLM',
      defaultLogonDomain: '',
      clientAddress,
      proof: {
        verify: async (found): Promise<NtlmProof> => {
          const proof = await verifyProof({ message, pending: state.pending, verifier: ntHashVerifier(security.store.ntHashOf(found.sid)), policy, channel, now: request.now });
          if (proof.ok) detail = proof.detail;
          return proof;
        },
      },
    },
    security.audit,
  );
  if (!result.ok) return withLogonFailure(failed(request, `NTLM logon failed for "${printable(message.user)}" (why is in the audit log, trace ${request.traceId})`), result);
  if (!settings.authPersistSingleRequest) {
    connection.ntlm = { phase: 'authenticated', token: result.token, host: request.host, stamp, confirmedAt: security.store.changeVersion() };
  }
  return { token: result.token, how: `NTLM logon of ${result.token.user.name}: ${detail}` };
}

function anonymousLogon(request: NtlmRequest, security: SecurityServices, refuse: (status: NtStatus, reason: string) => HttpError): NtlmOutcome {
  if (!request.settings.allowAnonymous) return refuse('STATUS_LOGON_FAILURE', 'anonymous NTLM logon refused: ntlm.allowAnonymous is false');
  const token = buildToken({
    user: { sid: WellKnownSid.AnonymousLogon, name: WELL_KNOWN_NAMES[WellKnownSid.AnonymousLogon]! },
    accountGroups: [],
    privileges: [],
    logonType: 'Network',
    authPackage: 'NTLM',
    delegation: { kind: 'none', reason: 'an anonymous NTLM logon proves no identity and holds no credentials' },
    osAccount: undefined,
    logonId: `0x${randomBytes(8).toString('hex')}`,
    issuedAt: request.now,
  });
  security.audit.write({
    eventId: 4624,
    account: 'ANONYMOUS LOGON',
    domain: 'NT AUTHORITY',
    sid: WellKnownSid.AnonymousLogon,
    logonType: LogonType.Network,
    package: 'NTLM',
    clientAddress: request.connection.remoteAddress,
    logonId: token.logonId,
  });
  if (!request.settings.authPersistSingleRequest) {
    request.connection.ntlm = { phase: 'authenticated', token, host: request.host, stamp: undefined, confirmedAt: '' };
  }
  return { token, how: 'NTLM anonymous logon (ntlm.allowAnonymous)' };
}

function isOurDomain(domain: string, security: SecurityServices): boolean {
  const d = domain.toUpperCase();
  return d === '' || d === '.' || d === security.machineName.toUpperCase() || d === serverNames(security).dnsComputer.toUpperCase();
}

function channelFacts(request: NtlmRequest, security: SecurityServices): ChannelFacts {
  if (request.settings.tokenChecking === 'None') return { kind: 'plain', serviceNames: [] };
  if (request.connection.secure) {
    const certificate = request.connection.localCertificate();
    return { kind: 'tls', expectedBindings: certificate ? expectedChannelBindings(certificate) : { error: 'the TLS connection has no server certificate' } };
  }
  const names = new Set([request.host, security.machineName, serverNames(security).dnsComputer].filter((n) => n !== '').map((n) => `HTTP/${n}`));
  return { kind: 'plain', serviceNames: [...names] };
}

/** Base64 as RFC 4648 writes it (padding optional, as some clients omit it); anything else is refused, not repaired. */
function decodeBase64(text: string): Buffer | undefined {
  if (text.length === 0 || text.length > 100_000 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64');
}

function badMessage(reason: string): HttpError {
  return httpError(400, 0, `malformed NTLM message: ${reason}`, Win32.INVALID_PARAMETER);
}

function failed(request: NtlmRequest, reason: string): HttpError {
  return httpError(401, 1, reason, Win32.LOGON_FAILURE, request.challenges.length ? { 'WWW-Authenticate': [...request.challenges] } : undefined);
}

/** User names from the wire go into reasons: control characters out, length bounded. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 100);
}
