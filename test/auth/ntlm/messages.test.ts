/**
 * NTLM messages (MS-NLMP §2.2.1): the spec's §4.2.4.3 messages byte for byte, Chromium's published test vectors,
 * the client quirks IIS accepts (LAB.md §NTLM) built byte by byte, and fuzzing: no input throws, every field a
 * parser returns lies inside the message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  messageType,
  parseNegotiate,
  parseChallenge,
  parseAuthenticate,
  writeChallenge,
  withZeroedMic,
  isNtlmParseError,
  negotiateResponseFlags,
  NtlmFlag,
  MAX_MESSAGE_BYTES,
  type AuthenticateMessage,
  type ChallengeInput,
} from '../../../src/auth/ntlm/messages.js';
import { flagNames, hasFlag } from '../../../src/auth/ntlm/flags.js';
import { AvId, AvFlag, avString, avTimestamp, avFlagsValue, parseAvPairs, avPairText, findAvPair, type AvPair } from '../../../src/auth/ntlm/av-pairs.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const u16 = (s: string) => Buffer.from(s, 'utf16le');
const SIG = '4e544c4d53535000';

/** MS-NLMP §4.2.4.3 CHALLENGE_MESSAGE (NTLMv2 example): target "Server", TargetInfo Domain/Server, Version 6.0.6000. */
const SPEC_CHALLENGE = hex(
  '4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef' +
    '00000000000000002400240044000000060070170000000f5300650072007600' +
    '6500720002000c0044006f006d00610069006e0001000c005300650072007600' +
    '6500720000000000',
);

/**
 * MS-NLMP §4.2.4.3 AUTHENTICATE_MESSAGE: Version present (5.1.2600), no MIC — the payload starts at 72.
 * LMv2 86c35097…, NTProofStr 68cd0ab8… (§4.2.4.2), encrypted session key c5dad254… (§4.2.4.2.3).
 */
const SPEC_AUTHENTICATE = hex(
  '4e544c4d5353500003000000180018006c00000054005400840000000c000c00' +
    '480000000800080054000000100010005c00000010001000d8000000358288e2' +
    '0501280a0000000f44006f006d00610069006e00550073006500720043004f00' +
    '4d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaa' +
    'aaaaaaaa68cd0ab851e51c96aabc927bebef6a1c010100000000000000000000' +
    '00000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e00' +
    '01000c005300650072007600650072000000000000000000c5dad2544fc97990' +
    '94ce1ce90bc9d03e',
);

/** Chromium's NEGOTIATE (net/ntlm/ntlm_test_data.h kExpectedNegotiateMsg): 32 bytes, no Version. */
const CHROMIUM_NEGOTIATE = hex(SIG + '01000000' + '07820800' + '0000000020000000' + '0000000020000000');

/** Chromium's blob pairs for the spec challenge: the server's pairs + MsvAvFlags(MIC) + channel bindings + SPN. */
const CHROMIUM_PAIRS = hex(
  '02000c0044006f006d00610069006e00 01000c00530065007200760065007200 0600040002000000' +
    '0a0010006586e99d81c2fc984e47172fd4dd0310 0900160048005400540050002f00530065007200760065007200 00000000',
);
const CHROMIUM_MIC = 'f7361633f0ad9bdf4a7c421bc6b824a3';

/**
 * Chromium's NTLMv2 AUTHENTICATE for the spec challenge (kExpectedAuthenticateMsgSpecResponseV2), laid out as
 * its comment documents: flags 0x00088203 (no VERSION), zero Version at 64, MIC at 72, payload from 88.
 */
const CHROMIUM_AUTHENTICATE = Buffer.concat([
  hex(
    SIG + '03000000' + '1800180058000000' + '8a008a0070000000' + '0c000c00fa000000' + '0800080006010000' + '100010000e010000' +
      '0000000058000000' + '03820800' + '0000000000000000' + CHROMIUM_MIC,
  ),
  Buffer.alloc(24), // LM response: zeros
  hex('8c0260dbef690662af9c42d50782d2ed' + '0101000000000000800bc8fd00d4d201aaaaaaaaaaaaaaaa00000000'),
  CHROMIUM_PAIRS,
  Buffer.alloc(4),
  u16('Domain'),
  u16('User'),
  u16('COMPUTER'),
]);

/** Chromium's NTLMv1 AUTHENTICATE (kExpectedAuthenticateMsgSpecResponseV1): payload at 64, no Version, no MIC. */
const CHROMIUM_AUTHENTICATE_V1 = Buffer.concat([
  hex(SIG + '03000000' + '1800180040000000' + '1800180058000000' + '0c000c0070000000' + '080008007c000000' + '1000100084000000' + '0000000040000000' + '03820800'),
  hex('aaaaaaaaaaaaaaaa' + '0000000000000000' + '0000000000000000'),
  hex('7537f803ae367128ca458204bde7caf81e97ed2683267232'),
  u16('Domain'),
  u16('User'),
  u16('COMPUTER'),
]);

