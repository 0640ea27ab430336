/**
 * NTLM messages (MS-NLMP §2.2.1): NEGOTIATE and AUTHENTICATE parsed from untrusted bytes, CHALLENGE written
 * (and parsed, for tests and clients). Parsing only — no cryptography and no decisions; those live in the verifier.
 *
 * Strict about bounds, tolerant about form, like IIS (see docs LAB.md §NTLM):
 * - every offset/length pair is checked against the buffer before its bytes are read (offset + length ≤ size; the
 *   arithmetic is on JavaScript numbers, so a u32 offset plus a u16 length cannot overflow), and a non-empty field
 *   of an AUTHENTICATE may not point into its 64-byte fixed header;
 * - empty fields are never read, so their offset may be anything (curl writes 0 for its empty session key);
 * - optional header parts (Version, MIC) are recognised from where the payload starts, not from the flags: curl,
 *   OpenJDK and Chromium send a 32-byte NEGOTIATE without Version; curl and Authen::NTLM send an AUTHENTICATE whose
 *   flags say VERSION but whose payload starts at 64; Chromium sends Version and MIC without the VERSION flag;
 * - Authen::NTLM (v2 mode) writes the domain in 8-bit bytes while the flags say UNICODE: accepted, see decodeName;
 * - the AUTHENTICATE keeps the bytes as received, because the MIC covers them as sent.
 * Deviations are listed in `tolerated` for the log, never silently.
 * Errors are values ({ error }); the HTTP layer answers 400 or 401. No input makes these functions throw.
 */
import { NtlmFlag, hasFlag } from './flags.js';
import { parseAvPairs, writeAvPairs, type AvPair } from './av-pairs.js';

export { NtlmFlag, negotiateResponseFlags } from './flags.js';

/** Why a message was refused, for the log. */
export type NtlmParseError = { readonly error: string };

export function isNtlmParseError(value: unknown): value is NtlmParseError {
  return typeof value === 'object' && value !== null && typeof (value as { error?: unknown }).error === 'string';
}

export const NTLM_SIGNATURE: Readonly<Buffer> = Buffer.from('NTLMSSP\0', 'latin1');

/** Real messages are a few hundred bytes; anything above 64 KiB is refused before it is looked at. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** The VERSION structure (MS-NLMP §2.2.2.10): informational only, never used for a decision. */
export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
  /** NTLMSSP_REVISION_W2K3 (15) in every current implementation. */
  readonly revision: number;
}

export interface NegotiateMessage {
  readonly flags: number;
  /** Only when NEGOTIATE_OEM_DOMAIN_SUPPLIED is set (the spec says the field is ignored otherwise). OEM text. */
  readonly domain?: string;
  /** Only when NEGOTIATE_OEM_WORKSTATION_SUPPLIED is set. OEM text. */
  readonly workstation?: string;
  readonly version?: Version;
  /** The bytes as received: the MIC covers them. */
  readonly raw: Buffer;
  readonly tolerated: readonly string[];
}

export interface ChallengeInput {
  readonly flags: number;
  /** Exactly 8 random bytes. */
  readonly serverChallenge: Buffer;
  /** Encoded UTF-16LE when the flags say UNICODE, else OEM (latin1). */
  readonly targetName: string;
  /** Written as TargetInfo (MsvAvEOL appended) and NEGOTIATE_TARGET_INFO set when non-empty. */
  readonly targetInfo: readonly AvPair[];
  /** Written, and NEGOTIATE_VERSION set, when given. */
  readonly version?: Version;
}

export interface ChallengeMessage {
  readonly flags: number;
  readonly serverChallenge: Buffer;
  readonly targetName: string;
  readonly targetInfo: readonly AvPair[];
  /** The TargetInfo bytes as sent (an NTLMv2 client copies them into its blob). */
  readonly targetInfoBytes: Buffer;
  readonly version?: Version;
  readonly raw: Buffer;
}

