import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CgiHeadParser, MAX_HEAD_BYTES, type CgiBadHead, type CgiHead, type CgiHeadResult } from '../../../src/handlers/cgi/response.js';

/** Feeds `chunks` in order, then the end of output; the first result wins. */
function parse(...chunks: (string | Buffer)[]): CgiHeadResult {
  const parser = new CgiHeadParser();
  for (const chunk of chunks) {
    const result = parser.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    if (result) return result;
  }
  return parser.end();
}

function head(result: CgiHeadResult): CgiHead {
  assert.equal(result.kind, 'head', result.kind === 'bad' ? result.problem : '');
  return result as CgiHead;
}

function badHead(result: CgiHeadResult): CgiBadHead {
  assert.equal(result.kind, 'bad');
  return result as CgiBadHead;
}

test('Content-Type alone: 200, the fields as written, the body after the blank line', () => {
  const h = head(parse('Content-Type: text/html\n\n<p>hi</p>'));
  assert.equal(h.status, 200);
  assert.equal(h.reason, undefined);
  assert.deepEqual(h.headers, [['Content-Type', 'text/html']]);
  assert.equal(h.bodyStart.toString(), '<p>hi</p>');
  assert.equal(h.redirect, undefined);
});

test('CRLF and LF line ends, mixed; optional whitespace around values', () => {
  const h = head(parse('Content-Type:text/plain\r\nX-A: \t a b \t\nX-B:\r\n\r\nbody'));
  assert.deepEqual(h.headers, [['Content-Type', 'text/plain'], ['X-A', 'a b'], ['X-B', '']]);
  assert.equal(h.bodyStart.toString(), 'body');
});

test('Status sets the status and reason and is not sent; without a reason the standard one is used', () => {
  const h = head(parse('Status: 404 Not Here\nContent-Type: text/plain\n\n'));
  assert.equal(h.status, 404);
  assert.equal(h.reason, 'Not Here');
  assert.deepEqual(h.headers, [['Content-Type', 'text/plain']]);
  const bare = head(parse('status: 503\n\n'));
  assert.equal(bare.status, 503);
  assert.equal(bare.reason, undefined);
});

test('Location: absolute URI → client redirect 302; local path → local redirect, answered as 302 too', () => {
  const client = head(parse('Location: https://example.test/x\n\n'));
  assert.equal(client.status, 302);
  assert.equal(client.redirect, 'client');
  assert.deepEqual(client.headers, [['Location', 'https://example.test/x']]);
  const local = head(parse('Location: /other/page\n\n'));
  assert.equal(local.status, 302);
  assert.equal(local.redirect, 'local');
  assert.equal(head(parse('Location: //evil.test/x\n\n')).redirect, 'client', 'a network-path reference is not local');
  const withStatus = head(parse('Status: 301 Moved Permanently\nLocation: http://example.test/\n\n'));
  assert.equal(withStatus.status, 301);
});