/** A NEGOTIATE with Version, as Windows (and the .NET tests of the spec example) send: 40 bytes. */
const NEGOTIATE_WITH_VERSION = hex('4e544c4d535350000100000033828ae2000000000000000000000000000000000601b01d0000000f');

function ok<T>(value: T): Exclude<T, { error: string }> {
  if (isNtlmParseError(value)) assert.fail(`unexpected parse error: ${value.error}`);
  return value as Exclude<T, { error: string }>;
}

interface AuthParts {
  flags: number;
  lm?: Buffer;
  nt?: Buffer;
  domain?: Buffer;
  user?: Buffer;
  workstation?: Buffer;
  sessionKey?: Buffer;
  /** Where the payload starts: 64 (no Version), 72 (Version), 88 (Version + MIC). */
  payloadAt: 64 | 72 | 88;
  version?: Buffer;
  mic?: Buffer;
  /** Offset written for empty fields (curl writes 0); default: the current payload position. */
  emptyOffset?: number;
}

/** Builds an AUTHENTICATE byte by byte, the way the clients of LAB.md §NTLM lay theirs out. */
function buildAuthenticate(p: AuthParts): Buffer {
  const fields = [p.lm, p.nt, p.domain, p.user, p.workstation, p.sessionKey].map((f) => f ?? Buffer.alloc(0));
  const header = Buffer.alloc(p.payloadAt);
  Buffer.from(SIG, 'hex').copy(header, 0);
  header.writeUInt32LE(3, 8);
  let at = p.payloadAt;
  fields.forEach((f, i) => {
    header.writeUInt16LE(f.length, 12 + i * 8);
    header.writeUInt16LE(f.length, 14 + i * 8);
    header.writeUInt32LE(f.length === 0 && p.emptyOffset !== undefined ? p.emptyOffset : at, 16 + i * 8);
    at += f.length;
  });
  header.writeUInt32LE(p.flags >>> 0, 60);
  if (p.payloadAt >= 72) (p.version ?? Buffer.alloc(8)).copy(header, 64);
  if (p.payloadAt >= 88) (p.mic ?? Buffer.alloc(16)).copy(header, 72);
  return Buffer.concat([header, ...fields]);
}

const NTLMV2_FLAGS = NtlmFlag.NEGOTIATE_UNICODE | NtlmFlag.NEGOTIATE_NTLM | NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY | NtlmFlag.NEGOTIATE_ALWAYS_SIGN;

// ---------------------------------------------------------------------------------------------------------------
// The specification's messages

test('messageType: signature and type checked, the three types named', () => {
  assert.equal(messageType(CHROMIUM_NEGOTIATE), 1);
  assert.equal(messageType(SPEC_CHALLENGE), 2);
  assert.equal(messageType(SPEC_AUTHENTICATE), 3);
  assert.ok(isNtlmParseError(messageType(Buffer.alloc(0))));
  assert.ok(isNtlmParseError(messageType(hex(SIG + '0400'))));
  assert.ok(isNtlmParseError(messageType(hex(SIG + '04000000'))));
  assert.ok(isNtlmParseError(messageType(hex('4e544c4d53535001' + '01000000'))));
  assert.ok(isNtlmParseError(messageType(Buffer.from('NTLMSSP\u0000\u0001\u0000\u0000\u0000'.toLowerCase(), 'latin1'))));
});

test('MS-NLMP §4.2.4.3 CHALLENGE: writeChallenge reproduces it byte for byte', () => {
  const written = writeChallenge({
    flags: 0xe28a8233,
    serverChallenge: hex('0123456789abcdef'),
    targetName: 'Server',
    targetInfo: [avString(AvId.MsvAvNbDomainName, 'Domain'), avString(AvId.MsvAvNbComputerName, 'Server')],
    version: { major: 6, minor: 0, build: 6000, revision: 15 },
  });
  assert.equal(written.toString('hex'), SPEC_CHALLENGE.toString('hex'));
});

test('MS-NLMP §4.2.4.3 CHALLENGE parses to its fields', () => {
  const c = ok(parseChallenge(SPEC_CHALLENGE));
  assert.equal(c.flags, 0xe28a8233);
  assert.equal(c.serverChallenge.toString('hex'), '0123456789abcdef');
  assert.equal(c.targetName, 'Server');
  assert.deepEqual(c.version, { major: 6, minor: 0, build: 6000, revision: 15 });
  assert.deepEqual(
    c.targetInfo.map((p) => [p.id, avPairText(p)]),
    [
      [AvId.MsvAvNbDomainName, 'Domain'],
      [AvId.MsvAvNbComputerName, 'Server'],
    ],
  );
  assert.equal(c.targetInfoBytes.toString('hex'), SPEC_CHALLENGE.subarray(0x44).toString('hex'));
  assert.deepEqual(c.raw, SPEC_CHALLENGE);
});

