/** AV_PAIR lists (MS-NLMP §2.2.2.1): spec bytes, round trips, and malformed lists as values, never exceptions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AvId,
  AvFlag,
  parseAvPairs,
  writeAvPairs,
  avString,
  avPairText,
  avFlags,
  avFlagsValue,
  avTimestamp,
  avTimestampValue,
  findAvPair,
  toFileTime,
  fromFileTime,
  type AvPair,
} from '../../../src/auth/ntlm/av-pairs.js';
import { isNtlmParseError } from '../../../src/auth/ntlm/messages.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** The TargetInfo of the MS-NLMP §4.2.4.3 CHALLENGE: NbDomainName "Domain", NbComputerName "Server", EOL. */
const SPEC_TARGET_INFO = hex('02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000');

/**
 * The AV pairs Chromium puts in its NTLMv2 blob for the spec challenge (net/ntlm/ntlm_test_data.h,
 * kExpectedTargetInfoSpecResponseV2): the server's pairs, MsvAvFlags = MIC present, channel bindings, SPN.
 */
const CHROMIUM_BLOB_PAIRS = hex(
  '02000c0044006f006d00610069006e00 01000c00530065007200760065007200 0600040002000000' +
    '0a0010006586e99d81c2fc984e47172fd4dd0310 09001600480054005400500' +
    '02f00530065007200760065007200 00000000',
);

test('the MS-NLMP §4.2.4.3 TargetInfo parses and writes back byte for byte', () => {
  const pairs = parseAvPairs(SPEC_TARGET_INFO);
  assert.ok(Array.isArray(pairs));
  assert.deepEqual(
    pairs.map((p) => [p.id, avPairText(p)]),
    [
      [AvId.MsvAvNbDomainName, 'Domain'],
      [AvId.MsvAvNbComputerName, 'Server'],
    ],
  );
  assert.deepEqual(writeAvPairs([avString(AvId.MsvAvNbDomainName, 'Domain'), avString(AvId.MsvAvNbComputerName, 'Server')]), SPEC_TARGET_INFO);
});

test("Chromium's blob pairs: MIC flag, channel bindings and target name are read", () => {
  const pairs = parseAvPairs(CHROMIUM_BLOB_PAIRS);
  assert.ok(Array.isArray(pairs));
  assert.equal(avFlagsValue(pairs), AvFlag.MIC_PRESENT);
  assert.equal(findAvPair(pairs, AvId.MsvAvChannelBindings)?.value.toString('hex'), '6586e99d81c2fc984e47172fd4dd0310');
  const spn = findAvPair(pairs, AvId.MsvAvTargetName);
  assert.ok(spn);
  assert.equal(avPairText(spn), 'HTTP/Server');
  assert.equal(avTimestampValue(pairs), undefined);
  assert.deepEqual(writeAvPairs(pairs), CHROMIUM_BLOB_PAIRS);
});

test('bytes after MsvAvEOL are ignored (the NTLMv2 blob pads with four zero bytes)', () => {
  const padded = Buffer.concat([SPEC_TARGET_INFO, Buffer.alloc(4)]);
  const pairs = parseAvPairs(padded);
  assert.ok(Array.isArray(pairs));
  assert.equal(pairs.length, 2);
  assert.deepEqual(parseAvPairs(hex('00000000')), []);
});

test('malformed lists are errors: no EOL, value past the end, fixed sizes wrong', () => {
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['three bytes', hex('000000')],
    ['no EOL', SPEC_TARGET_INFO.subarray(0, SPEC_TARGET_INFO.length - 4)],
    ['EOL cut', SPEC_TARGET_INFO.subarray(0, SPEC_TARGET_INFO.length - 1)],
    ['length past the end', hex('0100ffff4100')],
    ['MsvAvFlags of 2 bytes', hex('06000200020000000000')],
    ['MsvAvTimestamp of 4 bytes', hex('070004000000000000000000')],
    ['MsvAvChannelBindings of 8 bytes', hex('0a0008000000000000000000 00000000')],
  ];
  for (const [name, bytes] of cases) assert.ok(isNtlmParseError(parseAvPairs(bytes)), name);
});

