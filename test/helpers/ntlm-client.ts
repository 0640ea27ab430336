/**
 * A minimal NTLMv2 client (MS-NLMP §3.1.5, §3.3.2) for tests that need what no real client sends on purpose:
 * a tampered MIC, a stale timestamp, wrong channel bindings, a replayed AUTHENTICATE. Real clients (curl, Python,
 * Perl, Java, Chromium) prove interoperability in test/interop; this one proves the refusals. It is built from the
 * specification's formulas, checked by the same §4.2.4 vectors as the server code (test/auth/ntlm/ntlmv2.test.ts).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { AvFlag, AvId, avFlags, avString, parseAvPairs, type AvPair, writeAvPairs } from '../../src/auth/ntlm/av-pairs.js';
import { NtlmFlag } from '../../src/auth/ntlm/flags.js';
import { ntHash } from '../../src/auth/ntlm/md4.js';
import { isNtlmParseError, parseChallenge } from '../../src/auth/ntlm/messages.js';
import { computeMic, ntowfv2 } from '../../src/auth/ntlm/ntlmv2.js';

const hmacMd5 = (key: Uint8Array, ...parts: Uint8Array[]): Buffer => {
  const h = createHmac('md5', key);
  for (const p of parts) h.update(p);
  return h.digest();
};

/** A 32-byte NEGOTIATE as curl, OpenJDK and Chromium send it (no Version field). */
export function negotiateMessage(flags = NtlmFlag.NEGOTIATE_UNICODE | NtlmFlag.NEGOTIATE_NTLM | NtlmFlag.REQUEST_TARGET | NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY | NtlmFlag.NEGOTIATE_ALWAYS_SIGN): Buffer {
  const out = Buffer.alloc(32);
  out.write('NTLMSSP\0', 0, 'latin1');
  out.writeUInt32LE(1, 8);
  out.writeUInt32LE(flags >>> 0, 12);
  out.writeUInt32LE(32, 20);
  out.writeUInt32LE(32, 28);
  return out;
}

export interface AuthenticateOptions {
  user: string;
  password: string;
  domain?: string;
  workstation?: string;
  /** Milliseconds since 1970 for the client blob; default: the server's MsvAvTimestamp, as Windows clients do. */
  clientTime?: number;
  /** Add MsvAvFlags MIC_PRESENT and a MIC. */
  mic?: boolean;
  /** Flip a bit of the MIC after computing it. */
  tamperMic?: boolean;
  /** MsvAvChannelBindings value (16 bytes). */
  channelBindings?: Buffer;
  /** MsvAvTargetName (an SPN such as HTTP/127.0.0.1). */
  targetName?: string;
  /** An NTLMv1-length (24-byte) NT response of zeros instead of NTLMv2: to test the refusal. */
  ntlmv1Shape?: boolean;
  /** Anonymous: empty user, empty NT response, one zero byte of LM response. */
  anonymous?: boolean;
}

/**
 * The AUTHENTICATE answering `challengeBytes` (after `negotiate`), with a Version field and a MIC slot as Windows
 * and Chromium lay them out: header 64, Version 64–71, MIC 72–87, payload from 88.
 */