test('MS-NLMP §4.2.4.3 AUTHENTICATE: every field, Version read, no MIC (payload at 72)', () => {
  const a = ok(parseAuthenticate(SPEC_AUTHENTICATE));
  assert.equal(a.flags, 0xe2888235);
  assert.equal(a.domain, 'Domain');
  assert.equal(a.user, 'User');
  assert.equal(a.workstation, 'COMPUTER');
  assert.equal(a.lmResponse.toString('hex'), '86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
  assert.equal(a.ntResponse.length, 84);
  assert.equal(a.ntResponse.subarray(0, 16).toString('hex'), '68cd0ab851e51c96aabc927bebef6a1c');
  assert.equal(a.encryptedRandomSessionKey?.toString('hex'), 'c5dad2544fc9799094ce1ce90bc9d03e');
  assert.deepEqual(a.version, { major: 5, minor: 1, build: 2600, revision: 15 });
  assert.equal(a.mic, undefined);
  assert.equal(a.micOffset, undefined);
  assert.equal(a.payloadOffset, 72);
  assert.deepEqual(a.tolerated, []);
  assert.deepEqual(withZeroedMic(a), SPEC_AUTHENTICATE, 'without a MIC the bytes are unchanged');
  // The blob's AV pairs are the challenge's TargetInfo (§4.2.4.1.3 "temp"): 28-byte blob header after NTProofStr.
  const pairs = ok(parseAvPairs(a.ntResponse.subarray(16 + 28)));
  assert.deepEqual(pairs.map((p) => avPairText(p)), ['Domain', 'Server']);
});

test("Chromium's NTLMv2 AUTHENTICATE: MIC found from the payload offset although the flags omit VERSION", () => {
  const a = ok(parseAuthenticate(CHROMIUM_AUTHENTICATE));
  assert.equal(CHROMIUM_AUTHENTICATE.length, 286);
  assert.equal(a.flags, 0x00088203);
  assert.equal(a.payloadOffset, 88);
  assert.equal(a.micOffset, 72);
  assert.equal(a.mic?.toString('hex'), CHROMIUM_MIC);
  assert.equal(a.version, undefined, 'the zero Version without the flag is not reported');
  assert.deepEqual(a.tolerated, ['Version field without the VERSION flag']);
  assert.equal(a.encryptedRandomSessionKey, undefined, 'empty session key field (offset 88, length 0)');
  assert.deepEqual([a.domain, a.user, a.workstation], ['Domain', 'User', 'COMPUTER']);
  assert.equal(a.ntResponse.length, 138);
  assert.deepEqual(a.lmResponse, Buffer.alloc(24));

  const zeroed = withZeroedMic(a);
  assert.deepEqual(zeroed.subarray(72, 88), Buffer.alloc(16));
  assert.deepEqual(zeroed.subarray(0, 72), CHROMIUM_AUTHENTICATE.subarray(0, 72));
  assert.deepEqual(zeroed.subarray(88), CHROMIUM_AUTHENTICATE.subarray(88));
  assert.equal(a.raw.subarray(72, 88).toString('hex'), CHROMIUM_MIC, 'raw keeps the MIC as received');

  const pairs = ok(parseAvPairs(a.ntResponse.subarray(16 + 28)));
  assert.equal(avFlagsValue(pairs), AvFlag.MIC_PRESENT);
  const spn = findAvPair(pairs, AvId.MsvAvTargetName);
  assert.equal(spn && avPairText(spn), 'HTTP/Server');
});

test("Chromium's NTLMv1 AUTHENTICATE: payload at 64, no Version, no MIC", () => {
  const a = ok(parseAuthenticate(CHROMIUM_AUTHENTICATE_V1));
  assert.equal(a.payloadOffset, 64);
  assert.equal(a.version, undefined);
  assert.equal(a.mic, undefined);
  assert.equal(a.ntResponse.toString('hex'), '7537f803ae367128ca458204bde7caf81e97ed2683267232');
  assert.deepEqual([a.domain, a.user, a.workstation], ['Domain', 'User', 'COMPUTER']);
  assert.deepEqual(a.tolerated, []);
});

// ---------------------------------------------------------------------------------------------------------------
// NEGOTIATE forms real clients send

test('NEGOTIATE of 32 bytes without Version (curl, OpenJDK, Chromium)', () => {
  const n = ok(parseNegotiate(CHROMIUM_NEGOTIATE));
  assert.equal(n.flags, 0x00088207);
  assert.equal(n.version, undefined);
  assert.equal(n.domain, undefined);
  assert.equal(n.workstation, undefined);
  assert.deepEqual(n.tolerated, []);
  assert.deepEqual(n.raw, CHROMIUM_NEGOTIATE);
  // curl's flags: OEM, REQUEST_TARGET, NTLM, ALWAYS_SIGN, ESS — and VERSION never; a 32-byte message with VERSION
  // set is accepted too, its Version reported absent.
  const withVersionFlag = Buffer.from(CHROMIUM_NEGOTIATE);
  withVersionFlag.writeUInt32LE(0x02088207, 12);
  const v = ok(parseNegotiate(withVersionFlag));
  assert.equal(v.version, undefined);
  assert.equal(v.tolerated.length, 1);
});

test('NEGOTIATE of 35 bytes with an OEM workstation name (Authen::NTLM)', () => {
  // flags 0xb207: UNICODE, OEM, REQUEST_TARGET, NTLM, OEM_DOMAIN_SUPPLIED, OEM_WORKSTATION_SUPPLIED, ALWAYS_SIGN
  const msg = Buffer.concat([hex(SIG + '01000000' + '07b20000' + '0000000020000000' + '0300030020000000'), Buffer.from('WS1', 'latin1')]);
  assert.equal(msg.length, 35);
  const n = ok(parseNegotiate(msg));
  assert.equal(n.domain, '');
  assert.equal(n.workstation, 'WS1');
  assert.equal(n.version, undefined);
});

test('NEGOTIATE of 40 bytes with Version (Windows, Samba ntlm_auth)', () => {
  const n = ok(parseNegotiate(NEGOTIATE_WITH_VERSION));
  assert.equal(n.flags, 0xe28a8233);
  assert.deepEqual(n.version, { major: 6, minor: 1, build: 7600, revision: 15 });
});

test('NEGOTIATE: 16-byte form accepted; a header cut inside a field, a bad name field, wrong type refused', () => {
  assert.equal(ok(parseNegotiate(CHROMIUM_NEGOTIATE.subarray(0, 16))).flags, 0x00088207);
  for (const len of [12, 15, 17, 24, 31]) assert.ok(isNtlmParseError(parseNegotiate(CHROMIUM_NEGOTIATE.subarray(0, len))), `${len} bytes`);
  // Domain field past the end while OEM_DOMAIN_SUPPLIED is set: refused; the same bytes without the flag: ignored.
  const bad = hex(SIG + '01000000' + '07120000' + '0500050020000000' + '0000000020000000');
  assert.ok(isNtlmParseError(parseNegotiate(bad)));
  bad.writeUInt32LE(0x00000207, 12);
  assert.equal(ok(parseNegotiate(bad)).domain, undefined);
  // A name pointing into the header is refused.
  const intoHeader = hex(SIG + '01000000' + '07120000' + '0400040008000000' + '0000000020000000');
  assert.ok(isNtlmParseError(parseNegotiate(intoHeader)));
  assert.ok(isNtlmParseError(parseNegotiate(SPEC_AUTHENTICATE)));
  assert.ok(isNtlmParseError(parseNegotiate(SPEC_CHALLENGE)));
});

// ---------------------------------------------------------------------------------------------------------------
// AUTHENTICATE forms real clients send

test('AUTHENTICATE whose flags say VERSION but whose payload starts at 64 (curl, Authen::NTLM v1)', () => {
  const msg = buildAuthenticate({
    flags: NTLMV2_FLAGS | NtlmFlag.NEGOTIATE_VERSION,
    lm: Buffer.alloc(24, 1),
    nt: Buffer.alloc(24, 2),
    domain: u16('DOM'),
    user: u16('alice'),
    workstation: u16('HOST'),
    payloadAt: 64,
    emptyOffset: 0, // curl: "session key offset (unused)" = 0
  });
  const a = ok(parseAuthenticate(msg));
  assert.equal(a.version, undefined);
  assert.equal(a.mic, undefined);
  assert.equal(a.encryptedRandomSessionKey, undefined);
  assert.deepEqual([a.domain, a.user, a.workstation], ['DOM', 'alice', 'HOST']);
  assert.equal(a.tolerated.length, 1);
  assert.match(a.tolerated[0] ?? '', /VERSION flag without a Version field/);
});

test('AUTHENTICATE with an 8-bit domain under the UNICODE flag (Authen::NTLM v2) reads the domain as 8-bit', () => {
  const make = (domain: Buffer) =>
    ok(parseAuthenticate(buildAuthenticate({ flags: NTLMV2_FLAGS, nt: Buffer.alloc(60, 7), domain, user: u16('bob'), workstation: u16('PERLHOST'), payloadAt: 64 })));
  const odd = make(Buffer.from('WORKGROUP', 'latin1'));
  assert.equal(odd.domain, 'WORKGROUP');
  assert.equal(odd.user, 'bob');
  assert.deepEqual(odd.tolerated, ['8-bit DomainName with the UNICODE flag']);
  assert.deepEqual(odd.domainBytes, Buffer.from('WORKGROUP', 'latin1'), 'raw bytes kept for the verifier');
  assert.equal(make(Buffer.from('DOMAIN', 'latin1')).domain, 'DOMAIN', 'even length, all printable ASCII');
  assert.equal(make(Buffer.from('MÜNCHEN', 'latin1')).domain, 'MÜNCHEN', 'odd length, 8-bit letters');
  // Genuine UTF-16LE stays UTF-16LE, ASCII or not.
  for (const name of ['Domain', 'Ελλάδα', 'Müller-AG', '中文域']) {
    const a = make(u16(name));
    assert.equal(a.domain, name);
    assert.deepEqual(a.tolerated, []);
  }
});

test('user and workstation: odd length or lone surrogate under UNICODE fall back to 8-bit; OEM without UNICODE', () => {
  const a = ok(parseAuthenticate(buildAuthenticate({ flags: NTLMV2_FLAGS, user: Buffer.from('eve', 'latin1'), workstation: hex('00d84100'), payloadAt: 64 })));
  assert.equal(a.user, 'eve');
  assert.equal(a.workstation, '\u0000\u00d8A\u0000');
  assert.equal(a.tolerated.length, 2);
  const oem = ok(
    parseAuthenticate(buildAuthenticate({ flags: NtlmFlag.NEGOTIATE_OEM | NtlmFlag.NEGOTIATE_NTLM, domain: Buffer.from('DÖM', 'latin1'), user: Buffer.from('José', 'latin1'), payloadAt: 64 })),
  );
  assert.deepEqual([oem.domain, oem.user], ['DÖM', 'José']);
  assert.deepEqual(oem.tolerated, []);
});

test('AUTHENTICATE with Version and MIC: MIC read at 72, withZeroedMic zeroes exactly those 16 bytes', () => {
  const mic = hex('00112233445566778899aabbccddeeff');
  const msg = buildAuthenticate({
    flags: NTLMV2_FLAGS | NtlmFlag.NEGOTIATE_VERSION | NtlmFlag.NEGOTIATE_KEY_EXCH,
    lm: Buffer.alloc(24),
    nt: Buffer.alloc(100, 9),
    domain: u16('SAMBA'),
    user: u16('carol'),
    sessionKey: Buffer.alloc(16, 5),
    payloadAt: 88,
    version: hex('0a00614a0000000f'),
    mic,
  });
  const a = ok(parseAuthenticate(msg));
  assert.equal(a.micOffset, 72);
  assert.deepEqual(a.mic, mic);
  assert.deepEqual(a.version, { major: 10, minor: 0, build: 19041, revision: 15 });
  assert.deepEqual(a.encryptedRandomSessionKey, Buffer.alloc(16, 5));
  const zeroed = withZeroedMic(a);
  assert.deepEqual(zeroed, Buffer.concat([msg.subarray(0, 72), Buffer.alloc(16), msg.subarray(88)]));
  assert.deepEqual(a.raw, msg, 'the parsed message is not altered');
  // The result does not alias the caller's buffer: changing the input afterwards changes nothing.
  msg.fill(0xee, 72, 88);
  assert.deepEqual(a.mic, mic);
});

test('anonymous AUTHENTICATE (empty user, one-byte LM) parses; the decision is not the parser\'s', () => {
  const a = ok(parseAuthenticate(buildAuthenticate({ flags: NTLMV2_FLAGS | NtlmFlag.ANONYMOUS, lm: Buffer.alloc(1), payloadAt: 64 })));
  assert.equal(a.user, '');
  assert.equal(a.ntResponse.length, 0);
  assert.ok(hasFlag(a.flags, NtlmFlag.ANONYMOUS));
});

test('AUTHENTICATE bounds: into the header, past the end, huge values and oversized messages are refused', () => {
  const base = () => buildAuthenticate({ flags: NTLMV2_FLAGS, nt: Buffer.alloc(24, 3), user: u16('u'), payloadAt: 64 });
  const set = (at: number, len: number, offset: number) => {
    const m = base();
    m.writeUInt16LE(len, at);
    m.writeUInt32LE(offset >>> 0, at + 4);
    return m;
  };
  const cases: [string, Buffer][] = [
    ['NT response at offset 0', set(20, 24, 0)],
    ['NT response at offset 63', set(20, 24, 63)],
    ['user ending one byte past the end', set(36, 3, base().length - 2)],
    ['offset 0xffffffff', set(36, 2, 0xffffffff)],
    ['length 0xffff', set(20, 0xffff, 64)],
    ['session key past the end', set(52, 16, 80)],
    ['header only 63 bytes', base().subarray(0, 63)],
  ];
  for (const [name, msg] of cases) assert.ok(isNtlmParseError(parseAuthenticate(msg)), name);

  // 64 KiB exactly is accepted; one byte more is refused before anything is read.
  const big = Buffer.alloc(MAX_MESSAGE_BYTES);
  base().subarray(0, 64).copy(big);
  big.fill(0, 12, 60); // every field empty
  big.writeUInt32LE(NTLMV2_FLAGS, 60);
  assert.equal(ok(parseAuthenticate(big)).payloadOffset, MAX_MESSAGE_BYTES);
  assert.ok(isNtlmParseError(parseAuthenticate(Buffer.concat([big, Buffer.alloc(1)]))));
  assert.ok(isNtlmParseError(parseAuthenticate(CHROMIUM_NEGOTIATE)), 'a NEGOTIATE is not an AUTHENTICATE');
});

// ---------------------------------------------------------------------------------------------------------------
// The server's answer

test('negotiateResponseFlags: UNICODE if offered else OEM, the fixed set, capabilities echoed, LM_KEY never', () => {
  const fixed =
    NtlmFlag.NEGOTIATE_NTLM |
    NtlmFlag.REQUEST_TARGET |
    NtlmFlag.TARGET_TYPE_SERVER |
    NtlmFlag.NEGOTIATE_TARGET_INFO |
    NtlmFlag.NEGOTIATE_ALWAYS_SIGN |
    NtlmFlag.NEGOTIATE_VERSION |
    NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY;
  assert.equal(negotiateResponseFlags(0x00088207, { allowLmKey: false }), (fixed | NtlmFlag.NEGOTIATE_UNICODE) >>> 0, 'Chromium');
  assert.equal(negotiateResponseFlags(NtlmFlag.NEGOTIATE_OEM | NtlmFlag.NEGOTIATE_NTLM, { allowLmKey: false }), (fixed | NtlmFlag.NEGOTIATE_OEM) >>> 0, 'OEM only');
  assert.equal(negotiateResponseFlags(0, { allowLmKey: false }), (fixed | NtlmFlag.NEGOTIATE_OEM) >>> 0, 'no charset offered');
  const windows = negotiateResponseFlags(0xe20882b7, { allowLmKey: false }); // Windows 10 NEGOTIATE: SIGN, SEAL, LM_KEY…
  assert.ok(hasFlag(windows, NtlmFlag.NEGOTIATE_56 | NtlmFlag.NEGOTIATE_128 | NtlmFlag.NEGOTIATE_KEY_EXCH | NtlmFlag.NEGOTIATE_SIGN | NtlmFlag.NEGOTIATE_SEAL));
  assert.ok(!hasFlag(windows, NtlmFlag.NEGOTIATE_LM_KEY));
  assert.ok(!hasFlag(windows, NtlmFlag.NEGOTIATE_OEM), 'one character set only');
  assert.ok(windows >= 0, 'unsigned');
  assert.deepEqual(flagNames(0x80000001 | 0x4), ['NEGOTIATE_UNICODE', 'REQUEST_TARGET', 'NEGOTIATE_56']);
  assert.deepEqual(flagNames(0x00000008), ['0x00000008']);
});

test('writeChallenge: a server answer with a timestamp parses back; a bad challenge length throws', () => {
  const flags = negotiateResponseFlags(0x00088207, { allowLmKey: false });
  const input: ChallengeInput = {
    flags,
    serverChallenge: hex('1122334455667788'),
    targetName: 'PERSONA',
    targetInfo: [
      avString(AvId.MsvAvNbDomainName, 'PERSONA'),
      avString(AvId.MsvAvNbComputerName, 'PERSONA'),
      avString(AvId.MsvAvDnsDomainName, 'persona.test'),
      avString(AvId.MsvAvDnsComputerName, 'www.persona.test'),
      avTimestamp(131_400_439_870_000_000n),
    ],
    version: { major: 10, minor: 0, build: 20348, revision: 15 },
  };
  const c = ok(parseChallenge(writeChallenge(input)));
  assert.equal(c.flags, flags);
  assert.equal(c.targetName, 'PERSONA');
  assert.deepEqual(c.targetInfo, input.targetInfo);
  assert.deepEqual(c.version, input.version);
  assert.throws(() => writeChallenge({ ...input, serverChallenge: Buffer.alloc(7) }), RangeError);
});

test('parseChallenge accepts the 32-byte form old servers send (Chromium kMinChallengeMessage)', () => {
  const c = ok(parseChallenge(hex(SIG + '02000000' + '0000000020000000' + '07820800' + '0123456789abcdef')));
  assert.equal(c.targetName, '');
  assert.deepEqual(c.targetInfo, []);
  assert.ok(isNtlmParseError(parseChallenge(SPEC_CHALLENGE.subarray(0, 31))));
});

// ---------------------------------------------------------------------------------------------------------------
// Properties

/** Every field a successful parse returns is the bytes at its declared offset, outside the fixed header. */
function assertAuthenticateInvariants(msg: Uint8Array, a: AuthenticateMessage): void {
  const buf = Buffer.from(msg);
  assert.deepEqual(a.raw, buf);
  const got = [a.lmResponse, a.ntResponse, a.domainBytes, a.userBytes, a.workstationBytes, a.encryptedRandomSessionKey ?? Buffer.alloc(0)];
  let lowest = buf.length;
  got.forEach((value, i) => {
    const at = 12 + i * 8;
    const len = buf.readUInt16LE(at);
    assert.equal(value.length, len);
    if (len === 0) return;
    const offset = buf.readUInt32LE(at + 4);
    assert.ok(offset >= 64 && offset + len <= buf.length);
    assert.deepEqual(value, buf.subarray(offset, offset + len));
    lowest = Math.min(lowest, offset);
  });
  assert.equal(a.payloadOffset, lowest);
  assert.equal(a.micOffset !== undefined, lowest >= 88);
  assert.equal(a.mic !== undefined, lowest >= 88);
}

const header = (type: number) => Buffer.concat([Buffer.from(SIG, 'hex'), Buffer.from(Uint32Array.of(type).buffer)]);
const parsers = [messageType, parseNegotiate, parseChallenge, parseAuthenticate] as const;

test('property: arbitrary bytes never throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      for (const parse of parsers) {
        const r = parse(bytes);
        assert.ok(typeof r === 'number' || isNtlmParseError(r) || typeof r === 'object');
      }
    }),
    { numRuns: 10000 },
  );
});

