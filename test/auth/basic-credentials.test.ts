/** Basic credentials (RFC 7617) and the Authorization header: every malformed form is a value, never an exception. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseBasicCredentials } from '../../src/auth/basic-credentials.js';
import { parseAuthorization, MAX_AUTHORIZATION_BYTES } from '../../src/auth/credentials-header.js';
import { challengesFor } from '../../src/auth/challenges.js';
import { isHttpError } from '../../src/pipeline/errors.js';
import { BUILTIN_SETTINGS } from '../../src/config/schema.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

test('RFC 7617 §2 example and UTF-8 (§2.1)', () => {
  assert.deepEqual(parseBasicCredentials('QWxhZGRpbjpvcGVuIHNlc2FtZQ=='), { userId: 'Aladdin', password: 'open sesame' });
  assert.deepEqual(parseBasicCredentials(b64('test:123£')), { userId: 'test', password: '123£' });
  assert.deepEqual(parseBasicCredentials(b64('u:pa:ss')), { userId: 'u', password: 'pa:ss' }, 'the first colon splits');
  assert.deepEqual(parseBasicCredentials(b64('u:')), { userId: 'u', password: '' });
});

test('malformed credentials: 400 for non-base64, 401.1 for what cannot be a user and password', () => {
  const cases: [string, number, number][] = [
    ['', 400, 0],
    ['not base64!', 400, 0],
    ['QWxhZGRpbjpvcGVuIHNlc2FtZQ', 400, 0], // missing padding
    ['QWxhZGRpbjpvcGVuIHNlc2FtZR==', 400, 0], // non-canonical trailing bits
    [b64('no-colon'), 401, 1],
    [b64(':password'), 401, 1],
    [b64('user\u0000:x'), 401, 1],
    [b64('user:pa\r\nss'), 401, 1],
    [Buffer.from([0x75, 0x3a, 0xff, 0xfe]).toString('base64'), 401, 1], // not UTF-8
  ];
  for (const [token, status, substatus] of cases) {
    const r = parseBasicCredentials(token);
    assert.ok(isHttpError(r), token);
    assert.equal(r.status, status, token);
    assert.equal(r.substatus, substatus, token);
  }
});

test('property: any token68 gives credentials or an HttpError; valid pairs round-trip', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const r = parseBasicCredentials(s);
      assert.ok(isHttpError(r) || (typeof r.userId === 'string' && r.userId.length > 0));
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.string({ minLength: 1, unit: 'grapheme' }).filter((u) => !u.includes(':') && !/[\u0000-\u001f\u007f]/.test(u)), fc.string({ unit: 'grapheme' }).filter((p) => !/[\u0000-\u001f\u007f]/.test(p)), (user, password) => {
      assert.deepEqual(parseBasicCredentials(b64(`${user}:${password}`)), { userId: user, password });
    }),
    { numRuns: 2000 },
  );
});

test('Authorization header: scheme and rest; repeated, oversized or schemeless headers are 400', () => {
  assert.equal(parseAuthorization(undefined), undefined);
  assert.deepEqual(parseAuthorization('Basic   abc='), { scheme: 'Basic', schemeLower: 'basic', rest: 'abc=' });
  assert.deepEqual(parseAuthorization('NTLM'), { scheme: 'NTLM', schemeLower: 'ntlm', rest: '' });
  for (const bad of [['a', 'b'], 'x'.repeat(MAX_AUTHORIZATION_BYTES + 1), '"quoted" x', '']) {
    const r = parseAuthorization(bad as string);
    assert.ok(isHttpError(r) && r.status === 400, JSON.stringify(bad).slice(0, 40));
  }
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (h) => {
    const r = parseAuthorization(h);
    assert.ok(r === undefined || isHttpError(r) || r.scheme.length > 0);
  }), { numRuns: 5000 });
});

test('challenges: Basic only where enabled and usable, realm quoted, configured order respected', () => {
  // Settings objects are immutable per configuration generation (challengesFor memoises on them): one per case.
  const auth = (basic: Partial<typeof BUILTIN_SETTINGS.authentication.basic>) => {
    const a = structuredClone(BUILTIN_SETTINGS.authentication);
    Object.assign(a.basic, basic);
    return a;
  };
  assert.deepEqual(challengesFor(auth({}), { secure: false, loopback: true }, 'h'), []);
  const quoted = auth({ enabled: true, realm: 'My "realm"' });
  assert.deepEqual(challengesFor(quoted, { secure: false, loopback: true }, 'h'), ['Basic realm="My \\"realm\\"", charset="UTF-8"']);
  assert.deepEqual(challengesFor(quoted, { secure: false, loopback: false }, 'h'), [], 'no Basic over plain HTTP to remote clients');
  assert.equal(challengesFor(quoted, { secure: true, loopback: false }, 'h').length, 1);
  const cleartext = auth({ enabled: true, realm: '', allowCleartext: true });
  assert.deepEqual(challengesFor(cleartext, { secure: false, loopback: false }, 'example.com'), ['Basic realm="example.com", charset="UTF-8"']);
  assert.strictEqual(challengesFor(cleartext, { secure: false, loopback: false }, 'example.com'), challengesFor(cleartext, { secure: false, loopback: false }, 'example.com'), 'memoised');
});
