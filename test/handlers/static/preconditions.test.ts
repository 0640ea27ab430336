import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { anyStrongMatch, anyWeakMatch, etagFor, parseEntityTagList } from '../../../src/handlers/static/entity-tag.js';
import { formatHttpDate, parseHttpDate } from '../../../src/handlers/static/http-date.js';
import { evaluatePreconditions, ifRangeAllows, type Validators } from '../../../src/handlers/static/preconditions.js';

const ETAG = etagFor(1_700_000_000_123.456, 1024);
const LAST = 1_700_000_000; // seconds
const v: Validators = { etag: ETAG, lastModifiedSeconds: LAST };
const date = (seconds: number): string => formatHttpDate(seconds * 1000);

test('the generated ETag is strong and changes with mtime (sub-millisecond) and size', () => {
  assert.match(ETAG, /^"[0-9a-f]+-400"$/);
  assert.notEqual(etagFor(1000.001, 5), etagFor(1000.002, 5));
  assert.notEqual(etagFor(1000, 5), etagFor(1000, 6));
  assert.equal(etagFor(1000, 5), etagFor(1000, 5));
});

test('HTTP-date: the three forms of RFC 9110 §5.6.7, and nothing else', () => {
  const expected = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), expected);
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), expected);
  assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), expected);
  assert.equal(parseHttpDate('Sun Nov 16 08:49:37 1994'), expected + 10 * 86400);
  assert.equal(parseHttpDate(formatHttpDate(LAST * 1000)), LAST);
  for (const bad of [
    '',
    'yesterday',
    'Sun, 06 Nov 1994 08:49:37 UTC',
    'Sun, 6 Nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 8:49:37 GMT',
    'Sun, 31 Feb 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 24:00:00 GMT',
    'Sun, 06 Foo 1994 08:49:37 GMT',
    'Xyz, 06 Nov 1994 08:49:37 GMT',
    '1994-11-06T08:49:37Z',
    'Sun, 06 Nov 1994 08:49:37 GMT ',
    'Sunday, 06-Nov-1994 08:49:37 GMT',
  ]) {
    assert.equal(parseHttpDate(bad), undefined, bad);
  }
  assert.equal(parseHttpDate('Sat, 01 Jan 0094 00:00:00 GMT'), new Date('0094-01-01T00:00:00Z').getTime() / 1000, 'years below 100 are not shifted to 19xx');
});

test('entity-tag lists: *, weak tags, commas inside tags, malformed members skipped', () => {
  assert.equal(parseEntityTagList('*'), '*');
  assert.equal(parseEntityTagList(' * '), '*');
  assert.deepEqual(parseEntityTagList('"a", W/"b" ,"c,d"'), [
    { weak: false, opaque: '"a"' },
    { weak: true, opaque: '"b"' },
    { weak: false, opaque: '"c,d"' },
  ]);
  assert.deepEqual(parseEntityTagList('junk, "x", "unterminated'), [{ weak: false, opaque: '"x"' }]);
  assert.deepEqual(parseEntityTagList('"a"b, "c"'), [{ weak: false, opaque: '"c"' }]);
  assert.equal(parseEntityTagList('no tags here'), undefined);
  assert.equal(parseEntityTagList(undefined), undefined);
  assert.equal(parseEntityTagList('"a b"'), undefined, 'a space is not an etagc');
});

test('weak comparison ignores W/, strong comparison requires both strong', () => {
  const list = parseEntityTagList(`W/${ETAG}`)!;
  assert.equal(anyWeakMatch(list, ETAG), true);
  assert.equal(anyStrongMatch(list, ETAG), false);
  assert.equal(anyStrongMatch(parseEntityTagList(ETAG)!, ETAG), true);
  assert.equal(anyWeakMatch(parseEntityTagList('"other"')!, ETAG), false);
  assert.equal(anyWeakMatch('*', undefined), true);
  assert.equal(anyStrongMatch(parseEntityTagList(ETAG)!, undefined), false);
});

test('If-Match: strong match or * proceeds, anything else fails', () => {
  assert.equal(evaluatePreconditions({ 'if-match': ETAG }, v), 'proceed');
  assert.equal(evaluatePreconditions({ 'if-match': `"x", ${ETAG}` }, v), 'proceed');
  assert.equal(evaluatePreconditions({ 'if-match': '*' }, v), 'proceed');
  assert.equal(evaluatePreconditions({ 'if-match': `W/${ETAG}` }, v), 'failed');
  assert.equal(evaluatePreconditions({ 'if-match': '"x"' }, v), 'failed');
  assert.equal(evaluatePreconditions({ 'if-match': 'garbage' }, v), 'failed');
  assert.equal(evaluatePreconditions({ 'if-match': ETAG }, { ...v, etag: undefined }), 'failed', 'ETags disabled: no tag can match');
});

