/**
 * NTLMv2 verification against MS-NLMP §4.2.4 "NTLMv2 Authentication" (User "User", UserDom "Domain", Passwd
 * "Password", ServerChallenge 0123456789abcdef, ClientChallenge aaaaaaaaaaaaaaaa, Time 0, AV pairs
 * MsvAvNbDomainName "Domain" and MsvAvNbComputerName "Server"), and the MIC over three real messages.
 * §4.2.4 gives no MIC, so the MIC vector is Chromium's (net/ntlm/ntlm_test_data.h, kExpectedMicV2): its client
 * answering the §4.2.4.3 CHALLENGE with a client timestamp, MsvAvFlags (MIC present), channel bindings and an SPN —
 * an independent implementation, which also gives a second full NTLMv2 response to verify.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ntHash } from '../../../src/auth/ntlm/md4.js';
import {
  computeMic,
  exportedSessionKey,
  filetimeToUnixMs,
  isNtlmv2Response,
  micMatches,
  MIC_OFFSET,
  MIN_NTLMV2_RESPONSE_LENGTH,
  ntowfv2,
  ntProofStr,
  upcaseUserName,
  verifyNtlmv2Response,
  type Ntlmv2Verification,
} from '../../../src/auth/ntlm/ntlmv2.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// §4.2.1 Common Values.
const SERVER_CHALLENGE = h('0123456789abcdef');
const NT_HASH = ntHash('Password');
// §4.2.4.1.1 NTOWFv2() and LMOWFv2().
const RESPONSE_KEY_NT = '0c868a403bfd7a93a3001ef22ef02e3f';
// §4.2.4.1.2 Session Base Key.
const SESSION_BASE_KEY = '8de40ccadbc14a82f15cb0ad0de95ca3';
// §4.2.4 AV pairs as they appear on the wire: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL.
const AV_PAIRS = '02000c0044006f006d00610069006e00 01000c005300650072007600650072000000 0000';
// §4.2.4.1.3 temp: RespType 01, HiRespType 01, reserved, Time 0, ClientChallenge aa…, reserved, AV pairs, 4 zero bytes.
const TEMP = h(`0101 000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000 ${AV_PAIRS} 00000000`);
// §4.2.4.2.2 NTLMv2 Response: NTProofStr followed by temp.
const NT_PROOF = '68cd0ab851e51c96aabc927bebef6a1c';
const NTLMV2_RESPONSE = h(`68cd0ab851e51c96aabc927bebef6a1c
  0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000
  02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000 00000000`);
// §4.2.4.2.3 Encrypted Session Key (RandomSessionKey 55…55 under KEY_EXCH).
const ENCRYPTED_SESSION_KEY = h('c5dad2544fc9799094ce1ce90bc9d03e');

const specInput = { ntHash: NT_HASH, user: 'User', domain: 'Domain', serverChallenge: SERVER_CHALLENGE, ntChallengeResponse: NTLMV2_RESPONSE };

function assertOk(r: Ntlmv2Verification): asserts r is Extract<Ntlmv2Verification, { ok: true }> {
  assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.message}`);
}
function assertFails(r: Ntlmv2Verification, reason: string, label = '') {
  assert.equal(r.ok, false, label);
  if (!r.ok) {
    assert.equal(r.reason, reason, label);
    assert.ok(r.message.length > 0);
  }
}

test('§4.2.4.1.1: ResponseKeyNT = NTOWFv2("Password", "User", "Domain")', () => {
  assert.equal(hex(ntowfv2(NT_HASH, 'User', 'Domain')), RESPONSE_KEY_NT);
});

test('§4.2.4.2.2: NTProofStr, and NTProofStr ‖ temp is the published NTLMv2 response byte for byte', () => {
  const proof = ntProofStr(h(RESPONSE_KEY_NT), SERVER_CHALLENGE, TEMP);
  assert.equal(hex(proof), NT_PROOF);
  assert.deepEqual(Buffer.concat([proof, TEMP]), NTLMV2_RESPONSE);
});

test('§4.2.4: the published response verifies, giving the §4.2.4.1.2 session base key and the client blob', () => {
  const r = verifyNtlmv2Response(specInput);
  assertOk(r);
  assert.equal(hex(r.sessionBaseKey), SESSION_BASE_KEY);
  assert.equal(hex(r.keyExchangeKey), SESSION_BASE_KEY, 'KXKEY is the session base key for NTLMv2 (§3.4.5.1)');
  assert.equal(r.clientBlob.timestamp, 0n);
  assert.equal(hex(r.clientBlob.clientChallenge), 'aa'.repeat(8));
  assert.equal(hex(r.clientBlob.avPairs), AV_PAIRS.replace(/\s+/g, '') + '00000000');
  assert.equal(r.domainUsed, 'as-sent');
});

test('§4.2.4.2.3: KEY_EXCH unwraps the EncryptedRandomSessionKey; without it the KeyExchangeKey is the exported key', () => {
  const kx = h(SESSION_BASE_KEY);
  assert.deepEqual(exportedSessionKey(kx, ENCRYPTED_SESSION_KEY, true), { ok: true, exportedSessionKey: Buffer.alloc(16, 0x55) });
  assert.deepEqual(exportedSessionKey(kx, ENCRYPTED_SESSION_KEY, false), { ok: true, exportedSessionKey: kx });
  assert.deepEqual(exportedSessionKey(kx, undefined, false), { ok: true, exportedSessionKey: kx });
  for (const [key, reason] of [[undefined, 'session-key-missing'], [new Uint8Array(0), 'session-key-missing'], [new Uint8Array(15), 'session-key-length'], [new Uint8Array(17), 'session-key-length']] as const) {
    const r = exportedSessionKey(kx, key, true);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.reason, reason);
  }
});

test('the user name is case-insensitive, the domain is used as sent; a client that used a NIL domain is accepted (§3.2.5.1.2)', () => {
  for (const user of ['USER', 'user', 'uSeR']) assertOk(verifyNtlmv2Response({ ...specInput, user }));
  assertFails(verifyNtlmv2Response({ ...specInput, domain: 'DOMAIN' }), 'proof-mismatch', 'domain case matters');
  assertFails(verifyNtlmv2Response({ ...specInput, user: 'Other' }), 'proof-mismatch');
  assertFails(verifyNtlmv2Response({ ...specInput, ntHash: ntHash('password') }), 'proof-mismatch');
  assertFails(verifyNtlmv2Response({ ...specInput, serverChallenge: h('0123456789abcdee') }), 'proof-mismatch');
  // A response computed with UserDom = "" verifies whatever domain the message names, and says so.
  const nilResponse = Buffer.concat([ntProofStr(ntowfv2(NT_HASH, 'User', ''), SERVER_CHALLENGE, TEMP), TEMP]);
  const r = verifyNtlmv2Response({ ...specInput, ntChallengeResponse: nilResponse });
  assertOk(r);
  assert.equal(r.domainUsed, 'nil');
  assert.equal(verifyNtlmv2Response({ ...specInput, domain: '', ntChallengeResponse: nilResponse }).ok, true);
});

test('malformed input is a reason, never an exception', () => {
  assertFails(verifyNtlmv2Response({ ...specInput, ntHash: new Uint8Array(15) }), 'nt-hash-length');
  assertFails(verifyNtlmv2Response({ ...specInput, serverChallenge: new Uint8Array(7) }), 'server-challenge-length');
  assertFails(verifyNtlmv2Response({ ...specInput, ntChallengeResponse: new Uint8Array(0) }), 'not-ntlmv2', 'anonymous');
  assertFails(verifyNtlmv2Response({ ...specInput, ntChallengeResponse: new Uint8Array(24) }), 'not-ntlmv2', 'NTLMv1 length');
  for (let n = 25; n < MIN_NTLMV2_RESPONSE_LENGTH; n++) {
    assertFails(verifyNtlmv2Response({ ...specInput, ntChallengeResponse: NTLMV2_RESPONSE.subarray(0, n) }), 'response-too-short', `${n} bytes`);
  }
  for (const [i, v] of [[16, 0x02], [17, 0x00], [16, 0x00]] as const) {
    const bad = Buffer.from(NTLMV2_RESPONSE);
    bad[i] = v;
    assertFails(verifyNtlmv2Response({ ...specInput, ntChallengeResponse: bad }), 'blob-header');
  }
  // Exactly the fixed part with no AV pairs at all is well-formed; it just does not match.
  assertFails(verifyNtlmv2Response({ ...specInput, ntChallengeResponse: NTLMV2_RESPONSE.subarray(0, MIN_NTLMV2_RESPONSE_LENGTH) }), 'proof-mismatch');
});

test('isNtlmv2Response: empty (anonymous) and 24 bytes (NTLMv1) are not NTLMv2', () => {
  assert.equal(isNtlmv2Response(new Uint8Array(0)), false);
  assert.equal(isNtlmv2Response(new Uint8Array(24)), false);
  assert.equal(isNtlmv2Response(new Uint8Array(25)), true);
  assert.equal(isNtlmv2Response(NTLMV2_RESPONSE), true);
});

test('every single flipped bit of the published response fails verification', () => {
  for (let bit = 0; bit < NTLMV2_RESPONSE.length * 8; bit++) {
    const bad = Buffer.from(NTLMV2_RESPONSE);
    bad[bit >> 3]! ^= 1 << (bit & 7);
    const r = verifyNtlmv2Response({ ...specInput, ntChallengeResponse: bad });
    assert.equal(r.ok, false, `bit ${bit}`);
  }
});

test('upcaseUserName: one code unit for one, as Windows upper-cases (no "ß" → "SS"), surrogates untouched', () => {
  assert.equal(upcaseUserName('User'), 'USER');
  assert.equal(upcaseUserName('straße'), 'STRAßE');
  assert.equal(upcaseUserName('ŉ'), 'ŉ');
  assert.equal(upcaseUserName('éàü'), 'ÉÀÜ');
  assert.equal(upcaseUserName('i'), 'I', 'locale-independent: no Turkish dotted İ');
  assert.equal(upcaseUserName('\ud801\udc28'), '\ud801\udc28', 'a supplementary character is left as is');
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
      const up = upcaseUserName(s);
      assert.equal(up.length, s.length);
      assert.equal(upcaseUserName(up), up);
    }),
    { numRuns: 300 },
  );
});

// Chromium's NTLMv2 client answering the §4.2.4.3 CHALLENGE (net/ntlm/ntlm_test_data.h).
const CHROMIUM_NEGOTIATE = h('4e544c4d53535000010000000782080000000000200000000000000020000000');
const SPEC_CHALLENGE = h(`4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef
  00000000000000002400240044000000060070170000000f5300650072007600
  6500720002000c0044006f006d00610069006e0001000c005300650072007600
  6500720000000000`);
const CHROMIUM_AUTHENTICATE = h(`4e544c4d535350000300000018001800580000008a008a00700000000c000c00
  fa0000000800080006010000100010000e010000000000005800000003820800
  0000000000000000f7361633f0ad9bdf4a7c421bc6b824a30000000000000000
  000000000000000000000000000000008c0260dbef690662af9c42d50782d2ed
  0101000000000000800bc8fd00d4d201aaaaaaaaaaaaaaaa0000000002000c00
  44006f006d00610069006e0001000c0053006500720076006500720006000400
  020000000a0010006586e99d81c2fc984e47172fd4dd03100900160048005400
  540050002f00530065007200760065007200000000000000000044006f006d00
  610069006e00550073006500720043004f004d0050005500540045005200`);
const CHROMIUM_MIC = 'f7361633f0ad9bdf4a7c421bc6b824a3';
// NtChallengeResponseFields of that message: length 0x8a at offset 0x70.
const CHROMIUM_NT_RESPONSE = CHROMIUM_AUTHENTICATE.subarray(0x70, 0x70 + 0x8a);

test('Chromium vector: a response with a client timestamp and MIC/EPA AV pairs verifies', () => {
  const r = verifyNtlmv2Response({ ...specInput, ntChallengeResponse: CHROMIUM_NT_RESPONSE });
  assertOk(r);
  // kExpectedSessionBaseKeyWithClientTimestampV2 and kClientTimestamp (Tue, 23 May 2017 20:13:07 +0000).
  assert.equal(hex(r.sessionBaseKey), '623dbd071be7a530b6a95c2eb4982470');
  assert.equal(r.clientBlob.timestamp, 131400439870000000n);
  assert.equal(filetimeToUnixMs(r.clientBlob.timestamp), Date.UTC(2017, 4, 23, 20, 13, 7));
  assert.equal(filetimeToUnixMs(0n), Date.UTC(1601, 0, 1));
  // MsvAvFlags = 2 (MIC present) is in the AV pairs the caller gets back.
  assert.ok(r.clientBlob.avPairs.includes(h('0600040002000000')));
});

test('MIC: Chromium\'s kExpectedMicV2 over its NEGOTIATE, the §4.2.4.3 CHALLENGE and its AUTHENTICATE', () => {
  const key = h('623dbd071be7a530b6a95c2eb4982470'); // no KEY_EXCH (flags 0x00088203): exported key = base key
  const zeroed = Buffer.from(CHROMIUM_AUTHENTICATE);
  zeroed.fill(0, MIC_OFFSET, MIC_OFFSET + 16);
  assert.equal(hex(computeMic(key, CHROMIUM_NEGOTIATE, SPEC_CHALLENGE, zeroed)), CHROMIUM_MIC);
  const before = Buffer.from(CHROMIUM_AUTHENTICATE);
  assert.equal(micMatches(key, CHROMIUM_NEGOTIATE, SPEC_CHALLENGE, CHROMIUM_AUTHENTICATE), true);
  assert.deepEqual(CHROMIUM_AUTHENTICATE, before, 'micMatches does not modify the message');
  assert.equal(micMatches(h(SESSION_BASE_KEY), CHROMIUM_NEGOTIATE, SPEC_CHALLENGE, CHROMIUM_AUTHENTICATE), false, 'wrong key');
  assert.equal(micMatches(key, CHROMIUM_NEGOTIATE, SPEC_CHALLENGE, CHROMIUM_AUTHENTICATE, 64), false, 'wrong offset');
  for (const off of [-1, 1.5, Number.NaN, CHROMIUM_AUTHENTICATE.length - 15, Number.MAX_SAFE_INTEGER + 2]) {
    assert.equal(micMatches(key, CHROMIUM_NEGOTIATE, SPEC_CHALLENGE, CHROMIUM_AUTHENTICATE, off), false, `offset ${off}`);
  }
  assert.equal(micMatches(key, CHROMIUM_NEGOTIATE, SPEC_CHALLENGE, CHROMIUM_AUTHENTICATE.subarray(0, 80)), false, 'truncated message');
});

test('property: any flipped bit in any of the three messages breaks the MIC', () => {
  const key = h('623dbd071be7a530b6a95c2eb4982470');
  const messages = [CHROMIUM_NEGOTIATE, SPEC_CHALLENGE, CHROMIUM_AUTHENTICATE];
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (which, pos, bit) => {
      const copies = messages.map((m) => Buffer.from(m));
      const target = copies[which]!;
      target[pos % target.length]! ^= 1 << bit;
      assert.equal(micMatches(key, copies[0]!, copies[1]!, copies[2]!), false);
    }),
    { numRuns: 2000 },
  );
});

test('property: a MIC computed by computeMic verifies wherever the MIC field sits; any flipped bit does not', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 128 }),
      fc.uint8Array({ minLength: 16, maxLength: 200 }),
      fc.nat(),
      fc.nat(),
      (key, neg, chal, auth, offSeed, flipSeed) => {
        const off = offSeed % (auth.length - 15);
        const msg = Buffer.from(auth);
        msg.fill(0, off, off + 16);
        computeMic(key, neg, chal, msg).copy(msg, off);
        assert.equal(micMatches(key, neg, chal, msg, off), true);
        const all = [Buffer.from(neg), Buffer.from(chal), Buffer.from(msg)];
        const total = all.reduce((n, b) => n + b.length, 0);
        let bit = flipSeed % (total * 8);
        for (const b of all) {
          if (bit < b.length * 8) {
            b[bit >> 3]! ^= 1 << (bit & 7);
            break;
          }
          bit -= b.length * 8;
        }
        assert.equal(micMatches(key, all[0]!, all[1]!, all[2]!, off), false);
      },
    ),
    { numRuns: 1000 },
  );
});

/** A client, written from §3.3.2, to produce responses for the round-trip property. */
function clientResponse(password: string, user: string, domain: string, serverChallenge: Uint8Array, clientChallenge: Uint8Array, time: bigint, avPairs: Uint8Array) {
  const blobHeader = Buffer.alloc(28);
  blobHeader[0] = 1;
  blobHeader[1] = 1;
  blobHeader.writeBigUInt64LE(time, 8);
  Buffer.from(clientChallenge).copy(blobHeader, 16);
  const temp = Buffer.concat([blobHeader, avPairs, Buffer.alloc(4)]);
  const key = ntowfv2(ntHash(password), user, domain);
  return Buffer.concat([ntProofStr(key, serverChallenge, temp), temp]);
}

