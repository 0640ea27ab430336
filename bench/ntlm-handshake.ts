/**
 * One NTLM handshake on a bench connection, as a Windows client runs it over HTTP: NEGOTIATE → 401 with the
 * CHALLENGE → AUTHENTICATE (NTLMv2 with a MIC, as Windows and Chromium send it) on the same keep-alive connection →
 * the answer to the request itself. The messages come from the tests' NTLM client (test/helpers/ntlm-client.ts):
 * the bench measures the server with the same client the integration tests prove it with.
 */
import { authenticateMessage, challengeFrom, negotiateMessage, ntlmHeader } from '../test/helpers/ntlm-client.js';
import { getRequest, header, type Http1Connection, type RawResponse } from './http1-client.js';

export interface NtlmAccount {
  user: string;
  password: string;
}

export interface HandshakeResult {
  /** The CHALLENGE leg's answer (401) and the AUTHENTICATE leg's answer (200 when the logon worked). */
  challenge: RawResponse;
  final: RawResponse;
}

/**
 * Runs the two legs on `conn`; `closeAfter` adds Connection: close to the AUTHENTICATE leg (a client that leaves
 * after its one authenticated request). Rejects when the first leg is not a 401 with an NTLM CHALLENGE; the final
 * answer is returned whatever its status, for the caller to judge.
 */
export async function ntlmHandshake(conn: Http1Connection, path: string, host: string, account: NtlmAccount, closeAfter = false): Promise<HandshakeResult> {
  const negotiate = negotiateMessage();
  const challenge = await conn.request(getRequest(path, host, { Authorization: ntlmHeader(negotiate) }));
  if (challenge.status !== 401) throw new Error(`the NEGOTIATE was answered ${challenge.status}, expected 401 with a CHALLENGE`);
  let challengeBytes: Buffer;
  try {
    challengeBytes = challengeFrom(header(challenge.head, 'www-authenticate'));
  } catch (e) {
    throw new Error(`the NEGOTIATE's 401 carries no CHALLENGE: ${(e as Error).message}`);
  }
  const authenticate = authenticateMessage(negotiate, challengeBytes, { user: account.user, password: account.password, mic: true });
  const final = await conn.request(getRequest(path, host, { Authorization: ntlmHeader(authenticate), ...(closeAfter ? { Connection: 'close' } : {}) }));
  return { challenge, final };
}
