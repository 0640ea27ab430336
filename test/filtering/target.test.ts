import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isHttpError, type HttpError } from '../../src/pipeline/errors.js';
import { parseRequestTarget, type ParsedTarget } from '../../src/filtering/target.js';

function accepted(target: string): ParsedTarget {
  const parsed = parseRequestTarget(target);
  if (isHttpError(parsed)) assert.fail(`${JSON.stringify(target)} was refused: ${parsed.status}.${parsed.substatus} ${parsed.reason}`);
  return parsed;
}

function refused(target: string, status: number, substatus = 0): HttpError {
  const parsed = parseRequestTarget(target);
  if (!isHttpError(parsed)) assert.fail(`${JSON.stringify(target)} was accepted as ${parsed.path}`);
  assert.equal(`${parsed.status}.${parsed.substatus}`, `${status}.${substatus}`, `${target}: ${parsed.reason}`);
  return parsed;
}

test('origin-form: raw parts kept, path decoded and canonical', () => {
  const t = accepted('/a/b%20c/d.txt?x=%20&y=1');
  assert.equal(t.rawPath, '/a/b%20c/d.txt');
  assert.equal(t.rawQuery, 'x=%20&y=1');
  assert.equal(t.path, '/a/b c/d.txt');
  assert.deepEqual(t.segments, ['a', 'b c', 'd.txt']);
  assert.equal(t.trailingSlash, false);
  assert.equal(t.doubleEscaped, false);
  assert.equal(t.highBit, false);
});

test('root and trailing slashes', () => {
  assert.deepEqual(accepted('/'), { rawPath: '/', rawQuery: '', path: '/', segments: [], trailingSlash: true, doubleEscaped: false, highBit: false });
  const folder = accepted('/docs/');
  assert.equal(folder.path, '/docs/');
  assert.equal(folder.trailingSlash, true);
  assert.equal(accepted('/docs').trailingSlash, false);
});

test('only the first ? splits; the query is not decoded', () => {
  const t = accepted('/p?a=%2F?b=%zz');
  assert.equal(t.rawPath, '/p');
  assert.equal(t.rawQuery, 'a=%2F?b=%zz');
  assert.equal(accepted('/p?').rawQuery, '');
});

test('runs of / collapse, . and .. resolve', () => {
  assert.equal(accepted('//a///b//').path, '/a/b/');
  assert.equal(accepted('/a/../b').path, '/b');
  assert.equal(accepted('/a/./b').path, '/a/b');
  assert.equal(accepted('/a/b/..').path, '/a/');
  assert.equal(accepted('/a/b/.').path, '/a/b/');
  assert.equal(accepted('/a/..').path, '/');
  assert.equal(accepted('/a/%2e%2e/b').path, '/b', 'dot segments are recognised after decoding');
  assert.equal(accepted('/a/%2E/b').path, '/a/b');
});

test('.. above the root is 400', () => {
  refused('/..', 400);
  refused('/../etc/passwd', 400);
  refused('/a/../../b', 400);
  refused('/%2e%2e/x', 400);
  refused('/./..', 400);
});

test('absolute-form uses its path', () => {
  const t = accepted('http://example.com:8080/a/b?q=1');
  assert.equal(t.rawPath, '/a/b');
  assert.equal(t.rawQuery, 'q=1');
  assert.equal(t.path, '/a/b');
  assert.equal(accepted('HTTPS://example.com/x').path, '/x');
  assert.equal(accepted('http://example.com').path, '/');
  const noPath = accepted('http://example.com?q');
  assert.equal(noPath.path, '/');
  assert.equal(noPath.rawQuery, 'q');
  refused('http:///a', 400);
  refused('http://user@example.com/a', 400);
  refused('ftp://example.com/a', 400);
});

test('asterisk-form, authority-form and other targets are 400', () => {
  refused('*', 400);
  refused('', 400);
  refused('example.com:443', 400);
  refused('a/b', 400);
  refused('?q', 400);
  refused('/a#frag', 400);
});

test('characters outside printable ASCII are 400 even though Node never delivers them', () => {
  refused('/a b', 400);
  refused('/a\tb', 400);
  refused('/caf\u00e9', 400);
  refused('/a\u0000', 400);
  refused('/\u{1f600}', 400);
});