test('property: responses built per §3.3.2 verify and return their blob; a wrong password or any flipped bit fails', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 20 }),
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.string({ maxLength: 20 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.uint8Array({ maxLength: 100 }),
      fc.nat(),
      (password, user, domain, serverChallenge, clientChallenge, time, avPairs, flipSeed) => {
        const response = clientResponse(password, user, domain, serverChallenge, clientChallenge, time, avPairs);
        const input = { ntHash: ntHash(password), user, domain, serverChallenge, ntChallengeResponse: response };
        const r = verifyNtlmv2Response(input);
        assertOk(r);
        assert.equal(r.clientBlob.timestamp, time);
        assert.deepEqual(r.clientBlob.clientChallenge, Buffer.from(clientChallenge));
        assert.deepEqual(r.clientBlob.avPairs, Buffer.concat([avPairs, Buffer.alloc(4)]));
        assert.equal(verifyNtlmv2Response({ ...input, ntHash: ntHash(password + 'x') }).ok, false);
        const bad = Buffer.from(response);
        const bit = flipSeed % (bad.length * 8);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        assert.equal(verifyNtlmv2Response({ ...input, ntChallengeResponse: bad }).ok, false);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: verifyNtlmv2Response on arbitrary bytes never throws and answers with a reason', () => {
  const header = fc.uint8Array({ maxLength: 300 }).map((b) => {
    // Half the inputs get a valid blob header so the comparison path is exercised too.
    const out = Buffer.from(b);
    if (out.length > 17) out[16] = out[17] = 1;
    return out;
  });
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 300 }), header),
      fc.uint8Array({ maxLength: 20 }),
      fc.uint8Array({ maxLength: 10 }),
      fc.string({ maxLength: 30 }),
      fc.string({ maxLength: 30 }),
      (response, nt, challenge, user, domain) => {
        for (const ntHashBytes of [nt, NT_HASH]) {
          for (const serverChallenge of [challenge, SERVER_CHALLENGE]) {
            const r = verifyNtlmv2Response({ ntHash: ntHashBytes, user, domain, serverChallenge, ntChallengeResponse: response });
            assert.equal(r.ok, false);
            if (!r.ok) assert.ok(r.reason.length > 0 && r.message.length > 0);
          }
        }
      },
    ),
    { numRuns: 1000 },
  );
});