test('If-Unmodified-Since: fails when modified after the date; ignored when invalid or with If-Match', () => {
  assert.equal(evaluatePreconditions({ 'if-unmodified-since': date(LAST) }, v), 'proceed');
  assert.equal(evaluatePreconditions({ 'if-unmodified-since': date(LAST - 1) }, v), 'failed');
  assert.equal(evaluatePreconditions({ 'if-unmodified-since': 'not a date' }, v), 'proceed');
  assert.equal(evaluatePreconditions({ 'if-match': ETAG, 'if-unmodified-since': date(LAST - 1) }, v), 'proceed');
});

test('If-None-Match: weak match or * → 304, and it takes precedence over If-Modified-Since', () => {
  assert.equal(evaluatePreconditions({ 'if-none-match': ETAG }, v), 'not-modified');
  assert.equal(evaluatePreconditions({ 'if-none-match': `W/${ETAG}` }, v), 'not-modified');
  assert.equal(evaluatePreconditions({ 'if-none-match': `"a", "b", ${ETAG}` }, v), 'not-modified');
  assert.equal(evaluatePreconditions({ 'if-none-match': '*' }, v), 'not-modified');
  assert.equal(evaluatePreconditions({ 'if-none-match': '"other"' }, v), 'proceed');
  assert.equal(evaluatePreconditions({ 'if-none-match': '"other"', 'if-modified-since': date(LAST + 100) }, v), 'proceed');
  assert.equal(evaluatePreconditions({ 'if-none-match': ETAG, 'if-modified-since': date(LAST - 100) }, v), 'not-modified');
  assert.equal(evaluatePreconditions({ 'if-match': '"x"', 'if-none-match': ETAG }, v), 'failed', 'If-Match is evaluated first');
});

test('If-Modified-Since: 304 when not modified since; invalid dates ignored', () => {
  assert.equal(evaluatePreconditions({ 'if-modified-since': date(LAST) }, v), 'not-modified');
  assert.equal(evaluatePreconditions({ 'if-modified-since': date(LAST + 1) }, v), 'not-modified');
  assert.equal(evaluatePreconditions({ 'if-modified-since': date(LAST - 1) }, v), 'proceed');
  assert.equal(evaluatePreconditions({ 'if-modified-since': 'garbage' }, v), 'proceed');
  assert.equal(evaluatePreconditions({}, v), 'proceed');
});

test('If-Range: strong ETag or exact date of a strong Last-Modified', () => {
  const now = (LAST + 10) * 1000;
  assert.equal(ifRangeAllows(undefined, v, now), true);
  assert.equal(ifRangeAllows(ETAG, v, now), true);
  assert.equal(ifRangeAllows(`W/${ETAG}`, v, now), false);
  assert.equal(ifRangeAllows('"other"', v, now), false);
  assert.equal(ifRangeAllows(`${ETAG}, ${ETAG}`, v, now), false);
  assert.equal(ifRangeAllows(date(LAST), v, now), true);
  assert.equal(ifRangeAllows(date(LAST - 1), v, now), false);
  assert.equal(ifRangeAllows(date(LAST), v, LAST * 1000 + 500), false, 'Last-Modified of the current second is weak');
  assert.equal(ifRangeAllows('garbage', v, now), false);
  assert.equal(ifRangeAllows(ETAG, { ...v, etag: undefined }, now), false);
});

test('property: HTTP-date round trip and the parsers never throw', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 253402300799 }), (seconds) => {
      assert.equal(parseHttpDate(formatHttpDate(seconds * 1000)), seconds);
    }),
    { numRuns: 2000 },
  );
  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.array(fc.constantFrom('W/', '"', ',', ' ', '*', 'a', '\t', '\x7f', '\xff', 'Sun, ', 'GMT', '06 Nov 1994 ', '08:49:37'), { maxLength: 20 }).map((p) => p.join('')),
  );
  fc.assert(
    fc.property(text, (value) => {
      const d = parseHttpDate(value);
      assert.ok(d === undefined || Number.isFinite(d));
      const list = parseEntityTagList(value);
      if (list !== undefined && list !== '*') {
        assert.ok(list.length > 0);
        for (const tag of list) assert.match(tag.opaque, /^"[^"]*"$/);
      }
      const outcome = evaluatePreconditions({ 'if-match': value, 'if-none-match': value, 'if-modified-since': value, 'if-unmodified-since': value }, v);
      assert.ok(['proceed', 'not-modified', 'failed'].includes(outcome));
      assert.equal(typeof ifRangeAllows(value, v, Date.now()), 'boolean');
    }),
    { numRuns: 5000 },
  );
});

test('property: a list containing the current tag matches weakly, and strongly when that member is strong', () => {
  const tag = fc.stringMatching(/^[!#-~]{0,12}$/).map((s) => `"${s}"`);
  fc.assert(
    fc.property(fc.array(tag, { maxLength: 5 }), fc.array(tag, { maxLength: 5 }), fc.boolean(), (before, after, weak) => {
      const header = [...before, `${weak ? 'W/' : ''}${ETAG}`, ...after].join(', ');
      const list = parseEntityTagList(header)!;
      assert.equal(anyWeakMatch(list, ETAG), true);
      if (!weak) assert.equal(anyStrongMatch(list, ETAG), true);
    }),
    { numRuns: 2000 },
  );
});