export function authenticateMessage(negotiate: Buffer, challengeBytes: Buffer, o: AuthenticateOptions): Buffer {
  const challenge = parseChallenge(challengeBytes);
  if (isNtlmParseError(challenge)) throw new Error(`test client: bad CHALLENGE: ${challenge.error}`);
  const domain = o.domain ?? '';
  // Names are always written in UTF-16, so the AUTHENTICATE says UNICODE whatever the CHALLENGE chose.
  const flags = ((challenge.flags & ~NtlmFlag.NEGOTIATE_KEY_EXCH & ~NtlmFlag.NEGOTIATE_OEM) | NtlmFlag.NEGOTIATE_UNICODE) >>> 0;
  let nt: Buffer;
  let lm: Buffer;
  let sessionBaseKey: Buffer = Buffer.alloc(16);
  if (o.anonymous) {
    nt = Buffer.alloc(0);
    lm = Buffer.alloc(1);
  } else if (o.ntlmv1Shape) {
    nt = Buffer.alloc(24);
    lm = Buffer.alloc(24);
  } else {
    const serverPairs = parseAvPairs(challenge.targetInfoBytes);
    if (!Array.isArray(serverPairs)) throw new Error(`test client: bad target info: ${serverPairs.error}`);
    const pairs: AvPair[] = serverPairs.filter((p) => p.id !== AvId.MsvAvFlags);
    if (o.mic) pairs.push(avFlags(AvFlag.MIC_PRESENT));
    if (o.channelBindings) pairs.push({ id: AvId.MsvAvChannelBindings, value: o.channelBindings });
    if (o.targetName !== undefined) pairs.push(avString(AvId.MsvAvTargetName, o.targetName));
    const serverTime = serverPairs.find((p) => p.id === AvId.MsvAvTimestamp)?.value;
    const time = Buffer.alloc(8);
    if (o.clientTime !== undefined) time.writeBigUInt64LE(BigInt(Math.trunc(o.clientTime)) * 10_000n + 116_444_736_000_000_000n);
    else if (serverTime) serverTime.copy(time);
    const temp = Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), time, randomBytes(8), Buffer.alloc(4), writeAvPairs(pairs), Buffer.alloc(4)]);
    const key = ntowfv2(ntHash(o.password), o.user, domain);
    const proof = hmacMd5(key, challenge.serverChallenge, temp);
    nt = Buffer.from(Buffer.concat([proof, temp]));
    lm = Buffer.alloc(24);
    sessionBaseKey = hmacMd5(key, proof);
  }
  const enc = (s: string) => Buffer.from(s, 'utf16le');
  const fields = [lm, nt, enc(domain), enc(o.user), enc(o.workstation ?? 'TESTHOST'), Buffer.alloc(0)];
  const header = 88;
  const out = Buffer.alloc(header + fields.reduce((n, f) => n + f.length, 0));
  out.write('NTLMSSP\0', 0, 'latin1');
  out.writeUInt32LE(3, 8);
  let offset = header;
  fields.forEach((f, i) => {
    const at = 12 + i * 8;
    out.writeUInt16LE(f.length, at);
    out.writeUInt16LE(f.length, at + 2);
    out.writeUInt32LE(offset, at + 4);
    f.copy(out, offset);
    offset += f.length;
  });
  out.writeUInt32LE((flags | NtlmFlag.NEGOTIATE_VERSION | (o.anonymous ? NtlmFlag.ANONYMOUS : 0)) >>> 0, 60);
  out.writeUInt8(10, 64);
  out.writeUInt16LE(19041, 66);
  out.writeUInt8(15, 71);
  if (o.mic && !o.anonymous && !o.ntlmv1Shape) {
    const mic = computeMic(sessionBaseKey, negotiate, challengeBytes, out);
    if (o.tamperMic) mic[0]! ^= 1;
    mic.copy(out, 72);
  }
  return out;
}

/** `Authorization` header values. */
export const ntlmHeader = (message: Buffer): string => `NTLM ${message.toString('base64')}`;

/** The CHALLENGE from a 401's WWW-Authenticate header(s). */
export function challengeFrom(header: string | readonly string[] | null | undefined): Buffer {
  const lines: readonly string[] = typeof header === 'string' ? header.split(/,\s*(?=NTLM )/) : (header ?? []);
  const line = lines.find((l) => /^NTLM [A-Za-z0-9+/=]+$/.test(l.trim()));
  if (!line) throw new Error(`no NTLM challenge in ${JSON.stringify(header)}`);
  return Buffer.from(line.trim().slice(5), 'base64');
}

/** The same shape as test/helpers/persona.ts's Reply. */
export interface NtlmReply {
  readonly status: number;
  readonly headers: import('node:http').IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

/**
 * GET `url` as `user` with a whole NTLM handshake on one kept-alive connection (node:http, one socket), as a browser
 * does: NEGOTIATE → 401 with the CHALLENGE → AUTHENTICATE → the answer.
 */
export async function ntlmGet(url: string, user: string, password: string): Promise<NtlmReply> {
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = (authorization: string) =>
    new Promise<NtlmReply>((resolve, reject) => {
      const req = http.request(url, { agent, headers: { authorization } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, text: body.toString('utf8'), body, headers: res.headers });
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
      req.on('error', reject);
      req.end();
    });
  try {
    const negotiate = negotiateMessage();
    const first = await once(ntlmHeader(negotiate));
    if (first.status !== 401) return first;
    return await once(ntlmHeader(authenticateMessage(negotiate, challengeFrom(first.headers['www-authenticate']), { user, password })));
  } finally {
    agent.destroy();
  }
}
