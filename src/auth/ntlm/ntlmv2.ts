/**
 * NTLMv2 verification, server side (MS-NLMP §3.3.2 NTLM v2 Authentication, §3.2.5.1.2 server receives an
 * AUTHENTICATE_MESSAGE, §3.4.5.1 KXKEY, §3.1.5.1.2 MIC). Pure and synchronous: bytes in, a decision and its
 * reason out — never an exception for anything a client can send.
 *
 * What we verify and why:
 * - Only the NT response (NTLMv2_RESPONSE = NTProofStr ‖ NTLMv2_CLIENT_CHALLENGE). NTLMv1 (a 24-byte NT response)
 *   is refused by default by the caller; `isNtlmv2Response` tells the two apart.
 * - The LMv2 response is ignored when an NTLMv2 response is present. It is HMAC-MD5(ResponseKeyLM,
 *   ServerChallenge ‖ ClientChallenge) over 8 client bytes only: it does not cover the client blob, so it carries
 *   no timestamp, no MsvAvFlags (MIC present) and no MsvAvChannelBindings. Accepting it as an alternative proof,
 *   as the spec's pseudocode allows, would let a man in the middle strip the MIC and Extended Protection by
 *   corrupting the NT response. Clients that see MsvAvTimestamp in the CHALLENGE send 24 zero bytes there anyway
 *   (§3.1.5.1.2).
 * - The user name is upper-cased, the domain is used as the client sent it (NTOWFv2). §3.2.5.1.2: servers SHOULD
 *   accept clients that wrongly used NIL for UserDom, so the empty domain is tried second; the result says which.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { rc4 } from './rc4.js';

/** NTProofStr, the first field of an NTLMv2_RESPONSE. */
export const NT_PROOF_LENGTH = 16;
/** The fixed part of NTLMv2_CLIENT_CHALLENGE (§2.2.2.7): RespType, HiRespType, 6 reserved, TimeStamp, ChallengeFromClient, 4 reserved. */
export const CLIENT_BLOB_HEADER_LENGTH = 28;
export const MIN_NTLMV2_RESPONSE_LENGTH = NT_PROOF_LENGTH + CLIENT_BLOB_HEADER_LENGTH;
/** An NTLMv1 NT response (DESL over the NT hash) is exactly this long; anything longer is NTLMv2. */
export const NTLMV1_RESPONSE_LENGTH = 24;
export const MIC_LENGTH = 16;
/** Where the MIC sits in an AUTHENTICATE_MESSAGE that carries a Version field (64-byte header + 8-byte Version). */
export const MIC_OFFSET = 72;
/** FILETIME of 1970-01-01T00:00:00Z: 100-ns intervals since 1601-01-01. */
export const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;