test('property: a valid signature and type followed by arbitrary bytes never throws; successes are in bounds', () => {
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 3), fc.uint8Array({ maxLength: 200 }), (type, tail) => {
      const msg = Buffer.concat([header(type), tail]);
      for (const parse of parsers) parse(msg);
      const a = parseAuthenticate(msg);
      if (!isNtlmParseError(a)) assertAuthenticateInvariants(msg, a);
    }),
    { numRuns: 10000 },
  );
});

/** Messages where the last payload byte is used, so every truncation cuts a field. */
const FULL_MESSAGES = [SPEC_AUTHENTICATE, CHROMIUM_AUTHENTICATE, CHROMIUM_AUTHENTICATE_V1, SPEC_CHALLENGE];

test('property: every truncation of a valid AUTHENTICATE or CHALLENGE is an error', () => {
  fc.assert(
    fc.property(fc.constantFrom(...FULL_MESSAGES), fc.nat(), (msg, cut) => {
      const truncated = msg.subarray(0, cut % msg.length);
      const r = msg.readUInt32LE(8) === 3 ? parseAuthenticate(truncated) : parseChallenge(truncated);
      assert.ok(isNtlmParseError(r));
    }),
    { numRuns: 3000 },
  );
});

test('property: random offset/length in any AUTHENTICATE field gives an error or an in-bounds field', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(SPEC_AUTHENTICATE, CHROMIUM_AUTHENTICATE, CHROMIUM_AUTHENTICATE_V1),
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 0xffffffff })),
      (original, index, len, offset) => {
        const msg = Buffer.from(original);
        msg.writeUInt16LE(len, 12 + index * 8);
        msg.writeUInt32LE(offset, 16 + index * 8);
        const r = parseAuthenticate(msg);
        if (len > 0 && (offset < 64 || offset + len > msg.length)) assert.ok(isNtlmParseError(r), 'out-of-bounds field refused');
        if (!isNtlmParseError(r)) assertAuthenticateInvariants(msg, r);
      },
    ),
    { numRuns: 5000 },
  );
});