export interface AuthenticateMessage {
  readonly flags: number;
  readonly lmResponse: Buffer;
  readonly ntResponse: Buffer;
  readonly domain: string;
  readonly user: string;
  readonly workstation: string;
  /** The name fields as sent, so a verifier can try the other reading of an ambiguous 8-bit/UTF-16 name. */
  readonly domainBytes: Buffer;
  readonly userBytes: Buffer;
  readonly workstationBytes: Buffer;
  /** Present when the field is non-empty (with NEGOTIATE_KEY_EXCH it is the encrypted random session key). */
  readonly encryptedRandomSessionKey?: Buffer;
  /** Present when the Version field exists (payload at ≥ 72) and the flags say VERSION. */
  readonly version?: Version;
  /** Present when the payload starts at ≥ 88: Version (64–71) and MIC (72–87) both fit before it. */
  readonly mic?: Buffer;
  readonly micOffset?: number;
  /** The lowest offset of a non-empty payload field (the message size when every field is empty). */
  readonly payloadOffset: number;
  /** The bytes as received: the MIC is computed over them with the MIC field zeroed (see withZeroedMic). */
  readonly raw: Buffer;
  /** Deviations from MS-NLMP that were accepted, for the log. */
  readonly tolerated: readonly string[];
}

const MESSAGE_NAMES = { 1: 'NEGOTIATE', 2: 'CHALLENGE', 3: 'AUTHENTICATE' } as const;
type MessageTypeNumber = keyof typeof MESSAGE_NAMES;

/** A Buffer over the same memory, for reading: the view costs nothing and never outlives the call. */
function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The message type after checking size and signature. */
export function messageType(bytes: Uint8Array): MessageTypeNumber | NtlmParseError {
  if (!(bytes instanceof Uint8Array)) return { error: 'NTLM message is not a byte array' };
  if (bytes.byteLength > MAX_MESSAGE_BYTES) return { error: `NTLM message is ${bytes.byteLength} bytes; the limit is ${MAX_MESSAGE_BYTES}` };
  if (bytes.byteLength < 12) return { error: `NTLM message is ${bytes.byteLength} bytes, shorter than signature and type` };
  const buf = view(bytes);
  if (!buf.subarray(0, 8).equals(NTLM_SIGNATURE)) return { error: 'NTLM message does not start with "NTLMSSP\\0"' };
  const type = buf.readUInt32LE(8);
  if (type !== 1 && type !== 2 && type !== 3) return { error: `NTLM message type ${type} is not 1, 2 or 3` };
  return type;
}

function expectType(bytes: Uint8Array, expected: MessageTypeNumber): Buffer | NtlmParseError {
  const type = messageType(bytes);
  if (typeof type !== 'number') return type;
  if (type !== expected) return { error: `expected an NTLM ${MESSAGE_NAMES[expected]} message, got ${MESSAGE_NAMES[type]}` };
  return view(bytes);
}

/**
 * The bytes of the security buffer (Len u16, MaxLen u16, Offset u32) described at `at`, copied.
 * Empty fields are not bounds-checked: nothing is read, and clients write arbitrary offsets for them.
 * MaxLen is ignored, as Windows does.
 */
function field(buf: Buffer, at: number, name: string, headerEnd: number): Buffer | NtlmParseError {
  const len = buf.readUInt16LE(at);
  if (len === 0) return Buffer.alloc(0);
  const offset = buf.readUInt32LE(at + 4);
  if (offset < headerEnd) return { error: `${name} field at offset ${offset} points into the ${headerEnd}-byte header` };
  if (offset + len > buf.length) return { error: `${name} field (offset ${offset}, length ${len}) runs past the ${buf.length}-byte message` };
  return Buffer.from(buf.subarray(offset, offset + len));
}

/** Where the payload of a set of fields starts: the lowest offset of the non-empty ones, else the message end. */
function payloadStart(buf: Buffer, fieldPositions: readonly number[]): number {
  let lowest = buf.length;
  for (const at of fieldPositions) {
    if (buf.readUInt16LE(at) !== 0) lowest = Math.min(lowest, buf.readUInt32LE(at + 4));
  }
  return lowest;
}

function readVersion(buf: Buffer, at: number): Version {
  return { major: buf.readUInt8(at), minor: buf.readUInt8(at + 1), build: buf.readUInt16LE(at + 2), revision: buf.readUInt8(at + 7) };
}

function writeVersion(buf: Buffer, at: number, v: Version): void {
  buf.writeUInt8(v.major & 0xff, at);
  buf.writeUInt8(v.minor & 0xff, at + 1);
  buf.writeUInt16LE(v.build & 0xffff, at + 2);
  buf.fill(0, at + 4, at + 7); // Reserved
  buf.writeUInt8(v.revision & 0xff, at + 7);
}

