/**
 * The server side of one NTLM handshake, as pure functions (MS-NLMP §3.2.5.1): the CHALLENGE answering a NEGOTIATE,
 * and the decision on the AUTHENTICATE that answers it — the proof against the account's NT hash, then the MIC, the
 * client's clock, and Extended Protection. Bytes, the pending challenge, the stored hash and the policy in; a
 * decision and its reason out. Where the state lives (the connection) and who may log on (logonUser) are the
 * provider's business.
 */
import { randomBytes } from 'node:crypto';
import { AvFlag, AvId, avFlagsValue, avString, avTimestamp, findAvPair, parseAvPairs, toFileTime, type AvPair } from './av-pairs.js';
import { isUnhashedZeroBindings } from './channel-bindings.js';
import { hasFlag, NtlmFlag, negotiateResponseFlags } from './flags.js';
import { writeChallenge, type AuthenticateMessage, type NegotiateMessage } from './messages.js';
import { exportedSessionKey, filetimeToUnixMs, isNtlmv2Response, micMatches } from './ntlmv2.js';
import type { NtlmVerifier, ResponseVerdict } from './verifier.js';
import type { TokenChecking } from '../../config/schema.js';
import type { NtStatus, ProofResult } from '../../security/logon.js';

/** How long a CHALLENGE may wait for its AUTHENTICATE: real clients answer within milliseconds. */
export const CHALLENGE_LIFETIME_MS = 60_000;

/** Client timestamps before 2000-01-01 are not clock readings but a client's malformed field (see verifyProof). */
const NO_REAL_CLOCK_BEFORE = Date.UTC(2000, 0, 1);

/** The names a stand-alone server announces: its NetBIOS name doubles as its domain (local accounts). */
export interface ServerNames {
  readonly netbiosComputer: string;
  readonly dnsComputer: string;
}

/** What the connection remembers between the CHALLENGE and the AUTHENTICATE. */
export interface PendingChallenge {
  readonly serverChallenge: Buffer;
  /** The three messages are covered by the MIC exactly as they crossed the wire. */
  readonly negotiate: Buffer;
  readonly challenge: Buffer;
  /** The flags the CHALLENGE offered. */
  readonly flags: number;
  readonly issuedAt: number;
}

export function makeChallenge(negotiate: NegotiateMessage, names: ServerNames, now: number, random: (n: number) => Buffer = randomBytes): { message: Buffer; pending: PendingChallenge } {
  const flags = negotiateResponseFlags(negotiate.flags, { allowLmKey: false });
  const serverChallenge = random(8);
  const targetInfo: AvPair[] = [
    avString(AvId.MsvAvNbDomainName, names.netbiosComputer),
    avString(AvId.MsvAvNbComputerName, names.netbiosComputer),
    avString(AvId.MsvAvDnsDomainName, names.dnsComputer),
    avString(AvId.MsvAvDnsComputerName, names.dnsComputer),
    // With a server timestamp, NTLMv2 clients leave the LMv2 response zero and use our clock in their blob (§3.1.5.1.2).
    avTimestamp(toFileTime(now)),
  ];
  const message = writeChallenge({
    flags,
    serverChallenge,
    targetName: names.netbiosComputer,
    targetInfo,
    // Windows Server 2022's VERSION: informational only, some clients log it.
    version: { major: 10, minor: 0, build: 20348, revision: 15 },
  });
  return { message, pending: { serverChallenge, negotiate: negotiate.raw, challenge: message, flags: message.readUInt32LE(20), issuedAt: now } };
}

/** The policy of ntlm settings that bears on one AUTHENTICATE. */
export interface ProofPolicy {
  readonly allowNtlmv1: boolean;
  readonly tokenChecking: TokenChecking;
  readonly maxClockSkewMs: number;
}

/** What the server knows about the channel the AUTHENTICATE arrived on, for Extended Protection. */
export type ChannelFacts =
  /** TLS: the MsvAvChannelBindings a client aware of this connection computes from our certificate. */
  | { readonly kind: 'tls'; readonly expectedBindings: Buffer | { readonly error: string } }
  /** Plain HTTP: the service principal names the client may have targeted (HTTP/host). */
  | { readonly kind: 'plain'; readonly serviceNames: readonly string[] };