const hmacMd5 = (key: Uint8Array, ...parts: Uint8Array[]): Buffer => {
  const h = createHmac('md5', key);
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * Uppercase(User) as Windows does it (RtlUpcaseUnicodeString): a one-to-one map over UTF-16 code units. JavaScript's
 * toUpperCase applies full case mapping ("ß" → "SS", "ŉ" → "ʼN") and would hash a different string; so each code unit
 * is upper-cased alone and kept unchanged when its upper case is not a single code unit. Surrogates stay as they are.
 */
export function upcaseUserName(user: string): string {
  let out = '';
  for (let i = 0; i < user.length; i++) {
    const unit = user.charCodeAt(i);
    const ch = String.fromCharCode(unit);
    if (unit >= 0xd800 && unit <= 0xdfff) {
      out += ch;
      continue;
    }
    const up = ch.toUpperCase();
    out += up.length === 1 ? up : ch;
  }
  return out;
}

/** NTOWFv2 = HMAC_MD5(NT hash, UNICODE(ConcatenationOf(Uppercase(User), UserDom))) — ResponseKeyNT. */
export function ntowfv2(ntHash: Uint8Array, user: string, domain: string): Buffer {
  return hmacMd5(ntHash, Buffer.from(upcaseUserName(user) + domain, 'utf16le'));
}

/** NTProofStr = HMAC_MD5(ResponseKeyNT, ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge, temp)). */
export function ntProofStr(responseKeyNT: Uint8Array, serverChallenge: Uint8Array, temp: Uint8Array): Buffer {
  return hmacMd5(responseKeyNT, serverChallenge, temp);
}

/** An empty NT response is anonymous, 24 bytes is NTLMv1; only a longer one can be an NTLMv2_RESPONSE. */
export function isNtlmv2Response(ntResponse: Uint8Array): boolean {
  return ntResponse.length > NTLMV1_RESPONSE_LENGTH;
}

/** Converts a FILETIME to milliseconds since the Unix epoch (may be negative or beyond Date's range: the caller compares). */
export function filetimeToUnixMs(filetime: bigint): number {
  return Number((filetime - FILETIME_UNIX_EPOCH) / 10_000n);
}

export interface Ntlmv2VerifyInput {
  /** The stored NT hash (NTOWFv1) of the account: 16 bytes. */
  readonly ntHash: Uint8Array;
  /** User name and domain exactly as the AUTHENTICATE_MESSAGE carried them (decoded to strings). */
  readonly user: string;
  readonly domain: string;
  /** The 8-byte ServerChallenge this connection's CHALLENGE_MESSAGE sent. */
  readonly serverChallenge: Uint8Array;
  /** AUTHENTICATE_MESSAGE.NtChallengeResponse, as received. */
  readonly ntChallengeResponse: Uint8Array;
}

export interface Ntlmv2ClientBlob {
  /** NTLMv2_CLIENT_CHALLENGE.TimeStamp: a FILETIME (100-ns intervals since 1601-01-01 UTC). */
  readonly timestamp: bigint;
  /** ChallengeFromClient: 8 bytes. */
  readonly clientChallenge: Buffer;
  /** Everything after the 28-byte fixed header, as sent: the AV_PAIR list (MsvAvEOL-terminated) and any trailing zeros. Unparsed. */
  readonly avPairs: Buffer;
}

export type Ntlmv2FailureReason =
  | 'nt-hash-length'
  | 'server-challenge-length'
  | 'not-ntlmv2'
  | 'response-too-short'
  | 'blob-header'
  | 'proof-mismatch';

export type Ntlmv2Verification =
  | {
      readonly ok: true;
      /** HMAC_MD5(ResponseKeyNT, NTProofStr). */
      readonly sessionBaseKey: Buffer;
      /** For NTLMv2, KXKEY returns the SessionBaseKey unchanged (§3.4.5.1). */
      readonly keyExchangeKey: Buffer;
      readonly clientBlob: Ntlmv2ClientBlob;
      /** 'as-sent' normally; 'nil' when the client computed its key with an empty domain (§3.2.5.1.2). */
      readonly domainUsed: 'as-sent' | 'nil';
    }
  | { readonly ok: false; readonly reason: Ntlmv2FailureReason; readonly message: string };

const fail = (reason: Ntlmv2FailureReason, message: string): Ntlmv2Verification => ({ ok: false, reason, message });

/**
 * Verifies an NTLMv2 NtChallengeResponse against the stored NT hash. The comparison is constant-time
 * (timingSafeEqual). Does not check the timestamp window, the AV pairs (MIC flag, channel bindings, target name) or
 * replay: it returns the client blob so the caller can.
 */
export function verifyNtlmv2Response(input: Ntlmv2VerifyInput): Ntlmv2Verification {
  const { ntHash, user, domain, serverChallenge, ntChallengeResponse: response } = input;
  if (ntHash.length !== 16) return fail('nt-hash-length', `the stored NT hash holds ${ntHash.length} bytes, not 16`);
  if (serverChallenge.length !== 8) return fail('server-challenge-length', `the server challenge holds ${serverChallenge.length} bytes, not 8`);
  if (!isNtlmv2Response(response)) {
    return fail('not-ntlmv2', response.length === 0 ? 'the NT response is empty (anonymous)' : `the NT response holds ${response.length} bytes: NTLMv1 or LM, not NTLMv2`);
  }
  if (response.length < MIN_NTLMV2_RESPONSE_LENGTH) {
    return fail('response-too-short', `the NT response holds ${response.length} bytes, fewer than the ${MIN_NTLMV2_RESPONSE_LENGTH} of an NTLMv2 response`);
  }
  // RespType and HiRespType MUST both be 1 (§2.2.2.7); anything else is not a blob this version defines.
  if (response[16] !== 0x01 || response[17] !== 0x01) {
    return fail('blob-header', `the client blob starts ${hex2(response[16]!)} ${hex2(response[17]!)}, not 01 01`);
  }
  const proof = response.subarray(0, NT_PROOF_LENGTH);
  const temp = response.subarray(NT_PROOF_LENGTH);

  const attempts: [string, 'as-sent' | 'nil'][] = [[domain, 'as-sent']];
  if (domain !== '') attempts.push(['', 'nil']);
  for (const [dom, domainUsed] of attempts) {
    const responseKeyNT = ntowfv2(ntHash, user, dom);
    const expected = ntProofStr(responseKeyNT, serverChallenge, temp);
    if (timingSafeEqual(expected, proof)) {
      const sessionBaseKey = hmacMd5(responseKeyNT, proof);
      const view = Buffer.from(temp.buffer, temp.byteOffset, temp.byteLength);
      return {
        ok: true,
        sessionBaseKey,
        keyExchangeKey: Buffer.from(sessionBaseKey),
        clientBlob: {
          timestamp: view.readBigUInt64LE(8),
          // Copies: the caller may reuse or overwrite the message buffer.
          clientChallenge: Buffer.from(view.subarray(16, 24)),
          avPairs: Buffer.from(view.subarray(CLIENT_BLOB_HEADER_LENGTH)),
        },
        domainUsed,
      };
    }
  }
  return fail('proof-mismatch', 'the NTProofStr does not match: wrong password, user, domain or challenge');
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

export type ExportedSessionKeyResult =
  | { readonly ok: true; readonly exportedSessionKey: Buffer }
  | { readonly ok: false; readonly reason: 'session-key-missing' | 'session-key-length'; readonly message: string };

/**
 * §3.2.5.1.2: with NTLMSSP_NEGOTIATE_KEY_EXCH the client chose a random session key and sent it RC4-encrypted under
 * the KeyExchangeKey; without it the KeyExchangeKey is the exported session key and any EncryptedRandomSessionKey
 * is ignored.
 */
export function exportedSessionKey(
  keyExchangeKey: Uint8Array,
  encryptedRandomSessionKey: Uint8Array | undefined,
  negotiateKeyExch: boolean,
): ExportedSessionKeyResult {
  if (!negotiateKeyExch) return { ok: true, exportedSessionKey: Buffer.from(keyExchangeKey) };
  if (encryptedRandomSessionKey === undefined || encryptedRandomSessionKey.length === 0) {
    return { ok: false, reason: 'session-key-missing', message: 'KEY_EXCH was negotiated but the AUTHENTICATE message holds no EncryptedRandomSessionKey' };
  }
  if (encryptedRandomSessionKey.length !== 16) {
    return { ok: false, reason: 'session-key-length', message: `the EncryptedRandomSessionKey holds ${encryptedRandomSessionKey.length} bytes, not 16` };
  }
  return { ok: true, exportedSessionKey: rc4(keyExchangeKey, encryptedRandomSessionKey) };
}

/**
 * MIC = HMAC_MD5(ExportedSessionKey, ConcatenationOf(NEGOTIATE_MESSAGE, CHALLENGE_MESSAGE, AUTHENTICATE_MESSAGE))
 * (§3.1.5.1.2), over the three messages exactly as they crossed the wire, with the AUTHENTICATE's MIC field zeroed.
 */
export function computeMic(
  exportedKey: Uint8Array,
  negotiate: Uint8Array,
  challenge: Uint8Array,
  authenticateWithZeroedMic: Uint8Array,
): Buffer {
  return hmacMd5(exportedKey, negotiate, challenge, authenticateWithZeroedMic);
}

/**
 * True when the AUTHENTICATE message's MIC (16 bytes at `micOffset`) is the MIC of the three messages as received.
 * The message is copied, never modified. A MIC field outside the message is a mismatch, not an exception.
 */
export function micMatches(
  exportedKey: Uint8Array,
  negotiate: Uint8Array,
  challenge: Uint8Array,
  authenticate: Uint8Array,
  micOffset: number = MIC_OFFSET,
): boolean {
  if (!Number.isSafeInteger(micOffset) || micOffset < 0 || micOffset + MIC_LENGTH > authenticate.length) return false;
  const zeroed = Buffer.from(authenticate);
  zeroed.fill(0, micOffset, micOffset + MIC_LENGTH);
  const expected = computeMic(exportedKey, negotiate, challenge, zeroed);
  return timingSafeEqual(expected, authenticate.subarray(micOffset, micOffset + MIC_LENGTH));
}
