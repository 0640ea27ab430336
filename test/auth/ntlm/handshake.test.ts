/**
 * The pure server side of one handshake (handshake.ts): the CHALLENGE we write, and every decision on an
 * AUTHENTICATE — the proof, what counts as a wrong password, the MIC, the clock window, NTLMv1 policy, and the full
 * Extended Protection table (tokenChecking × channel kind × what the client sent). Messages come from the test
 * client (test/helpers/ntlm-client.ts); fast-check feeds arbitrary and mutated messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AvId, avTimestampValue, findAvPair, parseAvPairs, avPairText } from '../../../src/auth/ntlm/av-pairs.js';
import { hasFlag, NtlmFlag } from '../../../src/auth/ntlm/flags.js';
import { checkExtendedProtection, isAnonymousAuthenticate, makeChallenge, verifyProof, type ChannelFacts, type NtlmProof, type PendingChallenge, type ProofPolicy } from '../../../src/auth/ntlm/handshake.js';
import { ntHash } from '../../../src/auth/ntlm/md4.js';
import { isNtlmParseError, parseAuthenticate, parseChallenge, parseNegotiate, type AuthenticateMessage } from '../../../src/auth/ntlm/messages.js';
import { fromFileTime } from '../../../src/auth/ntlm/av-pairs.js';
import { ntHashVerifier } from '../../../src/auth/ntlm/verifier.js';
import { authenticateMessage, negotiateMessage, type AuthenticateOptions } from '../../helpers/ntlm-client.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const NAMES = { netbiosComputer: 'WEBBOX', dnsComputer: 'webbox.example' };
const HASH = ntHash('Pa55-word');
const POLICY: ProofPolicy = { allowNtlmv1: false, tokenChecking: 'None', maxClockSkewMs: 300_000 };
const PLAIN: ChannelFacts = { kind: 'plain', serviceNames: ['HTTP/webbox.example', 'HTTP/WEBBOX'] };
const BINDINGS = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const TLS: ChannelFacts = { kind: 'tls', expectedBindings: BINDINGS };

function exchange(options: Partial<AuthenticateOptions> = {}): { message: AuthenticateMessage; pending: PendingChallenge } {
  const negotiateBytes = negotiateMessage();
  const negotiate = parseNegotiate(negotiateBytes);
  assert.ok(!isNtlmParseError(negotiate));
  const { message: challenge, pending } = makeChallenge(negotiate, NAMES, NOW);
  const auth = parseAuthenticate(authenticateMessage(negotiateBytes, challenge, { user: 'alice', password: 'Pa55-word', ...options }));
  assert.ok(!isNtlmParseError(auth), isNtlmParseError(auth) ? auth.error : '');
  return { message: auth, pending };
}

function verify(options: Partial<AuthenticateOptions> = {}, extra: { policy?: Partial<ProofPolicy>; channel?: ChannelFacts; now?: number; ntHash?: Buffer | undefined } = {}): NtlmProof {
  const { message, pending } = exchange(options);
  return now(verifyProof({ message, pending, verifier: ntHashVerifier('ntHash' in extra ? extra.ntHash : HASH), policy: { ...POLICY, ...extra.policy }, channel: extra.channel ?? PLAIN, now: extra.now ?? NOW }));
}

/** The local verifier is synchronous, so the proof is too: a promise here would be a regression. */
function now(r: NtlmProof | Promise<NtlmProof>): NtlmProof {
  assert.ok(!(r instanceof Promise), 'a local verification never waits');
  return r;
}

function refusal(r: NtlmProof): Extract<NtlmProof, { ok: false }> {
  assert.equal(r.ok, false, r.ok ? `unexpected success: ${r.detail}` : '');
  return r as Extract<NtlmProof, { ok: false }>;
}

