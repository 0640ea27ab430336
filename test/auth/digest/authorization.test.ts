/** Digest credentials parsing (RFC 7616 §3.4): the published examples, refusals as values, liberal quoting, fuzzing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeExtValue,
  encodeExtValue,
  formatDigestAuthorization,
  isDigestError,
  ncHex,
  parseDigestAuthorization,
  type DigestCredentials,
} from '../../../src/auth/digest/authorization.js';
import { DIGEST_ALGORITHMS } from '../../../src/auth/digest/algorithms.js';
import { RFC2617, RFC7616_SHA256, RFC7616_USERHASH, RFC7616_USERNAME_STAR } from './vectors.js';

function parse(rest: string): DigestCredentials {
  const r = parseDigestAuthorization(rest);
  if (isDigestError(r)) assert.fail(`unexpected error for ${JSON.stringify(rest)}: ${r.error}`);
  return r;
}

function refused(rest: string): string {
  const r = parseDigestAuthorization(rest);
  if (!isDigestError(r)) assert.fail(`expected an error for ${JSON.stringify(rest)}`);
  return r.error;
}

test('RFC 7616 §3.9.1: every field', () => {
  assert.deepEqual(parse(RFC7616_SHA256.header), {
    username: 'Mufasa',
    usernameStar: false,
    userhash: false,
    realm: 'http-auth@example.org',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    uri: '/dir/index.html',
    response: '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    algorithm: 'SHA-256',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    qop: 'auth',
    nc: 1,
    ncText: '00000001',
  });
});

test('RFC 7616 §3.9.2: userhash keeps the hash as the user name; username* is decoded from UTF-8', () => {
  const hashed = parse(RFC7616_USERHASH.header);
  assert.equal(hashed.userhash, true);
  assert.equal(hashed.username, '793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b');
  const star = parse(RFC7616_USERNAME_STAR.header);
  assert.equal(star.username, 'J\u00e4s\u00f8n Doe');
  assert.equal(star.usernameStar, true);
  assert.equal(star.userhash, false);
});

test('RFC 2617 §3.5, and an RFC 2069 request (no qop, no algorithm: MD5)', () => {
  const c = parse(RFC2617.header);
  assert.equal(c.algorithm, 'MD5');
  assert.equal(c.cnonce, '0a4f113b');
  const old = parse('username="Mufasa", realm="r", nonce="n", uri="/", response="6629fae49393a05397450978507c4ef1"');
  assert.equal(old.algorithm, 'MD5');
  assert.equal(old.qop, undefined);
  assert.equal(old.nc, undefined);
});

test('every field may be quoted or not (clients differ); the values are the same', () => {
  const quotedTokens = RFC7616_SHA256.header.replace('algorithm=SHA-256', 'algorithm="SHA-256"').replace('nc=00000001', 'nc="00000001"').replace('qop=auth', 'qop="auth"');
  const unquotedStrings =
    'username=Mufasa, realm=http-auth@example.org, uri=/dir/index.html, algorithm=SHA-256, ' +
    'nonce=7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v, nc=00000001, cnonce=f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ, qop=auth, ' +
    'response=753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1, opaque=FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS';
  const expected = parse(RFC7616_SHA256.header);
  assert.deepEqual(parse(quotedTokens), expected);
  assert.deepEqual(parse(unquotedStrings), expected);
  assert.deepEqual(parse(`${RFC7616_SHA256.header}, userhash="FALSE"`), expected);
});

test('a quoted user name in UTF-8 bytes is decoded; bytes that are not UTF-8 are read as ISO-8859-1', () => {
  const utf8Name = Buffer.from('J\u00e4s\u00f8n Doe', 'utf8').toString('latin1');
  assert.equal(parse(`username="${utf8Name}", realm="r", nonce="n", uri="/", response="x"`).username, 'J\u00e4s\u00f8n Doe');
  assert.equal(parse('username="J\u00e4s\u00f8n Doe", realm="r", nonce="n", uri="/", response="x"').username, 'J\u00e4s\u00f8n Doe');
});

test('refusals: missing, duplicated and contradictory fields', () => {
  const base = RFC7616_SHA256.header;
  for (const field of ['username', 'realm', 'nonce', 'uri', 'response']) {
    const without = base.split(', ').filter((p) => !p.startsWith(`${field}=`)).join(', ');
    assert.match(refused(without), new RegExp(`${field}`), field);
  }
  assert.match(refused(`${base}, username*=UTF-8''Mufasa`), /both username and username\*/);
  assert.match(refused(`${base}, Realm="x"`), /more than once/);
  assert.match(refused(base.replace(', cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"', '')), /cnonce is missing/);
  assert.match(refused(base.replace(', nc=00000001', '')), /nc is missing/);
  assert.match(refused(base.replace('nc=00000001', 'nc=0000001')), /8 hexadecimal/);
  assert.match(refused(base.replace('nc=00000001', 'nc=0000000g')), /8 hexadecimal/);
  assert.match(refused(base.replace('nc=00000001', 'nc=+0000001')), /8 hexadecimal/);
  assert.match(refused(base.replace('nc=00000001', 'nc=00000000')), /00000000/);
  assert.match(refused(`${base}, userhash=yes`), /userhash/);
  assert.match(refused(RFC7616_USERNAME_STAR.header.replace('userhash=false', 'userhash=true')), /username\*/);
  assert.match(refused('username="a" realm="b"'), /expected ","/);
});