export function parseNegotiate(bytes: Uint8Array): NegotiateMessage | NtlmParseError {
  const buf = expectType(bytes, 1);
  if (!Buffer.isBuffer(buf)) return buf;
  // 16 bytes (signature, type, flags) is the oldest form; from 32 on, both name fields are present. A size between
  // the two cuts a field in half.
  if (buf.length < 16 || (buf.length > 16 && buf.length < 32)) return { error: `NEGOTIATE of ${buf.length} bytes ends inside its header` };
  const flags = buf.readUInt32LE(12);
  const tolerated: string[] = [];
  let domain: string | undefined;
  let workstation: string | undefined;
  const used: number[] = [];
  if (buf.length >= 32) {
    if (hasFlag(flags, NtlmFlag.NEGOTIATE_OEM_DOMAIN_SUPPLIED)) {
      const d = field(buf, 16, 'DomainName', 32);
      if (!Buffer.isBuffer(d)) return d;
      domain = d.toString('latin1'); // MS-NLMP §2.2.1.1: OEM, whatever the UNICODE flag says
      used.push(16);
    }
    if (hasFlag(flags, NtlmFlag.NEGOTIATE_OEM_WORKSTATION_SUPPLIED)) {
      const w = field(buf, 24, 'Workstation', 32);
      if (!Buffer.isBuffer(w)) return w;
      workstation = w.toString('latin1');
      used.push(24);
    }
  }
  let version: Version | undefined;
  if (hasFlag(flags, NtlmFlag.NEGOTIATE_VERSION)) {
    if (buf.length >= 40 && payloadStart(buf, used) >= 40) version = readVersion(buf, 32);
    else tolerated.push('VERSION flag without a Version field');
  }
  const raw = Buffer.from(buf);
  return { flags, ...(domain !== undefined && { domain }), ...(workstation !== undefined && { workstation }), ...(version && { version }), raw, tolerated };
}

/**
 * The CHALLENGE. Layout: 48-byte header, Version (8) when NEGOTIATE_VERSION, then TargetName and TargetInfo.
 * Bad input (a challenge not 8 bytes, a name too long for a u16 length) comes from server code, not from a client,
 * so it throws a RangeError instead of sending a message a client would misparse.
 */
export function writeChallenge(input: ChallengeInput): Buffer {
  if (input.serverChallenge.length !== 8) throw new RangeError(`server challenge must be 8 bytes, is ${input.serverChallenge.length}`);
  let flags = input.flags >>> 0;
  if (input.version) flags = (flags | NtlmFlag.NEGOTIATE_VERSION) >>> 0;
  if (input.targetInfo.length > 0) flags = (flags | NtlmFlag.NEGOTIATE_TARGET_INFO) >>> 0;
  const name = Buffer.from(input.targetName, hasFlag(flags, NtlmFlag.NEGOTIATE_UNICODE) ? 'utf16le' : 'latin1');
  const info = hasFlag(flags, NtlmFlag.NEGOTIATE_TARGET_INFO) ? writeAvPairs(input.targetInfo) : Buffer.alloc(0);
  if (name.length > 0xffff) throw new RangeError(`target name is ${name.length} bytes; the limit is 65535`);
  if (info.length > 0xffff) throw new RangeError(`target info is ${info.length} bytes; the limit is 65535`);
  const hasVersion = hasFlag(flags, NtlmFlag.NEGOTIATE_VERSION);
  const header = 48 + (hasVersion ? 8 : 0);
  const out = Buffer.alloc(header + name.length + info.length);
  NTLM_SIGNATURE.copy(out, 0);
  out.writeUInt32LE(2, 8);
  writeField(out, 12, name.length, header);
  out.writeUInt32LE(flags, 20);
  input.serverChallenge.copy(out, 24);
  // 32–39: Reserved (zero)
  writeField(out, 40, info.length, header + name.length);
  if (hasVersion) writeVersion(out, 48, input.version ?? { major: 0, minor: 0, build: 0, revision: 15 });
  name.copy(out, header);
  info.copy(out, header + name.length);
  return out;
}

function writeField(out: Buffer, at: number, len: number, offset: number): void {
  out.writeUInt16LE(len, at);
  out.writeUInt16LE(len, at + 2);
  out.writeUInt32LE(offset, at + 4);
}