test('the CHALLENGE: our names as TargetName and AV pairs, the server time, a fresh 8-byte challenge, NTLMv2-shaped flags', () => {
  const negotiate = parseNegotiate(negotiateMessage());
  assert.ok(!isNtlmParseError(negotiate));
  const { message, pending } = makeChallenge(negotiate, NAMES, NOW, (n) => Buffer.alloc(n, 7));
  const parsed = parseChallenge(message);
  assert.ok(!isNtlmParseError(parsed));
  assert.equal(parsed.targetName, 'WEBBOX');
  assert.deepEqual(parsed.serverChallenge, Buffer.alloc(8, 7));
  assert.deepEqual(pending.serverChallenge, Buffer.alloc(8, 7));
  assert.deepEqual(pending.challenge, message);
  assert.equal(pending.flags, parsed.flags);
  for (const flag of [NtlmFlag.NEGOTIATE_UNICODE, NtlmFlag.NEGOTIATE_NTLM, NtlmFlag.NEGOTIATE_TARGET_INFO, NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY, NtlmFlag.TARGET_TYPE_SERVER]) {
    assert.ok(hasFlag(parsed.flags, flag), `flag 0x${flag.toString(16)}`);
  }
  assert.ok(!hasFlag(parsed.flags, NtlmFlag.NEGOTIATE_LM_KEY));
  const text = (id: number) => avPairText(findAvPair(parsed.targetInfo, id)!);
  assert.equal(text(AvId.MsvAvNbComputerName), 'WEBBOX');
  assert.equal(text(AvId.MsvAvNbDomainName), 'WEBBOX');
  assert.equal(text(AvId.MsvAvDnsComputerName), 'webbox.example');
  assert.equal(fromFileTime(avTimestampValue(parsed.targetInfo)!), NOW);
  // Two challenges never share the server challenge.
  const again = makeChallenge(negotiate, NAMES, NOW);
  assert.notDeepEqual(again.pending.serverChallenge, makeChallenge(negotiate, NAMES, NOW).pending.serverChallenge);
});

test('a right NTLMv2 answer verifies; a wrong password is the only refusal that counts as one', () => {
  const ok = verify();
  assert.ok(ok.ok);
  assert.match(ok.detail, /^NTLMv2/);
  const wrong = refusal(verify({ password: 'nope' }));
  assert.equal(wrong.wrongPassword, true);
  assert.equal(wrong.subStatus, 'STATUS_WRONG_PASSWORD');
  const otherHash = refusal(verify({}, { ntHash: ntHash('Pa55-word!') }));
  assert.equal(otherHash.wrongPassword, true, 'an answer made from another password');
  const noHash = refusal(verify({}, { ntHash: undefined }));
  assert.equal(noHash.status, 'STATUS_NTLM_BLOCKED');
  assert.equal(noHash.wrongPassword, false);
});

test('an empty-domain answer and one for the domain we named both verify', () => {
  assert.ok(verify({ domain: '' }).ok);
  assert.ok(verify({ domain: 'WEBBOX' }).ok);
});

test('MIC: checked when MsvAvFlags announces it; a flipped bit is tampering, not a wrong password', () => {
  const ok = verify({ mic: true });
  assert.ok(ok.ok);
  assert.match(ok.detail, /MIC checked/);
  const tampered = refusal(verify({ mic: true, tamperMic: true }));
  assert.equal(tampered.wrongPassword, false);
  assert.match(tampered.reason, /MIC does not match/);
});

test('the clock window: within maxClockSkew either way passes, beyond fails; a pre-2000 "timestamp" is tolerated', () => {
  assert.ok(verify({ clientTime: NOW - 299_000 }).ok);
  assert.ok(verify({ clientTime: NOW + 299_000 }).ok);
  assert.equal(refusal(verify({ clientTime: NOW - 301_000 })).status, 'STATUS_TIME_DIFFERENCE_AT_DC');
  assert.equal(refusal(verify({ clientTime: NOW + 301_000 })).status, 'STATUS_TIME_DIFFERENCE_AT_DC');
  assert.ok(verify({ clientTime: NOW - 3_600_000 }, { policy: { maxClockSkewMs: 7_200_000 } }).ok);
  const authenNtlm = verify({ clientTime: -11_644_473_600_000 + 123_000 });
  assert.ok(authenNtlm.ok);
  assert.match(authenNtlm.detail, /no usable client timestamp \(1601-01-01\)/);
});

test('NTLMv1 and LM-only answers are refused by default with STATUS_NTLM_BLOCKED; allowed, a wrong v1 proof is a wrong password', () => {
  const v1 = refusal(verify({ ntlmv1Shape: true }));
  assert.equal(v1.status, 'STATUS_NTLM_BLOCKED');
  assert.match(v1.reason, /allowNtlmv1 is false/);
  const allowed = refusal(verify({ ntlmv1Shape: true }, { policy: { allowNtlmv1: true } }));
  assert.equal(allowed.wrongPassword, true);
  const requireBindings = refusal(verify({ ntlmv1Shape: true }, { policy: { allowNtlmv1: true, tokenChecking: 'Require' } }));
  assert.equal(requireBindings.status, 'STATUS_BAD_BINDINGS');
});

test('anonymous AUTHENTICATE is recognised only in its exact form', () => {
  assert.equal(isAnonymousAuthenticate(exchange({ user: '', anonymous: true }).message), true);
  assert.equal(isAnonymousAuthenticate(exchange().message), false);
  assert.equal(isAnonymousAuthenticate(exchange({ user: 'alice', anonymous: true }).message), false, 'a user name makes it a named logon');
});

