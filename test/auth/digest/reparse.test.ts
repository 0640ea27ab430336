/**
 * reparse: a keep-alive client's next header parsed from its previous one. Property: whatever the second header is
 * (the client's next one, or any mutation of it), reparse either declines or returns exactly the full parser's
 * result — it is only ever a shortcut, never a second opinion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatDigestAuthorization, isDigestError, parseDigestAuthorization, type DigestCredentials } from '../../../src/auth/digest/authorization.js';
import { digestTemplate, reparse } from '../../../src/auth/digest/reparse.js';

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const credentials = fc.record({
  username: fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[\u0000-\u001f\u007f-\uffff]/.test(s)),
  realm: fc.constantFrom('BOX', 'Persona demo', 'a"b'),
  nonce: fc.stringMatching(/^[A-Za-z0-9_-]{48}$/),
  uri: fc.constantFrom('/', '/secure/', '/a?nc=00000001', '/x?response="00"'),
  response: hex(64),
  algorithm: fc.constantFrom('SHA-256', 'MD5', 'md5'),
  cnonce: fc.oneof(hex(16), fc.constant('nc=00000002')),
  nc: fc.integer({ min: 1, max: 0xfffffff }),
  opaque: fc.option(fc.string({ maxLength: 10 }).filter((s) => !/[\u0000-\u001f\u007f-\uffff]/.test(s)), { nil: undefined }),
});

function header(c: { username: string; realm: string; nonce: string; uri: string; response: string; algorithm: string; cnonce: string; nc: number; opaque: string | undefined }): string {
  const full: DigestCredentials = {
    username: c.username,
    usernameStar: false,
    userhash: false,
    realm: c.realm,
    nonce: c.nonce,
    uri: c.uri,
    response: c.response,
    algorithm: c.algorithm,
    cnonce: c.cnonce,
    qop: 'auth',
    nc: c.nc,
    ncText: c.nc.toString(16).padStart(8, '0'),
    ...(c.opaque !== undefined && { opaque: c.opaque }),
  };
  return formatDigestAuthorization(full).slice('Digest '.length);
}

test("the client's next header (new nc and response) reparses to the full parse", () => {
  let reparsed = 0;
  fc.assert(
    fc.property(credentials, fc.integer({ min: 1, max: 0xfffffff }), hex(64), (c, nc, response) => {
      const first = header(c);
      const parsed = parseDigestAuthorization(first);
      assert.ok(!isDigestError(parsed));
      const template = digestTemplate(first, parsed);
      if (!template) return; // spans not provable (e.g. the same text twice): the full parser is used, which is fine
      const next = header({ ...c, nc, response: c.response.length === response.length ? response : c.response });
      const quick = reparse(template, next);
      assert.deepEqual(quick, parseDigestAuthorization(next));
      reparsed++;
    }),
    { numRuns: 400 },
  );
  assert.ok(reparsed > 100, `only ${reparsed} of 400 headers had a template: the property says little`);
});

test('a template is made for the usual client header', () => {
  const text = header({ username: 'alice', realm: 'BOX', nonce: 'A'.repeat(48), uri: '/', response: 'a'.repeat(64), algorithm: 'SHA-256', cnonce: 'abcdef0123456789', nc: 1, opaque: 'o' });
  const parsed = parseDigestAuthorization(text);
  assert.ok(!isDigestError(parsed));
  assert.ok(digestTemplate(text, parsed));
});

test('any mutation: reparse declines or agrees with the full parser', () => {
  fc.assert(
    fc.property(credentials, fc.nat(), fc.string({ minLength: 1, maxLength: 2 }), (c, where, insert) => {
      const first = header(c);
      const parsed = parseDigestAuthorization(first);
      assert.ok(!isDigestError(parsed));
      const template = digestTemplate(first, parsed);
      if (!template) return;
      const at = where % first.length;
      const mutated = first.slice(0, at) + insert + first.slice(at + insert.length);
      const quick = reparse(template, mutated);
      if (quick !== undefined) assert.deepEqual(quick, parseDigestAuthorization(mutated));
    }),
    { numRuns: 1000 },
  );
});