/**
 * A CHALLENGE, for tests and for clients of other servers. Accepts the short forms older servers send: 32 bytes
 * (no Reserved/TargetInfo) and 40 bytes (no TargetInfo).
 */
export function parseChallenge(bytes: Uint8Array): ChallengeMessage | NtlmParseError {
  const buf = expectType(bytes, 2);
  if (!Buffer.isBuffer(buf)) return buf;
  if (buf.length < 32) return { error: `CHALLENGE of ${buf.length} bytes ends inside its header` };
  const headerEnd = buf.length >= 48 ? 48 : buf.length >= 40 ? 40 : 32;
  const flags = buf.readUInt32LE(20);
  const nameBytes = field(buf, 12, 'TargetName', headerEnd);
  if (!Buffer.isBuffer(nameBytes)) return nameBytes;
  const used = [12];
  let targetInfoBytes: Buffer = Buffer.alloc(0);
  let targetInfo: readonly AvPair[] = [];
  if (headerEnd === 48 && hasFlag(flags, NtlmFlag.NEGOTIATE_TARGET_INFO)) {
    const info = field(buf, 40, 'TargetInfo', headerEnd);
    if (!Buffer.isBuffer(info)) return info;
    if (info.length > 0) {
      const pairs = parseAvPairs(info);
      if (!Array.isArray(pairs)) return { error: `CHALLENGE TargetInfo: ${pairs.error}` };
      targetInfo = pairs;
    }
    targetInfoBytes = info;
    used.push(40);
  }
  const version = hasFlag(flags, NtlmFlag.NEGOTIATE_VERSION) && buf.length >= 56 && payloadStart(buf, used) >= 56 ? readVersion(buf, 48) : undefined;
  return {
    flags,
    serverChallenge: Buffer.from(buf.subarray(24, 32)),
    targetName: nameBytes.toString(hasFlag(flags, NtlmFlag.NEGOTIATE_UNICODE) ? 'utf16le' : 'latin1'),
    targetInfo,
    targetInfoBytes,
    ...(version && { version }),
    raw: Buffer.from(buf),
  };
}

/** True when the UTF-16 reading has a surrogate without its partner: no client meant that as UTF-16LE. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Every byte printable ASCII other than space: what an 8-bit NetBIOS domain name looks like. */
function allPrintableAscii(bytes: Buffer): boolean {
  for (const b of bytes) if (b < 0x21 || b > 0x7e) return false;
  return true;
}

/**
 * A name field of the AUTHENTICATE. OEM (read as latin1) without the UNICODE flag. With it, UTF-16LE — unless
 * the bytes are clearly 8-bit, which Authen::NTLM sends for the domain while setting UNICODE. The heuristic:
 * 1. an odd length cannot be UTF-16LE (any field);
 * 2. a UTF-16 reading with an unpaired surrogate is not text anyone sent as UTF-16LE (any field);
 * 3. for the domain only: an even length whose every byte is printable ASCII (0x21–0x7E). Real UTF-16LE from
 *    Windows, curl, Java or Chromium puts 0x00 in the high byte of every ASCII character, so for the NetBIOS
 *    domain names seen in practice the two readings cannot be confused. The one case it misreads is a genuine
 *    UTF-16LE domain made only of code units whose two bytes are both printable ASCII (some CJK ideographs);
 *    the raw bytes are kept (domainBytes) so the verifier can try the UTF-16 reading too.
 */
function decodeName(bytes: Buffer, unicode: boolean, isDomain: boolean): { text: string; eightBit: boolean } {
  if (!unicode) return { text: bytes.toString('latin1'), eightBit: false };
  if (bytes.length % 2 === 1) return { text: bytes.toString('latin1'), eightBit: true };
  const text = bytes.toString('utf16le');
  if (LONE_SURROGATE.test(text)) return { text: bytes.toString('latin1'), eightBit: true };
  if (isDomain && bytes.length > 0 && allPrintableAscii(bytes)) return { text: bytes.toString('latin1'), eightBit: true };
  return { text, eightBit: false };
}

/** Security-buffer positions in the AUTHENTICATE header (MS-NLMP §2.2.1.3). */
const AUTH = { lm: 12, nt: 20, domain: 28, user: 36, workstation: 44, sessionKey: 52, flags: 60, version: 64, mic: 72 } as const;
const AUTH_HEADER = 64;
const AUTH_FIELDS = [AUTH.lm, AUTH.nt, AUTH.domain, AUTH.user, AUTH.workstation, AUTH.sessionKey] as const;