test('hop-by-hop fields are dropped; repeated ordinary fields are kept apart', () => {
  const h = head(
    parse(
      'Content-Type: text/plain\nConnection: close\nKeep-Alive: timeout=5\nTransfer-Encoding: chunked\nTE: trailers\nTrailer: X\nUpgrade: h2c\nProxy-Connection: x\nSet-Cookie: a=1\nSet-Cookie: b=2\n\n',
    ),
  );
  assert.deepEqual(h.headers, [['Content-Type', 'text/plain'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']]);
});

test('Content-Length is kept and reported', () => {
  const h = head(parse('Content-Type: text/plain\nContent-Length: 12\n\nhello world\n'));
  assert.equal(h.contentLength, 12);
  assert.deepEqual(h.headers, [['Content-Type', 'text/plain'], ['Content-Length', '12']]);
});

test('the head may arrive one byte at a time; the body start is what followed the blank line', () => {
  const text = 'Status: 200 OK\r\nContent-Type: a/b\r\n\r\nBODY';
  const parser = new CgiHeadParser();
  const bytes = Buffer.from(text);
  let result: CgiHeadResult | undefined;
  let fed = 0;
  while (!result) result = parser.push(bytes.subarray(fed, ++fed));
  assert.equal(head(result).status, 200);
  assert.equal(fed, text.indexOf('BODY'), 'the head is complete at the blank line');
  assert.equal(head(result).bodyStart.length, 0, 'the body comes in the later chunks');
  const together = head(parse(text.slice(0, 20), text.slice(20)));
  assert.equal(together.bodyStart.toString(), 'BODY');
});

test('bad heads: not a field, no CGI field, repeated CGI fields, bad values, bad status, nothing', () => {
  const cases: [string, RegExp][] = [
    ['hello world\n<html>\n', /line 1 is not a header field/],
    [': value\n\n', /line 1 is not a header field/],
    ['Content-Type : text/html\n\n', /invalid field name/],
    ['Content Type: text/html\n\n', /invalid field name/],
    ['X-Only: 1\n\nbody', /none of Content-Type, Location and Status/],
    ['\nbody', /none of Content-Type, Location and Status/],
    ['Content-Type: a/b\nContent-Type: c/d\n\n', /appears more than once/],
    ['Status: 200\nstatus: 404\n\n', /appears more than once/],
    ['Content-Type: a/b\nX-Bad: a\rb\n\n', /control character/],
    ['Content-Type: a/b\nX-Bad: a\0b\n\n', /control character/],
    ['Status: 99 Too Low\n\n', /Status must be/],
    ['Status: 600\n\n', /Status must be/],
    ['Status: abc\n\n', /Status must be/],
    ['Status: 2000\n\n', /Status must be/],
    ['Content-Type:\n\n', /Content-Type is empty/],
    ['Location:   \n\n', /Location is empty/],
    ['Content-Type: a/b\nContent-Length: -1\n\n', /Content-Length is not a number/],
    ['Content-Type: a/b\n folded continuation\n\n', /not a header field|invalid field name/],
    ['Content-Type: text/plain\nX-Half: ', /ended before the blank line/],
    ['', /wrote nothing/],
  ];
  for (const [text, problem] of cases) {
    const bad = badHead(parse(text));
    assert.match(bad.problem, problem, JSON.stringify(text));
  }
});

test('the bad result carries what the script printed, readable: UTF-8, control bytes shown as \\xNN', () => {
  const bad = badHead(parse(Buffer.from('Zoë says hi\x1b[31m\r\n<b>x</b>\n', 'utf8')));
  assert.equal(bad.text, 'Zoë says hi\\x1b[31m\n<b>x</b>\n');
});

test(`a head longer than ${MAX_HEAD_BYTES} bytes is bad, whether in one chunk or many`, () => {
  const line = `X-Filler: ${'a'.repeat(1000)}\n`;
  const long = `Content-Type: a/b\n${line.repeat(70)}\n`;
  assert.match(badHead(parse(long)).problem, /longer than/);
  const pieces = long.match(/[\s\S]{1,777}/g)!;
  const bad = badHead(parse(...pieces));
  assert.match(bad.problem, /longer than/);
  assert.ok(Buffer.byteLength(bad.text) <= MAX_HEAD_BYTES);
  assert.match(badHead(parse('x'.repeat(MAX_HEAD_BYTES + 10))).problem, /longer than/);
  assert.match(badHead(parse('Content-Type: a/b\n', 'x'.repeat(MAX_HEAD_BYTES))).problem, /longer than/);
});

test(`a head of exactly ${MAX_HEAD_BYTES} bytes is accepted, even when the body arrives with it`, () => {
  const start = 'Content-Type: a/b\nX-Filler: ';
  const end = '\n\n';
  const text = start + 'a'.repeat(MAX_HEAD_BYTES - start.length - end.length) + end;
  assert.equal(Buffer.byteLength(text), MAX_HEAD_BYTES);
  assert.equal(head(parse(text + 'body')).bodyStart.toString(), 'body');
  // The same head in two chunks, the second carrying a large body.
  const h = head(parse(text.slice(0, 100), text.slice(100) + 'b'.repeat(200_000)));
  assert.equal(h.bodyStart.length, 200_000);
});

test('after a result, further pushes return the same result', () => {
  const parser = new CgiHeadParser();
  const first = parser.push(Buffer.from('Status: 204\n\n'));
  assert.ok(first);
  assert.equal(parser.push(Buffer.from('more')), first);
  assert.equal(parser.end(), first);
});

// --- Properties -----------------------------------------------------------------------------------------------

const chunkings = (bytes: Buffer) =>
  fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 8 }).map((cuts) => {
    const points = [...new Set([0, ...cuts, bytes.length])].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    for (let i = 0; i + 1 < points.length; i++) chunks.push(bytes.subarray(points[i], points[i + 1]));
    return chunks;
  });

test('property: arbitrary bytes, arbitrarily chunked, never throw and give a head or a bad result', () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    // Mostly header-looking text, where the interesting cases are.
    fc.array(fc.constantFrom('Status: ', 'Content-Type: ', 'Location: ', 'X-A: ', 'Content-Length: ', '200', 'a', ':', ' ', '\t', '\r', '\n', '\r\n', '\0', '\x7f', 'é', '/'), { maxLength: 60 }).map((parts) => Buffer.from(parts.join(''), 'utf8')),
  );
  fc.assert(
    fc.property(bytes.chain((b) => chunkings(Buffer.from(b))), (chunks) => {
      const result = parse(...chunks);
      assert.ok(result.kind === 'head' || result.kind === 'bad');
      if (result.kind === 'head') {
        // What Node would refuse to write never comes out as a header.
        for (const [name, value] of result.headers) {
          assert.match(name, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
          assert.match(value, /^[\t\x20-\x7e\x80-\xff]*$/);
        }
        assert.ok(result.status >= 200 && result.status <= 599);
      }
    }),
    { numRuns: 2000 },
  );
});

