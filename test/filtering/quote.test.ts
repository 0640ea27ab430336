import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { quoteValue, QUOTE_MAX_CHARS } from '../../src/filtering/quote.js';

test('short printable values are quoted as they are', () => {
  assert.equal(quoteValue('/a b/café'), '"/a b/café"');
  assert.equal(quoteValue(''), '""');
});

test('controls, quotes, backslashes, bidi overrides and lone surrogates are escaped', () => {
  assert.equal(quoteValue('a\r\nb'), '"a\\x0d\\x0ab"');
  assert.equal(quoteValue('\u0000\u007f\u0085'), '"\\x00\\x7f\\x85"');
  assert.equal(quoteValue('say "hi" \\'), '"say \\"hi\\" \\\\"');
  assert.equal(quoteValue('abc\u202edef'), '"abc\\u202edef"');
  assert.equal(quoteValue('\u2028'), '"\\u2028"');
  assert.equal(quoteValue('x\ud800y'), '"x\\ud800y"');
  assert.equal(quoteValue('\u{1f600}'), '"\u{1f600}"', 'a valid surrogate pair is kept');
});

test('long values are cut to QUOTE_MAX_CHARS code points and marked', () => {
  const quoted = quoteValue('x'.repeat(QUOTE_MAX_CHARS + 1));
  assert.equal(quoted, `"${'x'.repeat(QUOTE_MAX_CHARS)}"…`);
  assert.equal(quoteValue('x'.repeat(QUOTE_MAX_CHARS)), `"${'x'.repeat(QUOTE_MAX_CHARS)}"`);
  assert.equal(quoteValue('\u{1f600}'.repeat(QUOTE_MAX_CHARS + 5)), `"${'\u{1f600}'.repeat(QUOTE_MAX_CHARS)}"…`, 'a pair is never split');
});

test('property: the quote is one line of visible text, bounded in length', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'binary-ascii', maxLength: 300 }), fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), maxLength: 5 })), (value) => {
      const quoted = quoteValue(value);
      assert.doesNotMatch(quoted, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
      assert.doesNotMatch(quoted, /[\ud800-\udfff]/u, 'no lone surrogate survives');
      // Each kept code point becomes at most 6 characters (\uXXXX), or 2 UTF-16 units for astral ones.
      assert.ok(quoted.length <= QUOTE_MAX_CHARS * 6 + 3);
    }),
    { numRuns: 3000 },
  );
});