test('timestamps: FILETIME conversion and the pair', () => {
  // 1970-01-01 is 116444736000000000 ticks after 1601-01-01.
  assert.equal(toFileTime(0), 116_444_736_000_000_000n);
  const ms = Date.UTC(2017, 4, 23, 20, 13, 7);
  // Chromium's kClientTimestamp is this instant (Tue, 23 May 2017 20:13:07 +0000).
  assert.equal(toFileTime(ms), 131_400_439_870_000_000n);
  assert.equal(fromFileTime(toFileTime(ms)), ms);
  const pair = avTimestamp(toFileTime(ms));
  assert.equal(pair.value.toString('hex'), '800bc8fd00d4d201');
  const parsed = parseAvPairs(writeAvPairs([pair]));
  assert.ok(Array.isArray(parsed));
  assert.equal(avTimestampValue(parsed), 131_400_439_870_000_000n);
});

test('flags pair and absent flags', () => {
  assert.equal(avFlagsValue([avFlags(AvFlag.MIC_PRESENT | AvFlag.CONSTRAINED)]), 3);
  assert.equal(avFlagsValue([]), 0);
});

test('writeAvPairs skips EOL entries and refuses values that cannot be encoded', () => {
  assert.deepEqual(writeAvPairs([{ id: AvId.MsvAvEOL, value: Buffer.alloc(0) }, avString(1, 'A')]), hex('0100020041000000 0000'));
  assert.throws(() => writeAvPairs([{ id: 1, value: Buffer.alloc(0x10000) }]), RangeError);
  assert.throws(() => writeAvPairs([{ id: 0x10000, value: Buffer.alloc(0) }]), RangeError);
});

/** Pairs with valid sizes for the ids whose size is fixed. */
const pairArb: fc.Arbitrary<AvPair> = fc.oneof(
  fc.record({ id: fc.constantFrom(1, 2, 3, 4, 5, 9), text: fc.string({ maxLength: 40 }) }).map(({ id, text }) => avString(id, text)),
  fc.integer({ min: 0, max: 0xffffffff }).map(avFlags),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(avTimestamp),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ({ id: AvId.MsvAvChannelBindings, value: Buffer.from(b) })),
  fc
    .record({ id: fc.integer({ min: 11, max: 0xffff }), value: fc.uint8Array({ maxLength: 64 }) })
    .map(({ id, value }) => ({ id, value: Buffer.from(value) })),
);

test('property: writeAvPairs then parseAvPairs is the identity', () => {
  fc.assert(
    fc.property(fc.array(pairArb, { maxLength: 12 }), (pairs) => {
      const parsed = parseAvPairs(writeAvPairs(pairs));
      assert.ok(Array.isArray(parsed));
      assert.deepEqual(
        parsed.map((p) => [p.id, p.value.toString('hex')]),
        pairs.map((p) => [p.id, p.value.toString('hex')]),
      );
    }),
    { numRuns: 2000 },
  );
});

test('property: arbitrary bytes give pairs inside the buffer or an error, never an exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const r = parseAvPairs(bytes);
      if (isNtlmParseError(r)) return;
      let consumed = 0;
      for (const p of r) consumed += 4 + p.value.length;
      assert.ok(consumed + 4 <= bytes.length, 'pairs and EOL fit in the input');
    }),
    { numRuns: 10000 },
  );
});

test('property: every truncation of a valid list before its EOL is an error', () => {
  fc.assert(
    fc.property(fc.array(pairArb, { maxLength: 8 }), fc.nat(), (pairs, cut) => {
      const bytes = writeAvPairs(pairs);
      const at = cut % bytes.length; // strictly shorter than the whole list
      assert.ok(isNtlmParseError(parseAvPairs(bytes.subarray(0, at))));
    }),
    { numRuns: 2000 },
  );
});