test('property: wrong signatures and wrong types are errors for every parser', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 8, maxLength: 8 }).filter((s) => !Buffer.from(s).equals(Buffer.from(SIG, 'hex'))),
      fc.constantFrom(SPEC_AUTHENTICATE, CHROMIUM_NEGOTIATE, SPEC_CHALLENGE),
      (sig, msg) => {
        const bad = Buffer.concat([sig, msg.subarray(8)]);
        for (const parse of parsers) assert.ok(isNtlmParseError(parse(bad)));
      },
    ),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }).filter((t) => t < 1 || t > 3), fc.constantFrom(SPEC_AUTHENTICATE, CHROMIUM_NEGOTIATE, SPEC_CHALLENGE), (type, msg) => {
      const bad = Buffer.from(msg);
      bad.writeUInt32LE(type, 8);
      for (const parse of parsers) assert.ok(isNtlmParseError(parse(bad)));
    }),
    { numRuns: 2000 },
  );
  // Each parser refuses the other two types.
  assert.ok(isNtlmParseError(parseChallenge(SPEC_AUTHENTICATE)));
  assert.ok(isNtlmParseError(parseAuthenticate(SPEC_CHALLENGE)));
  assert.ok(isNtlmParseError(parseNegotiate(CHROMIUM_AUTHENTICATE)));
});

