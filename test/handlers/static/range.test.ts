import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { contentRange, MAX_RANGES, parseRange, type RangeOutcome } from '../../../src/handlers/static/range.js';

function ranges(outcome: RangeOutcome): [number, number][] {
  assert.equal(outcome.kind, 'ranges', `expected ranges, got ${outcome.kind}`);
  return outcome.kind === 'ranges' ? outcome.ranges.map((r) => [r.start, r.end]) : [];
}

test('single int-ranges, open ranges and suffix ranges', () => {
  assert.deepEqual(ranges(parseRange('bytes=0-499', 1000)), [[0, 499]]);
  assert.deepEqual(ranges(parseRange('bytes=500-', 1000)), [[500, 999]]);
  assert.deepEqual(ranges(parseRange('bytes=-500', 1000)), [[500, 999]]);
  assert.deepEqual(ranges(parseRange('bytes=-2000', 1000)), [[0, 999]], 'a suffix longer than the file is the whole file');
  assert.deepEqual(ranges(parseRange('bytes=999-5000', 1000)), [[999, 999]], 'last-pos beyond the end is clamped');
  assert.deepEqual(ranges(parseRange('bytes=0-0', 1)), [[0, 0]]);
  assert.deepEqual(ranges(parseRange('BYTES=1-2', 10)), [[1, 2]], 'the unit is case-insensitive');
  assert.deepEqual(ranges(parseRange('bytes=007-008', 10)), [[7, 8]]);
});

test('several ranges keep their order; empty list elements and spaces are allowed', () => {
  assert.deepEqual(ranges(parseRange('bytes=0-0,-1', 10)), [[0, 0], [9, 9]]);
  assert.deepEqual(ranges(parseRange('bytes=, 5-6 ,,0-1,', 10)), [[5, 6], [0, 1]]);
  assert.deepEqual(ranges(parseRange('bytes=0-4,5-9', 10)), [[0, 4], [5, 9]], 'adjacent ranges do not overlap');
  assert.deepEqual(ranges(parseRange('bytes=0-1,100-200,3-4', 10)), [[0, 1], [3, 4]], 'unsatisfiable members are dropped');
});

test('unsatisfiable range sets', () => {
  assert.equal(parseRange('bytes=1000-', 1000).kind, 'unsatisfiable');
  assert.equal(parseRange('bytes=1000-2000', 1000).kind, 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 1000).kind, 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0).kind, 'unsatisfiable');
  assert.equal(parseRange('bytes=99999999999999999999999-', 10).kind, 'unsatisfiable');
  assert.equal(parseRange('bytes=10-20,30-40', 5).kind, 'unsatisfiable');
});

test('malformed fields, other units and abusive sets are ignored', () => {
  for (const value of [
    undefined,
    '',
    'bytes',
    'bytes=',
    'bytes=,',
    'bytes=-',
    'bytes=5',
    'bytes=5-4',
    'bytes=a-b',
    'bytes=0-1,x',
    'bytes=0-1;2-3',
    'bytes=0-1 2-3',
    'bytes=--1',
    'bytes=1--2',
    'bytes=+1-2',
    'bytes=0x1-2',
    'items=0-1',
    ' bytes=0-1',
    'bytes =0-1',
    'bytes=99999999999999999999-99999999999999999998',
  ]) {
    assert.equal(parseRange(value, 1000).kind, 'ignore', String(value));
  }
  assert.equal(parseRange('bytes=0-10,5-20', 100).kind, 'ignore', 'overlapping ranges');
  assert.equal(parseRange('bytes=-5', 0).kind, 'ignore', 'a suffix of an empty file: served whole');
  const many = Array.from({ length: MAX_RANGES + 1 }, (_, i) => `${i * 2}-${i * 2}`).join(',');
  assert.equal(parseRange(`bytes=${many}`, 10_000).kind, 'ignore');
  const allowed = Array.from({ length: MAX_RANGES }, (_, i) => `${i * 2}-${i * 2}`).join(',');
  assert.equal(ranges(parseRange(`bytes=${allowed}`, 10_000)).length, MAX_RANGES);
});