export function parseAuthenticate(bytes: Uint8Array): AuthenticateMessage | NtlmParseError {
  const buf = expectType(bytes, 3);
  if (!Buffer.isBuffer(buf)) return buf;
  if (buf.length < AUTH_HEADER) return { error: `AUTHENTICATE of ${buf.length} bytes is shorter than its ${AUTH_HEADER}-byte header` };
  const flags = buf.readUInt32LE(AUTH.flags);
  // Copy once; every field is cut from the copy's bytes, so what the verifier sees is what the MIC covers.
  const raw = Buffer.from(buf);
  const lmResponse = field(raw, AUTH.lm, 'LmChallengeResponse', AUTH_HEADER);
  if (!Buffer.isBuffer(lmResponse)) return lmResponse;
  const ntResponse = field(raw, AUTH.nt, 'NtChallengeResponse', AUTH_HEADER);
  if (!Buffer.isBuffer(ntResponse)) return ntResponse;
  const domainBytes = field(raw, AUTH.domain, 'DomainName', AUTH_HEADER);
  if (!Buffer.isBuffer(domainBytes)) return domainBytes;
  const userBytes = field(raw, AUTH.user, 'UserName', AUTH_HEADER);
  if (!Buffer.isBuffer(userBytes)) return userBytes;
  const workstationBytes = field(raw, AUTH.workstation, 'Workstation', AUTH_HEADER);
  if (!Buffer.isBuffer(workstationBytes)) return workstationBytes;
  const sessionKey = field(raw, AUTH.sessionKey, 'EncryptedRandomSessionKey', AUTH_HEADER);
  if (!Buffer.isBuffer(sessionKey)) return sessionKey;

  const tolerated: string[] = [];
  const payloadOffset = payloadStart(raw, AUTH_FIELDS);
  // The optional Version and MIC are there exactly when the payload leaves room for them: the flags cannot be
  // trusted for this, they are wrong in both directions in real clients (curl: VERSION without Version; Chromium:
  // Version and MIC without VERSION). Whether a MIC must be checked is the verifier's call (MsvAvFlags).
  const versionRoom = payloadOffset >= AUTH.mic;
  const micRoom = payloadOffset >= AUTH.mic + 16;
  const versionFlag = hasFlag(flags, NtlmFlag.NEGOTIATE_VERSION);
  if (versionFlag && !versionRoom) tolerated.push('VERSION flag without a Version field (payload at offset ' + payloadOffset + ')');
  if (!versionFlag && versionRoom) tolerated.push('Version field without the VERSION flag');
  const version = versionFlag && versionRoom ? readVersion(raw, AUTH.version) : undefined;

  const unicode = hasFlag(flags, NtlmFlag.NEGOTIATE_UNICODE);
  const domain = decodeName(domainBytes, unicode, true);
  const user = decodeName(userBytes, unicode, false);
  const workstation = decodeName(workstationBytes, unicode, false);
  if (domain.eightBit) tolerated.push('8-bit DomainName with the UNICODE flag');
  if (user.eightBit) tolerated.push('8-bit UserName with the UNICODE flag');
  if (workstation.eightBit) tolerated.push('8-bit Workstation with the UNICODE flag');

  return {
    flags,
    lmResponse,
    ntResponse,
    domain: domain.text,
    user: user.text,
    workstation: workstation.text,
    domainBytes,
    userBytes,
    workstationBytes,
    ...(sessionKey.length > 0 && { encryptedRandomSessionKey: sessionKey }),
    ...(version && { version }),
    ...(micRoom && { mic: Buffer.from(raw.subarray(AUTH.mic, AUTH.mic + 16)), micOffset: AUTH.mic }),
    payloadOffset,
    raw,
    tolerated,
  };
}

/**
 * The AUTHENTICATE as received with its MIC field zeroed: the third input of the MIC (MS-NLMP §3.1.5.1.2).
 * Without a MIC, the raw bytes unchanged (a copy either way, so the caller cannot alter the parsed message).
 */
export function withZeroedMic(msg: AuthenticateMessage): Buffer {
  const copy = Buffer.from(msg.raw);
  if (msg.micOffset !== undefined) copy.fill(0, msg.micOffset, msg.micOffset + 16);
  return copy;
}
