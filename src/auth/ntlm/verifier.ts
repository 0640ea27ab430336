/**
 * Who checks an NTLM response. The handshake (handshake.ts) owns the policy (which protocol versions, the MIC, the
 * clock, Extended Protection); a verifier only answers "does this response prove the password of this account, and
 * with which key". Today that is the local store's NT hash; a domain verifier (Samba's `ntlm_auth`, netlogon pass-through)
 * fits the same interface, since a domain controller answers exactly that question and returns the session key.
 */
import type { ProofResult } from '../../security/logon.js';
import { verifyNtlmv1Response } from './ntlmv1.js';
import { isNtlmv2Response, verifyNtlmv2Response, type Ntlmv2ClientBlob } from './ntlmv2.js';

/** The parts of an AUTHENTICATE a verifier needs, for the server challenge this connection sent. */
export interface ResponseToCheck {
  readonly user: string;
  readonly domain: string;
  readonly serverChallenge: Buffer;
  readonly lmResponse: Buffer;
  readonly ntResponse: Buffer;
  /** NTLMv1 only: both sides agreed on extended session security (the "NTLM2 session response"). */
  readonly extendedSessionSecurity: boolean;
}

export type ResponseVerdict =
  | {
      readonly ok: true;
      readonly protocol: 'NTLMv2' | 'NTLMv1' | 'NTLMv1-ESS';
      /** KXKEY: the MIC is keyed from it (through the exported session key). */
      readonly keyExchangeKey: Buffer;
      /** NTLMv2 only: the blob the proof covers (timestamp, MsvAvFlags, channel bindings, target name). */
      readonly clientBlob?: Ntlmv2ClientBlob;
      readonly note?: string;
    }
  | (ProofResult & { readonly ok: false });

export interface NtlmVerifier {
  /** For the audit log: where the proof was checked. */
  readonly source: string;
  verify(response: ResponseToCheck): ResponseVerdict | Promise<ResponseVerdict>;
}

const refuse = (reason: string): ResponseVerdict => ({ ok: false, wrongPassword: false, status: 'STATUS_INVALID_PARAMETER', subStatus: 'STATUS_SUCCESS', reason });
const wrong = (reason: string): ResponseVerdict => ({ ok: false, wrongPassword: true, status: 'STATUS_LOGON_FAILURE', subStatus: 'STATUS_WRONG_PASSWORD', reason });

/**
 * The local verifier: the account's stored NT hash, or none when NTLM is not enabled for the account. Synchronous
 * (a few HMACs), so a local handshake never waits.
 */
export function ntHashVerifier(ntHash: Buffer | undefined): NtlmVerifier {
  return {
    source: 'local NT hash',
    verify(r: ResponseToCheck): ResponseVerdict {
      if (ntHash === undefined) {
        return {
          ok: false,
          wrongPassword: false,
          status: 'STATUS_NTLM_BLOCKED',
          subStatus: 'STATUS_SUCCESS',
          reason: 'NTLM is not enabled for this account: no NT hash is stored (persona user passwd NAME --ntlm stores one)',
        };
      }
      if (isNtlmv2Response(r.ntResponse)) {
        const v2 = verifyNtlmv2Response({ ntHash, user: r.user, domain: r.domain, serverChallenge: r.serverChallenge, ntChallengeResponse: r.ntResponse });
        if (!v2.ok) return v2.reason === 'proof-mismatch' ? wrong(`NTLMv2 response does not match (${v2.message})`) : refuse(`malformed NTLMv2 response: ${v2.message}`);
        return {
          ok: true,
          protocol: 'NTLMv2',
          keyExchangeKey: v2.keyExchangeKey,
          clientBlob: v2.clientBlob,
          ...(v2.domainUsed === 'nil' && { note: 'client hashed an empty domain' }),
        };
      }
      const v1 = verifyNtlmv1Response({ ntHash, serverChallenge: r.serverChallenge, lmResponse: r.lmResponse, ntResponse: r.ntResponse, extendedSessionSecurity: r.extendedSessionSecurity });
      if (!v1.ok) return v1.reason === 'proof-mismatch' ? wrong(`NTLMv1 response does not match (${v1.message})`) : refuse(`malformed NTLMv1 response: ${v1.message}`);
      return { ok: true, protocol: v1.variant, keyExchangeKey: v1.keyExchangeKey };
    },
  };
}
