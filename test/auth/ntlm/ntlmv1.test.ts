/**
 * NTLMv1 verification against MS-NLMP §4.2.2 "NTLM v1 Authentication" and §4.2.3 "NTLM v1 with Client Challenge"
 * (User "User", UserDom "Domain", Passwd "Password", ServerChallenge 0123456789abcdef, ClientChallenge aa…aa), the
 * AUTHENTICATE messages of §4.2.2.3 and §4.2.3.3 parsed by messages.ts, and python ntlm-auth (Debian
 * python3-ntlm-auth, pure-Python DES) as an independent client for random hashes and challenges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { desl } from '../../../src/auth/ntlm/des.js';
import { hasFlag, NtlmFlag } from '../../../src/auth/ntlm/flags.js';
import { md4, ntHash } from '../../../src/auth/ntlm/md4.js';
import { isNtlmParseError, parseAuthenticate } from '../../../src/auth/ntlm/messages.js';
import { verifyNtlmv1Response, type Ntlmv1Verification } from '../../../src/auth/ntlm/ntlmv1.js';
import { exportedSessionKey } from '../../../src/auth/ntlm/ntlmv2.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// §4.2.1 Common Values.
const SERVER_CHALLENGE = h('0123456789abcdef');
const NT_HASH = ntHash('Password'); // §4.2.2.1.2: a4f49c406510bdcab6824ee7c30fd852
// §4.2.2.1.3 Session Base Key and Key Exchange Key (without ESS, LM_KEY or NON_NT_SESSION_KEY they are equal).
const SESSION_BASE_KEY = 'd87262b0cde4b1cb7499becccdf10784';
// §4.2.2.2.1 NTLMv1 Response and §4.2.2.2.2 LMv1 Response.
const NTLMV1_RESPONSE = h('67c43011f30298a2ad35ece64f16331c44bdbed927841f94');
const LMV1_RESPONSE = h('98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13');
// §4.2.2.2.3 Encrypted Session Key: RandomSessionKey 55…55 under the KeyExchangeKey (KEY_EXCH).
const ENCRYPTED_SESSION_KEY_V1 = h('518822b1b3f350c8958682ecbb3e3cb7');
// §4.2.3.2.1 LMv1 Response (ClientChallenge ‖ Z(16)) and §4.2.3.2.2 NTLMv1 Response, with ESS.
const LM_RESPONSE_ESS = h('aaaaaaaaaaaaaaaa 00000000000000000000000000000000');
const NTLMV1_ESS_RESPONSE = h('7537f803ae367128ca458204bde7caf81e97ed2683267232');
// §4.2.3.1.3 Key Exchange Key = HMAC_MD5(SessionBaseKey, ServerChallenge ‖ LmChallengeResponse[0..7]).
const KEY_EXCHANGE_KEY_ESS = 'eb93429a8bd952f8b89c55b87f475edc';

// §4.2.2.3 and §4.2.3.3: the AUTHENTICATE messages (User, Domain, Workstation "COMPUTER").
const AUTHENTICATE_V1 = h(`4e544c4d5353500003000000180018006c00000018001800840000000c000c00
  480000000800080054000000100010005c000000100010009c000000358280e2
  0501280a0000000f44006f006d00610069006e00550073006500720043004f00
  4d005000550054004500520098def7b87f88aa5dafe2df779688a172def11c7d
  5ccdef1367c43011f30298a2ad35ece64f16331c44bdbed927841f94518822b1
  b3f350c8958682ecbb3e3cb7`);
const AUTHENTICATE_V1_ESS = h(`4e544c4d5353500003000000180018006c00000018001800840000000c000c00
  480000000800080054000000100010005c000000000000009c00000035820882
  0501280a0000000f44006f006d00610069006e00550073006500720043004f00
  4d0050005500540045005200aaaaaaaaaaaaaaaa000000000000000000000000
  000000007537f803ae367128ca458204bde7caf81e97ed2683267232`);

const v1Input = { ntHash: NT_HASH, serverChallenge: SERVER_CHALLENGE, lmResponse: LMV1_RESPONSE, ntResponse: NTLMV1_RESPONSE, extendedSessionSecurity: false };
const essInput = { ntHash: NT_HASH, serverChallenge: SERVER_CHALLENGE, lmResponse: LM_RESPONSE_ESS, ntResponse: NTLMV1_ESS_RESPONSE, extendedSessionSecurity: true };

function assertOk(r: Ntlmv1Verification): asserts r is Extract<Ntlmv1Verification, { ok: true }> {
  assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.message}`);
}
function assertFails(r: Ntlmv1Verification, reason: string, label = '') {
  assert.equal(r.ok, false, label);
  if (!r.ok) {
    assert.equal(r.reason, reason, label);
    assert.ok(r.message.length > 0);
  }
}

test('§4.2.2: the NTLMv1 response verifies; session base key and key exchange key are the published ones', () => {
  assert.equal(hex(NT_HASH), 'a4f49c406510bdcab6824ee7c30fd852');
  const r = verifyNtlmv1Response(v1Input);
  assertOk(r);
  assert.equal(r.variant, 'NTLMv1');
  assert.equal(hex(r.sessionBaseKey), SESSION_BASE_KEY);
  assert.equal(hex(r.keyExchangeKey), SESSION_BASE_KEY);
  assert.notEqual(r.keyExchangeKey, r.sessionBaseKey, 'two buffers: a caller may overwrite one');
  // §4.2.2.2.3: the KeyExchangeKey unwraps the published EncryptedRandomSessionKey to 55…55.
  assert.deepEqual(exportedSessionKey(r.keyExchangeKey, ENCRYPTED_SESSION_KEY_V1, true), { ok: true, exportedSessionKey: Buffer.alloc(16, 0x55) });
});

test('§4.2.3: the NTLM2 session response (ESS) verifies, with the published KXKEY', () => {
  const r = verifyNtlmv1Response(essInput);
  assertOk(r);
  assert.equal(r.variant, 'NTLMv1-ESS');
  assert.equal(hex(r.sessionBaseKey), SESSION_BASE_KEY, '§4.2.3.1.2: the session base key does not depend on ESS');
  assert.equal(hex(r.keyExchangeKey), KEY_EXCHANGE_KEY_ESS);
});

test('§4.2.2.3 and §4.2.3.3: the published AUTHENTICATE messages, parsed by messages.ts, verify with their own flags', () => {
  for (const [name, bytes, variant, keyExch] of [
    ['§4.2.2.3', AUTHENTICATE_V1, 'NTLMv1', SESSION_BASE_KEY],
    ['§4.2.3.3', AUTHENTICATE_V1_ESS, 'NTLMv1-ESS', KEY_EXCHANGE_KEY_ESS],
  ] as const) {
    const msg = parseAuthenticate(bytes);
    assert.ok(!isNtlmParseError(msg), name);
    if (isNtlmParseError(msg)) continue;
    assert.equal(msg.user, 'User');
    assert.equal(msg.domain, 'Domain');
    const r = verifyNtlmv1Response({
      ntHash: NT_HASH,
      serverChallenge: SERVER_CHALLENGE,
      lmResponse: msg.lmResponse,
      ntResponse: msg.ntResponse,
      extendedSessionSecurity: hasFlag(msg.flags, NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY),
    });
    assertOk(r);
    assert.equal(r.variant, variant, name);
    assert.equal(hex(r.keyExchangeKey), keyExch, name);
  }
});

test('wrong password, wrong challenge, wrong client challenge or the wrong ESS reading fail with proof-mismatch', () => {
  for (const input of [v1Input, essInput]) {
    assertFails(verifyNtlmv1Response({ ...input, ntHash: ntHash('password') }), 'proof-mismatch', 'password case');
    assertFails(verifyNtlmv1Response({ ...input, ntHash: ntHash('') }), 'proof-mismatch', 'empty password');
    assertFails(verifyNtlmv1Response({ ...input, serverChallenge: h('0123456789abcdee') }), 'proof-mismatch', 'challenge');
    // Read with the other ESS setting, each response is just wrong.
    assertFails(verifyNtlmv1Response({ ...input, extendedSessionSecurity: !input.extendedSessionSecurity, lmResponse: LM_RESPONSE_ESS }), 'proof-mismatch', 'ESS flipped');
  }
  assertFails(verifyNtlmv1Response({ ...essInput, lmResponse: h(`bbbbbbbbbbbbbbbb ${'00'.repeat(16)}`) }), 'proof-mismatch', 'client challenge');
});

test('every flipped bit of the NT response, and of the client challenge under ESS, fails', () => {
  for (const input of [v1Input, essInput]) {
    for (let bit = 0; bit < 24 * 8; bit++) {
      const bad = Buffer.from(input.ntResponse);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      assertFails(verifyNtlmv1Response({ ...input, ntResponse: bad }), 'proof-mismatch', `${input.extendedSessionSecurity} bit ${bit}`);
    }
  }
  for (let bit = 0; bit < 64; bit++) {
    const bad = Buffer.from(LM_RESPONSE_ESS);
    bad[bit >> 3]! ^= 1 << (bit & 7);
    assertFails(verifyNtlmv1Response({ ...essInput, lmResponse: bad }), 'proof-mismatch', `client challenge bit ${bit}`);
  }
});

test('the LM field is not a proof: ignored without ESS, only its first 8 bytes count with ESS', () => {
  // Without ESS any LM content is accepted next to a valid NT response: empty, the NT response repeated
  // (NoLMResponseNTLMv1), zeros, or garbage of any length.
  for (const lm of [new Uint8Array(0), NTLMV1_RESPONSE, Buffer.alloc(24), Buffer.alloc(3, 7), Buffer.alloc(100, 1)]) {
    assertOk(verifyNtlmv1Response({ ...v1Input, lmResponse: lm }));
  }
  // With ESS the 16 bytes after the client challenge are not covered by the proof and not checked.
  const tail = Buffer.from(LM_RESPONSE_ESS);
  tail.fill(0xff, 8);
  const r = verifyNtlmv1Response({ ...essInput, lmResponse: tail });
  assertOk(r);
  assert.equal(hex(r.keyExchangeKey), KEY_EXCHANGE_KEY_ESS);
});

test('LM-only and other non-NTLMv1 responses fail with not-ntlmv1; Persona never checks an LM hash', () => {
  // The published LMv1 response, alone: the NT field is empty.
  const lmOnly = verifyNtlmv1Response({ ...v1Input, ntResponse: new Uint8Array(0) });
  assertFails(lmOnly, 'not-ntlmv1');
  if (!lmOnly.ok) assert.match(lmOnly.message, /LM/);
  // The LMv1 response moved into the NT field is just a wrong NT response.
  assertFails(verifyNtlmv1Response({ ...v1Input, ntResponse: LMV1_RESPONSE }), 'proof-mismatch');
  assertFails(verifyNtlmv1Response({ ...v1Input, lmResponse: new Uint8Array(0), ntResponse: new Uint8Array(0) }), 'not-ntlmv1', 'anonymous');
  for (const n of [1, 16, 23, 25, 44, 200]) {
    assertFails(verifyNtlmv1Response({ ...v1Input, ntResponse: Buffer.alloc(n, 0x67) }), 'not-ntlmv1', `${n} bytes`);
    assertFails(verifyNtlmv1Response({ ...essInput, ntResponse: Buffer.alloc(n, 0x75) }), 'not-ntlmv1', `ESS ${n} bytes`);
  }
});

test('wrong sizes of the stored hash, the challenge and (with ESS) the LM field have their own reasons', () => {
  for (const n of [0, 15, 17, 24]) assertFails(verifyNtlmv1Response({ ...v1Input, ntHash: new Uint8Array(n) }), 'nt-hash-length', `hash ${n}`);
  for (const n of [0, 7, 9, 16]) assertFails(verifyNtlmv1Response({ ...essInput, serverChallenge: new Uint8Array(n) }), 'server-challenge-length', `challenge ${n}`);
  // With ESS the LM field carries the client challenge: anything but 24 bytes is malformed, even when the first 8 are right.
  for (const n of [0, 8, 16, 23, 25, 48]) {
    const lm = Buffer.concat([LM_RESPONSE_ESS, Buffer.alloc(24)]).subarray(0, n);
    assertFails(verifyNtlmv1Response({ ...essInput, lmResponse: lm }), 'lm-response-length', `LM ${n}`);
  }
  // The order of the checks: the server's own values first, then the client's.
  assertFails(verifyNtlmv1Response({ ...essInput, ntHash: new Uint8Array(1), serverChallenge: new Uint8Array(1), ntResponse: new Uint8Array(1), lmResponse: new Uint8Array(1) }), 'nt-hash-length');
  assertFails(verifyNtlmv1Response({ ...essInput, serverChallenge: new Uint8Array(1), ntResponse: new Uint8Array(1), lmResponse: new Uint8Array(1) }), 'server-challenge-length');
  assertFails(verifyNtlmv1Response({ ...essInput, ntResponse: new Uint8Array(1), lmResponse: new Uint8Array(1) }), 'not-ntlmv1');
});

test('inputs are not modified, and results do not alias them', () => {
  const copies = [essInput.ntHash, essInput.serverChallenge, essInput.lmResponse, essInput.ntResponse].map((b) => Buffer.from(b));
  const r = verifyNtlmv1Response(essInput);
  assertOk(r);
  assert.deepEqual([essInput.ntHash, essInput.serverChallenge, essInput.lmResponse, essInput.ntResponse].map((b) => Buffer.from(b)), copies);
  r.sessionBaseKey.fill(0);
  r.keyExchangeKey.fill(0);
  assert.deepEqual(Buffer.from(essInput.ntHash), copies[0]);
});

test('python ntlm-auth as the client: random NT hashes and challenges verify, with its KXKEY; a wrong hash does not', () => {
  const cases = fc
    .sample(
      fc.record({
        nt: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        sc: fc.uint8Array({ minLength: 8, maxLength: 8 }),
        cc: fc.uint8Array({ minLength: 8, maxLength: 8 }),
      }),
      150,
    )
    // Python's hashlib has no MD4 under OpenSSL 3; the session base key comes from md4.ts (RFC 1320-tested).
    .map((c) => ({ nt: hex(c.nt), sc: hex(c.sc), cc: hex(c.cc), sbk: hex(md4(c.nt)) }));
  // NT hashes ending in zero bytes make DESL's third key weak: make sure some are in the sample.
  cases.push({ nt: 'a4f49c406510bdcab6824ee7c30f0000', sc: '0123456789abcdef', cc: 'aaaaaaaaaaaaaaaa', sbk: hex(md4(h('a4f49c406510bdcab6824ee7c30f0000'))) });
  const script = `
import hashlib, json, sys
from ntlm_auth.compute_response import ComputeResponse
from ntlm_auth.compute_keys import _get_exchange_key_ntlm_v1
from ntlm_auth.constants import NegotiateFlags
ESS = NegotiateFlags.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
out = []
for c in json.load(sys.stdin):
    nt, sc, cc, sbk = (bytes.fromhex(c[n]) for n in ('nt', 'sc', 'cc', 'sbk'))
    v1 = ComputeResponse._calc_resp(nt, sc)
    lm = ComputeResponse._get_LMv1_with_session_security_response(cc)
    ess = ComputeResponse._calc_resp(nt, hashlib.md5(sc + cc).digest()[:8])
    out.append({
        'v1': v1.hex(), 'v1kx': _get_exchange_key_ntlm_v1(0, sbk, sc, v1, None).hex(),
        'lm': lm.hex(), 'ess': ess.hex(), 'esskx': _get_exchange_key_ntlm_v1(ESS, sbk, sc, lm, None).hex(),
    })
print(json.dumps(out))
`;
  const run = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const answers = JSON.parse(run.stdout) as { v1: string; v1kx: string; lm: string; ess: string; esskx: string }[];
  assert.equal(answers.length, cases.length);
  cases.forEach((c, i) => {
    const a = answers[i]!;
    const base = { ntHash: h(c.nt), serverChallenge: h(c.sc) };
    const v1 = verifyNtlmv1Response({ ...base, lmResponse: h(a.v1), ntResponse: h(a.v1), extendedSessionSecurity: false });
    assertOk(v1);
    assert.equal(hex(v1.sessionBaseKey), c.sbk);
    assert.equal(hex(v1.keyExchangeKey), a.v1kx);
    const ess = verifyNtlmv1Response({ ...base, lmResponse: h(a.lm), ntResponse: h(a.ess), extendedSessionSecurity: true });
    assertOk(ess);
    assert.equal(hex(ess.keyExchangeKey), a.esskx);
    const other = Buffer.from(h(c.nt));
    other[i % 16]! ^= 0x01;
    assertFails(verifyNtlmv1Response({ ...base, ntHash: other, lmResponse: h(a.lm), ntResponse: h(a.ess), extendedSessionSecurity: true }), 'proof-mismatch');
  });
});

/** A client written from §3.3.1, for the round-trip property. */
function clientResponses(nt: Uint8Array, serverChallenge: Uint8Array, clientChallenge: Uint8Array) {
  const v1 = desl(nt, serverChallenge);
  const lm = Buffer.concat([clientChallenge, Buffer.alloc(16)]);
  const ess = desl(nt, createHash('md5').update(serverChallenge).update(clientChallenge).digest().subarray(0, 8));
  return { v1, lm, ess };
}