export interface ProofInput {
  readonly message: AuthenticateMessage;
  readonly pending: PendingChallenge;
  /** Checks the response for the named account (the local NT hash, or later a domain controller). */
  readonly verifier: NtlmVerifier;
  readonly policy: ProofPolicy;
  readonly channel: ChannelFacts;
  readonly now: number;
}

/** A success also says which protocol and protections were used, for the audit log and the trace. */
export type NtlmProof = (ProofResult & { readonly ok: false }) | { readonly ok: true; readonly detail: string };

const refuse = (status: NtStatus, reason: string, subStatus: NtStatus = 'STATUS_SUCCESS'): NtlmProof => ({ ok: false, wrongPassword: false, status, subStatus, reason });

/**
 * Verifies an AUTHENTICATE for a named account. Order: the protocol version is allowed (policy, before any
 * verifier is asked); the proof (the verifier's; the only failure that counts as a wrong password); then, for
 * NTLMv2, the MIC when the client says it sent one, the timestamp window, and Extended Protection — each failure a
 * distinct reason, none counted toward lockout (they mean tampering or a misconfigured client, not a guessed
 * password). Synchronous when the verifier is (the local one is).
 */
export function verifyProof(input: ProofInput): NtlmProof | Promise<NtlmProof> {
  const { message: msg, pending, policy } = input;
  if (msg.ntResponse.length === 0) {
    // Persona stores no LM hash: an LM-only answer cannot be checked, and LM is broken anyway.
    return refuse('STATUS_NTLM_BLOCKED', 'the client sent only an LM response (no NT response): LM authentication is not supported');
  }
  if (!isNtlmv2Response(msg.ntResponse)) {
    if (!policy.allowNtlmv1) {
      return refuse('STATUS_NTLM_BLOCKED', `the client sent an NTLMv1 response (${msg.ntResponse.length} bytes), refused: ntlm.allowNtlmv1 is false`);
    }
    if (policy.tokenChecking === 'Require') {
      return refuse('STATUS_BAD_BINDINGS', 'NTLMv1 cannot carry channel or service bindings, which ntlm.tokenChecking: Require demands');
    }
  }
  const verdict = input.verifier.verify({
    user: msg.user,
    domain: msg.domain,
    serverChallenge: pending.serverChallenge,
    lmResponse: msg.lmResponse,
    ntResponse: msg.ntResponse,
    extendedSessionSecurity: hasFlag(msg.flags, NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY) && hasFlag(pending.flags, NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY),
  });
  return verdict instanceof Promise ? verdict.then((v) => afterResponse(input, v)) : afterResponse(input, verdict);
}

function afterResponse(input: ProofInput, verdict: ResponseVerdict): NtlmProof {
  if (!verdict.ok) return verdict;
  const { message: msg, pending, policy } = input;
  const notes = [`${verdict.protocol}${verdict.note ? ` (${verdict.note})` : ''}`];
  const blob = verdict.clientBlob;
  if (blob === undefined) return { ok: true, detail: `${notes[0]}, allowed by ntlm.allowNtlmv1` };

  const pairs = parseAvPairs(blob.avPairs);
  if (!Array.isArray(pairs)) return refuse('STATUS_INVALID_PARAMETER', `the NTLMv2 client blob's AV pairs are malformed: ${pairs.error}`);

  // MIC: the client says in MsvAvFlags — inside the blob the proof covers — that it sent one; a MITM cannot remove it.
  if (hasBit(avFlagsValue(pairs), AvFlag.MIC_PRESENT)) {
    const keyExch = hasFlag(msg.flags, NtlmFlag.NEGOTIATE_KEY_EXCH) && hasFlag(pending.flags, NtlmFlag.NEGOTIATE_KEY_EXCH);
    const key = exportedSessionKey(verdict.keyExchangeKey, msg.encryptedRandomSessionKey, keyExch);
    if (!key.ok) return refuse('STATUS_INVALID_PARAMETER', key.message);
    if (msg.micOffset === undefined || !micMatches(key.exportedSessionKey, pending.negotiate, pending.challenge, msg.raw, msg.micOffset)) {
      return refuse('STATUS_INVALID_PARAMETER', 'the MIC does not match the three messages: they were altered in transit');
    }
    notes.push('MIC checked');
  }

  const clientTime = filetimeToUnixMs(blob.timestamp);
  const skew = clientTime - input.now;
  if (clientTime < NO_REAL_CLOCK_BEFORE) {
    // Not a clock reading but a client that fills the field wrongly (Authen::NTLM 1.09 sends 1601 plus a few
    // minutes). Windows accepts such clients, and so do we: the window guards servers that cannot tell an old
    // AUTHENTICATE from a new one, while ours answers a CHALLENGE used once, on its own connection only.
    notes.push(`no usable client timestamp (${new Date(Math.max(clientTime, -8.64e15)).toISOString().slice(0, 10)})`);
  } else if (!Number.isFinite(skew) || Math.abs(skew) > policy.maxClockSkewMs) {
    return refuse(
      'STATUS_TIME_DIFFERENCE_AT_DC',
      `the client's timestamp is ${Math.round(Math.abs(skew) / 1000)} s ${skew < 0 ? 'behind' : 'ahead of'} this server (ntlm.maxClockSkew: ${policy.maxClockSkewMs / 1000} s)`,
    );
  }

  const binding = checkExtendedProtection(pairs, input.channel, policy.tokenChecking);
  if (!binding.ok) return binding;
  if (binding.detail) notes.push(binding.detail);
  return { ok: true, detail: notes.join(', ') };
}