test('property: built AUTHENTICATE messages parse back to their parts, MIC exactly when the payload is at 88', () => {
  const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
  fc.assert(
    fc.property(
      fc.record({
        lm: bytes(24),
        nt: bytes(300),
        domain: fc.string({ maxLength: 20, unit: 'binary' }),
        user: fc.string({ maxLength: 20, unit: 'binary' }),
        workstation: fc.string({ maxLength: 20, unit: 'binary' }),
        sessionKey: bytes(16),
        payloadAt: fc.constantFrom(64 as const, 72 as const, 88 as const),
        version: fc.boolean(),
        mic: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)),
      }),
      (p) => {
        // Names Windows would send: UTF-16LE without lone surrogates and not an all-printable-ASCII byte string.
        const msg = buildAuthenticate({
          flags: NTLMV2_FLAGS | (p.version ? NtlmFlag.NEGOTIATE_VERSION : 0),
          lm: p.lm,
          nt: p.nt,
          domain: u16(p.domain),
          user: u16(p.user),
          workstation: u16(p.workstation),
          sessionKey: p.sessionKey,
          payloadAt: p.payloadAt,
          mic: p.mic,
        });
        const a = parseAuthenticate(msg);
        assert.ok(!isNtlmParseError(a), isNtlmParseError(a) ? a.error : '');
        assertAuthenticateInvariants(msg, a);
        assert.deepEqual(a.ntResponse, p.nt);
        assert.deepEqual(a.userBytes, u16(p.user));
        const nonEmpty = [p.lm, p.nt, p.domain, p.user, p.workstation, p.sessionKey].some((f) => f.length > 0);
        if (nonEmpty) assert.equal(a.mic !== undefined, p.payloadAt === 88);
        if (p.payloadAt === 88 && nonEmpty) assert.deepEqual(withZeroedMic(a).subarray(72, 88), Buffer.alloc(16));
        if (!a.tolerated.some((t) => t.includes('8-bit'))) assert.equal(a.user, p.user);
      },
    ),
    { numRuns: 2000 },
  );
});