test('property: responses built per §3.3.1 verify; any flipped bit or another hash fails', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.nat(),
      (nt, sc, cc, flip) => {
        const { v1, lm, ess } = clientResponses(nt, sc, cc);
        const base = { ntHash: nt, serverChallenge: sc };
        assert.equal(verifyNtlmv1Response({ ...base, lmResponse: v1, ntResponse: v1, extendedSessionSecurity: false }).ok, true);
        assert.equal(verifyNtlmv1Response({ ...base, lmResponse: lm, ntResponse: ess, extendedSessionSecurity: true }).ok, true);
        const bit = flip % (24 * 8);
        const badV1 = Buffer.from(v1);
        badV1[bit >> 3]! ^= 1 << (bit & 7);
        assertFails(verifyNtlmv1Response({ ...base, lmResponse: v1, ntResponse: badV1, extendedSessionSecurity: false }), 'proof-mismatch');
        const otherHash = Buffer.from(nt);
        otherHash[flip % 16]! ^= 1 << (flip % 8);
        assertFails(verifyNtlmv1Response({ ...base, ntHash: otherHash, lmResponse: lm, ntResponse: ess, extendedSessionSecurity: true }), 'proof-mismatch');
      },
    ),
    { numRuns: 500 },
  );
});

test('property: arbitrary bytes never throw and never verify', () => {
  const sized = (n: number) => fc.oneof(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ maxLength: 3 * n }));
  fc.assert(
    fc.property(sized(16), sized(8), sized(24), sized(24), fc.boolean(), (nt, sc, lm, ntResponse, ess) => {
      for (const ntHashBytes of [nt, NT_HASH]) {
        for (const serverChallenge of [sc, SERVER_CHALLENGE]) {
          const r = verifyNtlmv1Response({ ntHash: ntHashBytes, serverChallenge, lmResponse: lm, ntResponse, extendedSessionSecurity: ess });
          assert.equal(r.ok, false);
          if (!r.ok) assert.ok(r.reason.length > 0 && r.message.length > 0);
        }
      }
    }),
    { numRuns: 1000 },
  );
});