const hasBit = (value: number, bit: number): boolean => (value & bit) === bit;

/**
 * Extended Protection (IIS tokenChecking). Over TLS the client's MsvAvChannelBindings must be the hash of our
 * certificate (tls-server-end-point): a relayed handshake carries the relay's certificate. Over plain HTTP the only
 * binding is the service name (MsvAvTargetName) the client meant to reach. None ignores both; Allow refuses a wrong
 * value but accepts clients that send none (16 zero bytes or no pair); Require refuses those too.
 */
export function checkExtendedProtection(pairs: readonly AvPair[], channel: ChannelFacts, tokenChecking: TokenChecking): { ok: true; detail?: string } | NtlmProof {
  if (tokenChecking === 'None') return { ok: true };
  if (channel.kind === 'tls') {
    const sent = findAvPair(pairs, AvId.MsvAvChannelBindings)?.value;
    if (sent === undefined || isUnhashedZeroBindings(sent)) {
      return tokenChecking === 'Require'
        ? refuse('STATUS_BAD_BINDINGS', 'the client sent no channel bindings and ntlm.tokenChecking is Require (the client does not support Extended Protection)')
        : { ok: true, detail: 'no channel bindings (accepted: tokenChecking Allow)' };
    }
    if (!Buffer.isBuffer(channel.expectedBindings)) return refuse('STATUS_BAD_BINDINGS', `the channel bindings cannot be checked: ${channel.expectedBindings.error}`);
    if (!sent.equals(channel.expectedBindings)) {
      return refuse('STATUS_BAD_BINDINGS', "the client's channel bindings are not this server's TLS certificate: the handshake was relayed through another TLS endpoint");
    }
    return { ok: true, detail: 'channel bindings match' };
  }
  const target = findAvPair(pairs, AvId.MsvAvTargetName);
  const spn = target === undefined ? '' : target.value.toString('utf16le');
  if (spn === '') {
    return tokenChecking === 'Require'
      ? refuse('STATUS_BAD_BINDINGS', 'the client named no service (MsvAvTargetName) and ntlm.tokenChecking is Require')
      : { ok: true, detail: 'no service binding (accepted: tokenChecking Allow)' };
  }
  const wanted = spn.toLowerCase();
  if (!channel.serviceNames.some((name) => name.toLowerCase() === wanted)) {
    return refuse('STATUS_BAD_BINDINGS', `the client meant service "${spn.slice(0, 200)}", not this server (${channel.serviceNames.join(', ')})`);
  }
  return { ok: true, detail: `service binding ${spn} matches` };
}

/**
 * An anonymous AUTHENTICATE (MS-NLMP §3.2.5.1.2): empty user, empty NT response, and an LM response empty or one zero byte.
 */
export function isAnonymousAuthenticate(msg: AuthenticateMessage): boolean {
  return msg.user === '' && msg.ntResponse.length === 0 && (msg.lmResponse.length === 0 || (msg.lmResponse.length === 1 && msg.lmResponse[0] === 0));
}