test('nc: the value and the text as sent (upper-case hex accepted)', () => {
  const c = parse(RFC7616_SHA256.header.replace('nc=00000001', 'nc=0000001A'));
  assert.equal(c.nc, 26);
  assert.equal(c.ncText, '0000001A');
  assert.equal(ncHex(26), '0000001a');
  assert.equal(parse(RFC7616_SHA256.header.replace('nc=00000001', 'nc=ffffffff')).nc, 0xffffffff);
});

test('username* (RFC 8187): only UTF-8, strict percent-encoding, valid UTF-8', () => {
  assert.equal(decodeExtValue("UTF-8''J%C3%A4s%C3%B8n%20Doe"), 'J\u00e4s\u00f8n Doe');
  assert.equal(decodeExtValue("utf-8'en'abc"), 'abc');
  assert.deepEqual(decodeExtValue("ISO-8859-1''J%E4s"), { error: 'username* uses a charset other than UTF-8' });
  assert.match((decodeExtValue("UTF-8''%C3%28") as { error: string }).error, /not valid UTF-8/);
  assert.match((decodeExtValue("UTF-8''%G1") as { error: string }).error, /percent-encoding/);
  assert.match((decodeExtValue("UTF-8''%C") as { error: string }).error, /percent-encoding/);
  assert.match((decodeExtValue("UTF-8''a b") as { error: string }).error, /percent-encoded/);
  assert.match((decodeExtValue('UTF-8-abc') as { error: string }).error, /ext-value/);
  assert.equal(encodeExtValue('J\u00e4s\u00f8n Doe'), "UTF-8''J%C3%A4s%C3%B8n%20Doe");
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      assert.equal(decodeExtValue(encodeExtValue(s)), s);
    }),
  );
});

test('errors never contain the credentials', () => {
  const secret = 'deadbeefdeadbeefdeadbeefdeadbeef';
  for (const rest of [`username="u", realm="r", nonce="n", uri="/", response="${secret}", response="${secret}"`, `username="u", response="${secret}`, `username*=UTF-8''%ZZ${secret}, realm="r", nonce="n", uri="/", response="x"`]) {
    assert.ok(!refused(rest).includes(secret), rest);
  }
});

test('never throws: arbitrary strings and mutated valid headers (fuzz)', () => {
  const headers = [RFC7616_SHA256.header, RFC7616_USERHASH.header, RFC7616_USERNAME_STAR.header, RFC2617.header];
  const mutated = fc
    .tuple(fc.constantFrom(...headers), fc.nat(), fc.nat({ max: 20 }), fc.string({ unit: 'binary', maxLength: 8 }))
    .map(([h, at, del, ins]) => {
      const i = at % (h.length + 1);
      return h.slice(0, i) + ins + h.slice(i + del);
    });
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), mutated), (s) => {
      const r = parseDigestAuthorization(s);
      if (isDigestError(r)) assert.equal(typeof r.error, 'string');
      else assert.equal(typeof r.username, 'string');
    }),
    { numRuns: 5000 },
  );
});

// Values a header can carry: latin1-range text without control characters.
const wire = (min = 0) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), minLength: min, maxLength: 24 });
// Unicode text without C0 controls or DEL (a quoted user name or realm carries it as UTF-8 bytes).
const text = fc.string({ unit: 'binary', maxLength: 16 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s));
const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);

const credentials: fc.Arbitrary<DigestCredentials> = fc
  .record({
    userhash: fc.boolean(),
    usernameStar: fc.boolean(),
    name: fc.string({ unit: 'binary', maxLength: 16 }),
    quotedName: text,
    hashName: fc.stringMatching(/^[0-9a-f]{64}$/),
    realm: text,
    nonce: wire(),
    uri: wire(),
    response: wire(),
    algorithm: fc.oneof(fc.constantFrom(...DIGEST_ALGORITHMS), token),
    opaque: fc.option(wire(), { nil: undefined }),
    withQop: fc.boolean(),
    qop: fc.oneof(fc.constantFrom('auth', 'auth-int'), token),
    cnonce: wire(),
    nc: fc.integer({ min: 1, max: 0xffffffff }),
    upper: fc.boolean(),
  })
  .map((r) => {
    const c: { -readonly [K in keyof DigestCredentials]: DigestCredentials[K] } = {
      username: r.userhash ? r.hashName : r.usernameStar ? r.name : r.quotedName,
      usernameStar: !r.userhash && r.usernameStar,
      userhash: r.userhash,
      realm: r.realm,
      nonce: r.nonce,
      uri: r.uri,
      response: r.response,
      algorithm: r.algorithm,
    };
    if (r.opaque !== undefined) c.opaque = r.opaque;
    if (r.withQop) {
      c.qop = r.qop;
      c.cnonce = r.cnonce;
      c.nc = r.nc;
      c.ncText = r.upper ? ncHex(r.nc).toUpperCase() : ncHex(r.nc);
    }
    return c;
  });

test('round trip: formatDigestAuthorization → parseDigestAuthorization gives the same credentials', () => {
  fc.assert(
    fc.property(credentials, (c) => {
      const header = formatDigestAuthorization(c);
      assert.ok(header.startsWith('Digest '));
      assert.deepEqual(parse(header.slice('Digest '.length)), c);
    }),
    { numRuns: 2000 },
  );
});