test('huge numbers are compared exactly and clamped', () => {
  assert.deepEqual(ranges(parseRange('bytes=0-99999999999999999999999', 10)), [[0, 9]]);
  assert.deepEqual(ranges(parseRange('bytes=-99999999999999999999999', 10)), [[0, 9]]);
  assert.deepEqual(ranges(parseRange('bytes=9007199254740992-9007199254740993', 2 ** 60)), [[9007199254740992, 9007199254740992]]);
});

test('Content-Range values', () => {
  assert.equal(contentRange(1000, { start: 0, end: 499 }), 'bytes 0-499/1000');
  assert.equal(contentRange(1000), 'bytes */1000');
});

const sizes = fc.oneof(fc.nat(20), fc.nat(1_000_000), fc.constant(0));

test('property: any string never throws, and accepted ranges lie within the file', () => {
  const header = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.string().map((s) => `bytes=${s}`),
    fc.array(fc.oneof(fc.constantFrom('0', '1', '9', '-', ',', ' ', '\t', '=', 'bytes', 'BYTES'), fc.nat().map(String)), { maxLength: 30 }).map((parts) => parts.join('')),
  );
  fc.assert(
    fc.property(header, sizes, (value, size) => {
      const outcome = parseRange(value, size);
      if (outcome.kind !== 'ranges') return;
      assert.ok(outcome.ranges.length >= 1 && outcome.ranges.length <= MAX_RANGES);
      for (const { start, end } of outcome.ranges) {
        assert.ok(Number.isSafeInteger(start) && Number.isSafeInteger(end));
        assert.ok(start >= 0 && start <= end && end < size, `${value} on ${size}: ${start}-${end}`);
      }
    }),
    { numRuns: 5000 },
  );
});

test('property: well-formed single ranges follow RFC 9110 exactly', () => {
  const spec = fc.oneof(
    fc.record({ kind: fc.constant('int' as const), first: fc.nat(2000), last: fc.option(fc.nat(2000), { nil: undefined }) }),
    fc.record({ kind: fc.constant('suffix' as const), length: fc.nat(2000) }),
  );
  fc.assert(
    fc.property(spec, fc.nat(1500), (s, size) => {
      const value = s.kind === 'suffix' ? `bytes=-${s.length}` : `bytes=${s.first}-${s.last ?? ''}`;
      const outcome = parseRange(value, size);
      if (s.kind === 'suffix') {
        if (size === 0 && s.length > 0) assert.equal(outcome.kind, 'ignore');
        else if (s.length === 0) assert.equal(outcome.kind, 'unsatisfiable');
        else assert.deepEqual(ranges(outcome), [[Math.max(0, size - s.length), size - 1]]);
        return;
      }
      if (s.last !== undefined && s.last < s.first) assert.equal(outcome.kind, 'ignore');
      else if (s.first >= size) assert.equal(outcome.kind, 'unsatisfiable');
      else assert.deepEqual(ranges(outcome), [[s.first, Math.min(s.last ?? size - 1, size - 1)]]);
    }),
    { numRuns: 3000 },
  );
});

test('property: several accepted ranges never overlap, so a multipart body is never larger than the file plus headers', () => {
  const list = fc.array(fc.tuple(fc.nat(300), fc.nat(300)), { minLength: 2, maxLength: 8 });
  fc.assert(
    fc.property(list, fc.nat(400), (pairs, size) => {
      const value = `bytes=${pairs.map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`).join(',')}`;
      const outcome = parseRange(value, size);
      if (outcome.kind !== 'ranges') return;
      const sorted = [...outcome.ranges].sort((x, y) => x.start - y.start);
      for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.start > sorted[i - 1]!.end);
      assert.ok(outcome.ranges.reduce((total, r) => total + r.end - r.start + 1, 0) <= size);
    }),
    { numRuns: 3000 },
  );
});
