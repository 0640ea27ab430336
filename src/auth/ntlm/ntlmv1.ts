/**
 * NTLMv1 verification, server side (MS-NLMP §3.3.1 NTLM v1 Authentication, §3.4.5.1 KXKEY, §6 DESL). Used only when
 * the administrator sets `authentication.ntlm.allowNtlmv1: true`; it is off by default because an NTLMv1 response is
 * DES under the NT hash and can be cracked back to that hash (which is password-equivalent) from one capture.
 * Pure and synchronous: bytes in, a decision and its reason out — never an exception for anything a client can send.
 *
 * What we verify and why:
 * - Only the NT response: DESL(NT hash, challenge), 24 bytes. With NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
 *   ("NTLM2 session response") the challenge is MD5(ServerChallenge ‖ ClientChallenge)[0..7], the client challenge
 *   being the first 8 bytes of the LM response field; without it, it is the ServerChallenge itself.
 * - LM responses (LMv1: DESL over the LM hash) are never verified: Persona stores no LM hash — it is a
 *   case-folded, 14-character, unsalted DES hash that is cracked in minutes — so a message whose only proof sits in
 *   the LM field is refused ('not-ntlmv1'). When a client sends NoLMResponseNTLMv1 the LM field repeats the NT
 *   response; it is ignored like any other LM value.
 * - With ESS the remaining 16 bytes of the LM field (Z(16) per §3.3.1) are not checked: the proof does not cover
 *   them, so requiring zeros would refuse clients without making anyone's forgery harder.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { desl } from './des.js';
import { md4 } from './md4.js';
// 24: DESL's three DES blocks, the size of both NTLM_RESPONSE and LM_RESPONSE (§2.2.2.3, §2.2.2.6).
import { NTLMV1_RESPONSE_LENGTH } from './ntlmv2.js';

export interface Ntlmv1VerifyInput {
  /** The stored NT hash (NTOWFv1) of the account: 16 bytes. */
  readonly ntHash: Uint8Array;
  /** The 8-byte ServerChallenge this connection's CHALLENGE_MESSAGE sent. */
  readonly serverChallenge: Uint8Array;
  /** AUTHENTICATE_MESSAGE.LmChallengeResponse, as received (with ESS it carries the client challenge). */
  readonly lmResponse: Uint8Array;
  /** AUTHENTICATE_MESSAGE.NtChallengeResponse, as received. */
  readonly ntResponse: Uint8Array;
  /**
   * NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY as negotiated (the flag in the AUTHENTICATE message, which the caller
   * has checked against what its CHALLENGE offered). It decides both the response form and KXKEY.
   */
  readonly extendedSessionSecurity: boolean;
}

export type Ntlmv1FailureReason = 'nt-hash-length' | 'server-challenge-length' | 'not-ntlmv1' | 'lm-response-length' | 'proof-mismatch';

export type Ntlmv1Verification =
  | {
      readonly ok: true;
      /** MD4(NT hash) (§3.3.1: SessionBaseKey = MD4(NTOWFv1)). */
      readonly sessionBaseKey: Buffer;
      /** KXKEY (§3.4.5.1); with KEY_EXCH it unwraps the EncryptedRandomSessionKey (see exportedSessionKey in ntlmv2.ts). */
      readonly keyExchangeKey: Buffer;
      readonly variant: 'NTLMv1' | 'NTLMv1-ESS';
    }
  | { readonly ok: false; readonly reason: Ntlmv1FailureReason; readonly message: string };

const fail = (reason: Ntlmv1FailureReason, message: string): Ntlmv1Verification => ({ ok: false, reason, message });

/**
 * Verifies an NTLMv1 NtChallengeResponse against the stored NT hash, in constant time (timingSafeEqual). Checks
 * neither replay nor the user's right to log on: the caller does.
 */
export function verifyNtlmv1Response(input: Ntlmv1VerifyInput): Ntlmv1Verification {
  const { ntHash, serverChallenge, lmResponse, ntResponse, extendedSessionSecurity } = input;
  if (ntHash.length !== 16) return fail('nt-hash-length', `the stored NT hash holds ${ntHash.length} bytes, not 16`);
  if (serverChallenge.length !== 8) return fail('server-challenge-length', `the server challenge holds ${serverChallenge.length} bytes, not 8`);
  if (ntResponse.length !== NTLMV1_RESPONSE_LENGTH) {
    let what: string;
    if (ntResponse.length === 0) {
      what = lmResponse.length >= NTLMV1_RESPONSE_LENGTH
        ? 'the NT response is empty and only an LM response was sent; Persona keeps no LM hash to check it against'
        : 'the NT response is empty (anonymous)';
    } else if (ntResponse.length > NTLMV1_RESPONSE_LENGTH) {
      what = `the NT response holds ${ntResponse.length} bytes: an NTLMv2 response, not NTLMv1`;
    } else {
      what = `the NT response holds ${ntResponse.length} bytes, not the ${NTLMV1_RESPONSE_LENGTH} of NTLMv1`;
    }
    return fail('not-ntlmv1', what);
  }

  let challenge: Uint8Array = serverChallenge;
  let clientChallenge: Uint8Array | undefined;
  if (extendedSessionSecurity) {
    if (lmResponse.length !== NTLMV1_RESPONSE_LENGTH) {
      return fail('lm-response-length', `with extended session security the LM response carries the client challenge and must hold ${NTLMV1_RESPONSE_LENGTH} bytes, not ${lmResponse.length}`);
    }
    clientChallenge = lmResponse.subarray(0, 8);
    challenge = createHash('md5').update(serverChallenge).update(clientChallenge).digest().subarray(0, 8);
  }

  const expected = desl(ntHash, challenge);
  if (!timingSafeEqual(expected, ntResponse)) {
    return fail('proof-mismatch', 'the NTLMv1 response does not match: wrong password or challenge');
  }

  const sessionBaseKey = md4(ntHash);
  if (clientChallenge !== undefined) {
    // §3.4.5.1 with ESS: HMAC_MD5(SessionBaseKey, ServerChallenge ‖ LmChallengeResponse[0..7]).
    const keyExchangeKey = createHmac('md5', sessionBaseKey).update(serverChallenge).update(clientChallenge).digest();
    return { ok: true, sessionBaseKey, keyExchangeKey, variant: 'NTLMv1-ESS' };
  }
  // §3.4.5.1 without ESS: the LM_KEY and REQUEST_NON_NT_SESSION_KEY branches derive the key from the LM hash, which
  // Persona does not have; its CHALLENGE never grants either flag (flags.ts: ESS is always offered, LM_KEY never
  // answered, NON_NT_SESSION_KEY never echoed), so the remaining branch applies: KeyExchangeKey = SessionBaseKey.
  return { ok: true, sessionBaseKey, keyExchangeKey: Buffer.from(sessionBaseKey), variant: 'NTLMv1' };
}