test('Extended Protection: the whole table of tokenChecking × channel × what the client sent', () => {
  const wrongBindings = Buffer.from(BINDINGS);
  wrongBindings[15]! ^= 1;
  type Sent = { label: string; options: Partial<AuthenticateOptions> };
  const tlsSent: Sent[] = [
    { label: 'matching bindings', options: { channelBindings: BINDINGS } },
    { label: 'wrong bindings', options: { channelBindings: wrongBindings } },
    { label: 'zero bindings', options: { channelBindings: Buffer.alloc(16) } },
    { label: 'no bindings', options: {} },
  ];
  const plainSent: Sent[] = [
    { label: 'our SPN', options: { targetName: 'http/WEBBOX.EXAMPLE' } },
    { label: 'another SPN', options: { targetName: 'HTTP/intranet.example' } },
    { label: 'no SPN', options: {} },
  ];
  const expected: Record<string, Record<string, boolean>> = {
    None: { 'matching bindings': true, 'wrong bindings': true, 'zero bindings': true, 'no bindings': true, 'our SPN': true, 'another SPN': true, 'no SPN': true },
    Allow: { 'matching bindings': true, 'wrong bindings': false, 'zero bindings': true, 'no bindings': true, 'our SPN': true, 'another SPN': false, 'no SPN': true },
    Require: { 'matching bindings': true, 'wrong bindings': false, 'zero bindings': false, 'no bindings': false, 'our SPN': true, 'another SPN': false, 'no SPN': false },
  };
  for (const tokenChecking of ['None', 'Allow', 'Require'] as const) {
    const matrix: [ChannelFacts, Sent[]][] = [
      [TLS, tlsSent],
      [PLAIN, plainSent],
    ];
    for (const [channel, sent] of matrix) {
      for (const s of sent) {
        const r = verify(s.options, { policy: { tokenChecking }, channel });
        assert.equal(r.ok, expected[tokenChecking]![s.label], `${tokenChecking} / ${channel.kind} / ${s.label}`);
        if (!r.ok) {
          assert.equal(r.status, 'STATUS_BAD_BINDINGS');
          assert.equal(r.wrongPassword, false);
        }
      }
    }
  }
  // A certificate we cannot hash fails closed when bindings matter.
  const pairs = parseAvPairs(Buffer.alloc(4));
  assert.ok(Array.isArray(pairs));
  assert.equal(checkExtendedProtection(pairs, { kind: 'tls', expectedBindings: { error: 'x' } }, 'None').ok, true);
  const unhashable = verify({ channelBindings: BINDINGS }, { policy: { tokenChecking: 'Allow' }, channel: { kind: 'tls', expectedBindings: { error: 'Ed25519' } } });
  assert.equal(refusal(unhashable).status, 'STATUS_BAD_BINDINGS');
});

test('property: arbitrary bytes as an AUTHENTICATE never throw and never verify', () => {
  const { pending } = exchange();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, withHeader) => {
      const data = withHeader ? Buffer.concat([Buffer.from('NTLMSSP\0\x03\0\0\0', 'latin1'), bytes]) : Buffer.from(bytes);
      const message = parseAuthenticate(data);
      if (isNtlmParseError(message)) return true;
      const r = now(verifyProof({ message, pending, verifier: ntHashVerifier(HASH), policy: { ...POLICY, allowNtlmv1: true }, channel: TLS, now: NOW }));
      return r.ok === false;
    }),
    { numRuns: 2000 },
  );
});

test('property: changing any byte of a valid NT response or of a present MIC makes the answer fail', () => {
  const negotiateBytes = negotiateMessage();
  const negotiate = parseNegotiate(negotiateBytes);
  assert.ok(!isNtlmParseError(negotiate));
  const { message: challenge, pending } = makeChallenge(negotiate, NAMES, NOW);
  const good = authenticateMessage(negotiateBytes, challenge, { user: 'alice', password: 'Pa55-word', mic: true });
  const parsedGood = parseAuthenticate(good);
  assert.ok(!isNtlmParseError(parsedGood));
  assert.ok(now(verifyProof({ message: parsedGood, pending, verifier: ntHashVerifier(HASH), policy: POLICY, channel: PLAIN, now: NOW })).ok);
  const ntOffset = good.readUInt32LE(24);
  const ntLength = good.readUInt16LE(20);
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: ntOffset, max: ntOffset + ntLength - 1 }), fc.integer({ min: 72, max: 87 })), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const bad = Buffer.from(good);
      bad[at]! ^= xor;
      const message = parseAuthenticate(bad);
      if (isNtlmParseError(message)) return true;
      return !now(verifyProof({ message, pending, verifier: ntHashVerifier(HASH), policy: POLICY, channel: PLAIN, now: NOW })).ok;
    }),
    { numRuns: 1500 },
  );
});