const pairArb: fc.Arbitrary<AvPair> = fc.oneof(
  fc.record({ id: fc.constantFrom(1, 2, 3, 4, 5, 9), text: fc.string({ maxLength: 30, unit: 'binary' }) }).map(({ id, text }) => avString(id, text)),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(avTimestamp),
);

test('property: writeChallenge then parseChallenge returns the input', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.string({ maxLength: 30, unit: 'binary' }),
      fc.array(pairArb, { maxLength: 6 }),
      fc.option(fc.record({ major: fc.integer({ min: 0, max: 255 }), minor: fc.integer({ min: 0, max: 255 }), build: fc.integer({ min: 0, max: 0xffff }), revision: fc.integer({ min: 0, max: 255 }) }), { nil: undefined }),
      (flags, challenge, name, targetInfo, version) => {
        const unicode = hasFlag(flags, NtlmFlag.NEGOTIATE_UNICODE);
        // OEM names are 8-bit: keep the generated name to what latin1 can carry.
        const targetName = unicode ? name : Buffer.from(name, 'latin1').toString('latin1');
        const written = writeChallenge({ flags, serverChallenge: Buffer.from(challenge), targetName, targetInfo, ...(version && { version }) });
        const c = ok(parseChallenge(written));
        let expectFlags = flags;
        if (version) expectFlags |= NtlmFlag.NEGOTIATE_VERSION;
        if (targetInfo.length > 0) expectFlags |= NtlmFlag.NEGOTIATE_TARGET_INFO;
        assert.equal(c.flags, expectFlags >>> 0);
        assert.deepEqual(c.serverChallenge, Buffer.from(challenge));
        assert.equal(c.targetName, targetName);
        assert.deepEqual(c.targetInfo, targetInfo);
        const expectVersion = version ? { ...version } : (hasFlag(flags, NtlmFlag.NEGOTIATE_VERSION) ? { major: 0, minor: 0, build: 0, revision: 15 } : undefined);
        assert.deepEqual(c.version, expectVersion);
      },
    ),
    { numRuns: 2000 },
  );
});