test('% must be followed by two hex digits', () => {
  refused('/%3p', 400);
  refused('/a%', 400);
  refused('/a%2', 400);
  refused('/%%32%65', 400);
  const percentU = refused('/%u002e%u002e/x', 400);
  assert.match(percentU.reason, /%u/);
});

test('percent-decoding is UTF-8 and refuses invalid sequences', () => {
  const t = accepted('/caf%C3%A9/%E2%82%AC');
  assert.deepEqual(t.segments, ['café', '€']);
  assert.equal(t.highBit, true);
  refused('/%c0%af', 400); // overlong '/'
  refused('/%c0%ae%c0%ae/x', 400); // overlong '.'
  refused('/%e0%80%af', 400); // 3-byte overlong '/'
  refused('/%ed%a0%80', 400); // encoded surrogate
  refused('/%f4%90%80%80', 400); // above U+10FFFF
  refused('/%c3', 400); // truncated
  refused('/%ff', 400);
  refused('/%e9t%e9', 400); // latin1, not UTF-8
});

test('a leading BOM is kept, not silently dropped', () => {
  const t = accepted('/%EF%BB%BFx');
  assert.deepEqual(t.segments, ['\ufeffx']);
  assert.equal(t.highBit, true);
});

test('decoded NUL and control characters are 400 (C0, DEL, C1)', () => {
  for (const escape of ['%00', '%01', '%0a', '%0D', '%1f', '%7f', '%C2%80', '%C2%9F']) refused(`/a${escape}b`, 400);
  assert.deepEqual(accepted('/a%C2%A0b').segments, ['a\u00a0b'], 'U+00A0 is not a control character');
});

test('backslash, raw or decoded, is 400', () => {
  refused('/a\\b', 400);
  refused('/\\..\\windows', 400);
  refused('/a%5cb', 400);
  refused('/%5C..%5C..%5Cwindows', 400);
});

test('an encoded slash is 400', () => {
  refused('/a%2fb', 400);
  refused('/..%2f..%2fetc/passwd', 400);
  refused('/a/..%2F', 400);
});

test('":" in a decoded segment is 404.5', () => {
  refused('/default.asp::$DATA', 404, 5);
  refused('/file.txt:stream', 404, 5);
  refused('/c:/windows', 404, 5);
  refused('/a%3Ab', 404, 5);
  refused('/x:y/../z', 404, 5);
});

test('a segment ending in "." or " " is 404.5', () => {
  refused('/file.asp.', 404, 5);
  refused('/dir./x', 404, 5);
  refused('/file%2e', 404, 5);
  refused('/file%20', 404, 5);
  refused('/...', 404, 5);
  refused('/a/%2e%2e%2e/b', 404, 5);
  assert.equal(accepted('/.well-known/x').path, '/.well-known/x');
  assert.equal(accepted('/a.b/c').path, '/a.b/c');
});

test('+ is a literal plus', () => {
  assert.deepEqual(accepted('/a+b/c%2bd').segments, ['a+b', 'c+d']);
});

test('decoding happens once: double escapes stay escapes and are flagged', () => {
  const dots = accepted('/%252e%252e/%252e%252e/x');
  assert.deepEqual(dots.segments, ['%2e%2e', '%2e%2e', 'x']);
  assert.equal(dots.doubleEscaped, true);
  assert.equal(accepted('/a%2541').doubleEscaped, true);
  assert.equal(accepted('/a%25').doubleEscaped, false, 'a lone % after decoding is not an escape');
  assert.equal(accepted('/100%25zz').doubleEscaped, false);
  assert.equal(accepted('/a%2541/..').doubleEscaped, true, 'checked on segments a .. removed too');
});

test('reasons quote the offending value with controls escaped and cut long', () => {
  const long = `/${'a'.repeat(300)}%3p`;
  const error = refused(long, 400);
  assert.ok(error.reason.length < 300, error.reason);
  assert.match(error.reason, /…/);
  const withNewline = refused('/a%0d%0aSet-Cookie:x', 400);
  assert.doesNotMatch(withNewline.reason, /[\r\n]/);
});

