import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSecretHeaderName, redactSecrets, scrubJsonLine, scrubText } from '../../src/logging/redact.js';

test('secret header names are recognised in any case and spelling, others are not', () => {
  for (const name of ['Authorization', 'PROXY-AUTHORIZATION', 'proxy_authorization', 'cookie', 'Cookies', 'Set-Cookie', 'setCookie', 'SET_COOKIE']) {
    assert.equal(isSecretHeaderName(name), true, name);
  }
  for (const name of ['author', 'x-authorization-mode', 'cookie-policy', 'www-authenticate', 'host', '']) {
    assert.equal(isSecretHeaderName(name), false, name);
  }
});

test('redactSecrets copies any structure, redacting secrets and keeping the rest', () => {
  const circular: Record<string, unknown> = { cookie: 'a=b', keep: 1 };
  circular['self'] = circular;
  const shared = { ok: true };
  const input = {
    circular,
    twice: [shared, shared],
    buffer: Buffer.from('Authorization: Basic c2VjcmV0'),
    when: new Date(0),
    set: new Set(['Cookie', 'sid=1']),
    json: { toJSON: () => ({ Authorization: 'Basic x' }) },
    n: 42n > 0n ? 42 : 0,
    nothing: null,
  };
  assert.deepEqual(redactSecrets(input), {
    circular: { cookie: '[Redacted]', keep: 1, self: '[Circular]' },
    twice: [{ ok: true }, { ok: true }],
    buffer: '[Buffer 29 bytes]',
    when: new Date(0),
    set: ['Cookie', '[Redacted]'],
    json: { Authorization: '[Redacted]' },
    n: 42,
    nothing: null,
  });
});

test('errors become plain objects with message, stack, own properties and cause, all redacted', () => {
  const inner = new Error('inner Cookie: sid=Zq9inner');
  const outer = Object.assign(new TypeError('outer', { cause: inner }), { code: 'E_X', headers: { authorization: 'Basic Zq9outer' } });
  const out = redactSecrets(outer) as Record<string, any>;
  assert.equal(out['type'], 'TypeError');
  assert.equal(out['message'], 'outer');
  assert.equal(out['code'], 'E_X');
  assert.deepEqual(out['headers'], { authorization: '[Redacted]' });
  assert.equal(out['cause'].message, 'inner Cookie: [Redacted]');
  assert.ok(!JSON.stringify(out).includes('Zq9'));
});

test('very deep values are cut off instead of walked forever', () => {
  let deep: Record<string, unknown> = { authorization: 'Basic Zq9deep' };
  for (let i = 0; i < 50; i++) deep = { next: deep };
  assert.ok(!JSON.stringify(redactSecrets(deep)).includes('Zq9deep'));
});

test('scrubText removes header echoes and scheme credentials but keeps ordinary words', () => {
  assert.equal(scrubText('got Authorization: Basic dXNlcjpwYXNz\nnext line'), 'got Authorization: [Redacted]\nnext line');
  assert.equal(scrubText("headers: { cookie: 'sid=1', host: 'x' }"), "headers: { cookie: [Redacted]");
  assert.equal(scrubText('Digest username="bob", response="abc"'), 'Digest [Redacted]');
  assert.equal(scrubText('Negotiate NTLM offered'), 'Negotiate NTLM [Redacted]');
  assert.equal(scrubText('nothing to see here'), 'nothing to see here');
});

const anyJsonValue = fc.jsonValue();
const tricky = fc.string({ unit: fc.constantFrom('a', 'Z', '9', ' ', '"', '\\', '\n', ':', '=', "'", 'Basic ', 'NTLM ', 'cookie', 'Authorization', 'TlRMTVNTUA', 'YII', '\u00e9') });

test('property: scrubJsonLine always leaves a JSON line that parses', () => {
  fc.assert(
    fc.property(fc.dictionary(tricky, fc.oneof(tricky, anyJsonValue, fc.array(tricky))), tricky, (obj, msg) => {
      const line = JSON.stringify({ ...obj, msg }) + '\n';
      const out = scrubJsonLine(line);
      assert.doesNotThrow(() => JSON.parse(out), out);
      assert.ok(out.endsWith('}\n'));
    }),
    { numRuns: 1000 },
  );
});

test('property: redactSecrets never throws and its result always serializes', () => {
  fc.assert(
    fc.property(fc.anything({ withMap: true, withSet: true, withDate: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true }), (value) => {
      const out = redactSecrets(value);
      assert.doesNotThrow(() => JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    }),
    { numRuns: 500 },
  );
});