const tokenName = fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/);
const fieldValue = fc.stringMatching(/^[\x21-\x7e\x80-\xff]([\x20-\x7e\x80-\xff]{0,30}[\x21-\x7e\x80-\xff])?$/);
const lineEnd = fc.constantFrom('\n', '\r\n');

test('property: a well-formed head always parses to what was written', () => {
  const shape = fc.record({
    status: fc.option(fc.tuple(fc.integer({ min: 200, max: 599 }), fc.option(fc.stringMatching(/^[A-Za-z][A-Za-z ]{0,15}[A-Za-z]$/), { nil: undefined })), { nil: undefined }),
    contentType: fc.option(fc.constantFrom('text/html', 'text/plain; charset=utf-8', 'application/json'), { nil: undefined }),
    location: fc.option(fc.constantFrom('http://example.test/a?b=c', '/local/path', 'https://x.test/'), { nil: undefined }),
    fields: fc.array(fc.tuple(tokenName, fieldValue), { maxLength: 6 }),
    ends: fc.array(lineEnd, { minLength: 10, maxLength: 10 }),
    body: fc.uint8Array({ maxLength: 100 }),
  });
  fc.assert(
    fc.property(
      shape
        .filter((s) => s.status !== undefined || s.contentType !== undefined || s.location !== undefined)
        .chain((s) => {
          const lines: string[] = [];
          if (s.status) lines.push(`Status: ${s.status[0]}${s.status[1] ? ` ${s.status[1]}` : ''}`);
          const expected: [string, string][] = [];
          if (s.contentType) {
            lines.push(`Content-Type: ${s.contentType}`);
            expected.push(['Content-Type', s.contentType]);
          }
          for (const [name, value] of s.fields) {
            lines.push(`${name}: ${value}`);
            expected.push([name, value]);
          }
          if (s.location) {
            lines.push(`Location: ${s.location}`);
            expected.push(['Location', s.location]);
          }
          const text = lines.map((l, i) => l + s.ends[i % s.ends.length]).join('') + s.ends[9];
          const bytes = Buffer.concat([Buffer.from(text, 'latin1'), Buffer.from(s.body)]);
          return chunkings(bytes).map((chunks) => ({ s, expected, chunks, headLength: Buffer.byteLength(text, 'latin1') }));
        }),
      ({ s, expected, chunks, headLength }) => {
        const parser = new CgiHeadParser();
        let result: CgiHeadResult | undefined;
        let fed = 0;
        for (const chunk of chunks) {
          result = parser.push(chunk);
          fed += chunk.length;
          if (result) break;
        }
        result ??= parser.end();
        const h = head(result);
        assert.equal(h.status, s.status ? s.status[0] : s.location ? 302 : 200);
        assert.equal(h.reason, s.status?.[1]);
        assert.deepEqual(h.headers, expected);
        // The body start plus what was not fed yet is exactly the body written.
        const all = Buffer.concat(chunks);
        assert.deepEqual(Buffer.concat([h.bodyStart, all.subarray(fed)]), Buffer.from(s.body));
        assert.ok(fed >= headLength);
      },
    ),
    { numRuns: 1000 },
  );
});