// Property (a): any string at all, including characters Node never delivers.
test('property: never throws; accepted paths are canonical and safe', () => {
  const anyTarget = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((s) => `/${s}`),
    fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => `/${s}`),
    fc.tuple(fc.constantFrom('http://h', 'HTTPS://h:1', 'http://', 'http://u@h'), fc.string({ unit: 'grapheme-ascii', maxLength: 20 })).map(([a, b]) => a + b),
    fc.array(fc.constantFrom('/', '.', '..', '%', '%2e', '%2E', '%2f', '%5c', '%3a', '%00', '%c0%af', '%25', '%u', 'a', 'B', ':', '\\', ' ', '?', '#', '%e2%82%ac', '%ed%a0%80', '%20'), { maxLength: 20 }).map((parts) => `/${parts.join('')}`),
  );
  fc.assert(
    fc.property(anyTarget, (target) => {
      const parsed = parseRequestTarget(target);
      if (isHttpError(parsed)) {
        assert.ok([400, 404].includes(parsed.status));
        assert.ok(parsed.reason.length > 0);
        return;
      }
      assert.ok(parsed.path.startsWith('/'));
      assert.equal(parsed.path, `/${parsed.segments.join('/')}${parsed.trailingSlash && parsed.segments.length > 0 ? '/' : ''}`);
      for (const segment of parsed.segments) {
        assert.notEqual(segment, '');
        assert.notEqual(segment, '.');
        assert.notEqual(segment, '..');
        assert.ok(!segment.includes('/'));
      }
      assert.ok(!parsed.path.includes('\\'));
      assert.ok(!parsed.path.includes(':'));
      assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(parsed.path));
      assert.ok(!parsed.path.includes('//'));
    }),
    { numRuns: 5000 },
  );
});

// Property (c): one decoding. Segments are arbitrary strings (any code point) except the dot segments, which
// are resolved by design; the oracle for refusal is the list of rules, so acceptance is checked both ways.
test('property: encodeURIComponent per segment round-trips, and refusals are exactly the rules', () => {
  const segment = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((s) => s !== '.' && s !== '..');
  const mustRefuse = (s: string): boolean =>
    s.includes('/') || s.includes('\\') || s.includes(':') || s.endsWith('.') || s.endsWith(' ') || /[\u0000-\u001f\u007f-\u009f]/.test(s);
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 6 }), fc.boolean(), (segments, slash) => {
      const target = `/${segments.map(encodeURIComponent).join('/')}${slash && segments.length > 0 ? '/' : ''}`;
      const parsed = parseRequestTarget(target);
      if (isHttpError(parsed)) {
        assert.ok(segments.some(mustRefuse), `${target} refused: ${parsed.reason}`);
        return;
      }
      assert.ok(!segments.some(mustRefuse), `${target} accepted`);
      assert.deepEqual(parsed.segments, segments);
      assert.equal(parsed.doubleEscaped, segments.some((s) => /%[0-9a-fA-F]{2}/.test(s)));
      assert.equal(parsed.highBit, segments.some((s) => /[^\u0000-\u007f]/.test(s)));
    }),
    { numRuns: 5000 },
  );
});

test('property: the same path has one canonical form however it is spelled', () => {
  const segment = fc.stringMatching(/^[a-z0-9_-]{1,6}$/);
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 5 }), fc.array(fc.nat({ max: 3 }), { maxLength: 5 }), (segments, noise) => {
      // Insert '.', empty and 'x/..' detours, and encode some letters: all spellings of the same path.
      const spelled = segments.map((s, i) => {
        const kind = noise[i] ?? 0;
        const encoded = kind === 1 ? [...s].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('') : s;
        return kind === 2 ? `./${encoded}` : kind === 3 ? `zz/../${encoded}/` : encoded;
      });
      const parsed = parseRequestTarget(`/${spelled.join('/')}`);
      if (isHttpError(parsed)) assert.fail(parsed.reason);
      assert.deepEqual(parsed.segments, segments);
    }),
    { numRuns: 2000 },
  );
});
