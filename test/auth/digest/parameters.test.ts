/** The auth-param list parser (RFC 7235 §2.1): grammar, refusals as values, limits, and fuzzing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_AUTH_PARAMS, MAX_AUTH_PARAMS_LENGTH, parseAuthParams, quoteParam, type AuthParam } from '../../../src/auth/digest/parameters.js';

function ok(input: string): ReadonlyMap<string, AuthParam> {
  const r = parseAuthParams(input);
  if ('error' in r) assert.fail(`unexpected error for ${JSON.stringify(input)}: ${r.error}`);
  return r.params;
}

function error(input: string): string {
  const r = parseAuthParams(input);
  if (!('error' in r)) assert.fail(`expected an error for ${JSON.stringify(input)}`);
  return r.error;
}

test('tokens and quoted strings, names lower-cased, whitespace around "=" and ","', () => {
  const p = ok('Realm="a b" , qop = auth,\tnc=00000001 ,ALGORITHM=SHA-256');
  assert.deepEqual([...p.entries()], [
    ['realm', { value: 'a b', quoted: true }],
    ['qop', { value: 'auth', quoted: false }],
    ['nc', { value: '00000001', quoted: false }],
    ['algorithm', { value: 'SHA-256', quoted: false }],
  ]);
});

test('backslash escapes in quoted strings; commas and "=" inside quotes are text', () => {
  const p = ok('a="x\\"y\\\\z", b="1,2=3", c="\\q"');
  assert.equal(p.get('a')?.value, 'x"y\\z');
  assert.equal(p.get('b')?.value, '1,2=3');
  assert.equal(p.get('c')?.value, 'q');
});

test('empty list elements and an empty list are allowed (RFC 9110 §5.6.1)', () => {
  assert.equal(ok('').size, 0);
  assert.equal(ok(' , ,').size, 0);
  assert.deepEqual([...ok(',a=1,,b=2,').keys()], ['a', 'b']);
});

test('unquoted values may hold "/", ":", "=", "?" (old clients send uri and base64 nonces unquoted)', () => {
  const p = ok('uri=/dir/index.html?x=1, nonce=ab+/cd==, username*=UTF-8\'\'J%C3%A4s');
  assert.equal(p.get('uri')?.value, '/dir/index.html?x=1');
  assert.equal(p.get('nonce')?.value, 'ab+/cd==');
  assert.equal(p.get('username*')?.value, "UTF-8''J%C3%A4s");
});

test('obs-text bytes (latin1 characters from Node) are allowed inside quotes', () => {
  assert.equal(ok('username="J\u00c3\u00a4s"').get('username')?.value, 'J\u00c3\u00a4s');
});

test('malformed lists are refused with a reason', () => {
  assert.match(error('a="x", A="y"'), /occurs more than once/);
  assert.match(error('a'), /no "="/);
  assert.match(error('a='), /no value/);
  assert.match(error('a=,b=1'), /no value/);
  assert.match(error('a="unterminated'), /unterminated/);
  assert.match(error('a="x\\'), /unterminated/);
  assert.match(error('a=1 b=2'), /expected ","/);
  assert.match(error('a="x"y'), /expected ","/);
  assert.match(error('=1'), /parameter name/);
  assert.match(error('a="x\u0000"'), /cannot hold/);
  assert.match(error('a="x\\\u0001"'), /cannot hold/);
  assert.match(error('a="\u0100"'), /cannot hold/);
  assert.match(error('a=x\\y'), /expected ","/);
});

test('reasons never contain the values', () => {
  const secret = 'Sup3rS3cret';
  for (const input of [`response="${secret}`, `response=${secret}"x`, `response="${secret}\u0001"`, `response="${secret}", response="${secret}"`]) {
    assert.ok(!error(input).includes(secret), input);
  }
});

test('limits: at most MAX_AUTH_PARAMS parameters and MAX_AUTH_PARAMS_LENGTH characters', () => {
  const list = (n: number) => Array.from({ length: n }, (_, i) => `p${i}=${i}`).join(',');
  assert.equal(ok(list(MAX_AUTH_PARAMS)).size, MAX_AUTH_PARAMS);
  assert.match(error(list(MAX_AUTH_PARAMS + 1)), /more than/);
  assert.match(error(`a="${'x'.repeat(MAX_AUTH_PARAMS_LENGTH)}"`), /longer than/);
});

test('never throws on arbitrary strings (fuzz)', () => {
  const alphabet = fc.constantFrom('a', 'Z', '=', ',', '"', '\\', ' ', '\t', '*', '/', '\u0000', '\u00e4', '\u0100', '\n', 'nc', 'username');
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.array(alphabet, { maxLength: 60 }).map((a) => a.join(''))), (s) => {
      const r = parseAuthParams(s);
      assert.ok('error' in r ? typeof r.error === 'string' : r.params instanceof Map);
    }),
    { numRuns: 3000 },
  );
});

const name = fc.stringMatching(/^[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const quotable = fc.string({ unit: fc.integer({ min: 0, max: 0xff }).filter((c) => c === 9 || (c >= 0x20 && c !== 0x7f)).map((c) => String.fromCharCode(c)), maxLength: 30 });
const tokenish = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~/:=?@-]{1,20}$/);

test('round trip: any list of distinct names with quoted or unquoted values parses back', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(name, fc.oneof(quotable.map((v) => ({ value: v, quoted: true })), tokenish.map((v) => ({ value: v, quoted: false })))), {
        selector: ([n]) => n.toLowerCase(),
        maxLength: MAX_AUTH_PARAMS,
      }),
      fc.constantFrom(',', ', ', ' ,\t', ',,'),
      (pairs, sep) => {
        const text = pairs.map(([n, v]) => `${n}=${v.quoted ? quoteParam(v.value) : v.value}`).join(sep);
        const params = ok(text);
        assert.deepEqual([...params.entries()], pairs.map(([n, v]) => [n.toLowerCase(), v]));
      },
    ),
  );
});
