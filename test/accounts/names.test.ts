import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_NAME_LENGTH, nameKey, nameProblem } from '../../src/accounts/names.js';

test('valid names', () => {
  for (const name of ['alice', 'Alice Smith', 'a', 'web-admin_2', 'José', 'user.name', '.hidden', 'x'.repeat(MAX_NAME_LENGTH), '😀'.repeat(MAX_NAME_LENGTH), 'IIS_WPG', '$svc']) {
    assert.equal(nameProblem(name), null, name);
  }
});

test('invalid names, each with a message that says why', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['x'.repeat(MAX_NAME_LENGTH + 1), /longer than 64/],
    ['a\tb', /control character/],
    ['a\u0000b', /control character/],
    ['a\u007fb', /control character/],
    ['a\u0085b', /control character/],
    ['a\ud800', /not valid Unicode/],
    ['...', /only of dots and spaces/],
    ['. .', /only of dots and spaces/],
    ['   ', /only of dots and spaces/],
    [' alice', /white space/],
    ['alice ', /white space/],
    ['S-1-5-21-1-2-3-1000', /reads as a SID/],
    ['s-1-1-0', /reads as a SID/],
  ];
  for (const [name, message] of cases) assert.match(nameProblem(name) ?? 'accepted', message, JSON.stringify(name));
  for (const c of '"/\\[]:;|=,+*?<>@') assert.match(nameProblem(`a${c}b`) ?? 'accepted', /contains/, c);
});

test('nameKey folds case and Unicode composition', () => {
  assert.equal(nameKey('ALICE'), nameKey('alice'));
  assert.equal(nameKey('Émile'), nameKey('émile'));
  assert.equal(nameKey('e\u0301mile'), nameKey('\u00e9mile'));
  assert.notEqual(nameKey('alice'), nameKey('alicia'));
});

test('property: nameProblem never throws, and names with a forbidden character are always refused', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (name) => {
      const problem = nameProblem(name);
      if (/["/\\[\]:;|=,+*?<>@\p{Cc}]/u.test(name)) assert.notEqual(problem, null);
      if ([...name].length > MAX_NAME_LENGTH || name.length === 0) assert.notEqual(problem, null);
      if (problem === null) assert.equal(nameKey(nameKey(name)), nameKey(name)); // the key of a key is itself
    }),
    { numRuns: 2000 },
  );
});

test('property: nameKey is case-insensitive for accepted names', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 30 }), (name) => {
      fc.pre(nameProblem(name) === null);
      assert.equal(nameKey(name.toUpperCase()), nameKey(name.toLowerCase()));
    }),
    { numRuns: 1000 },
  );
});
