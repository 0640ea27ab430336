import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isHttpError, statusLabel, type HttpError } from '../../src/pipeline/errors.js';
import { BUILTIN_SETTINGS } from '../../src/config/schema.js';
import { parseRequestTarget, type ParsedTarget } from '../../src/filtering/target.js';
import {
  bodyLimitExceeded,
  checkRequestFiltering,
  extensionOf,
  type FilterInput,
  type RequestFilteringRules,
} from '../../src/filtering/request-filter.js';

type Overrides = { [K in keyof RequestFilteringRules]?: RequestFilteringRules[K] };

function rules(overrides: Overrides = {}): RequestFilteringRules {
  return { ...structuredClone(BUILTIN_SETTINGS.requestFiltering), ...overrides };
}

function target(raw: string): ParsedTarget {
  const parsed = parseRequestTarget(raw);
  if (isHttpError(parsed)) assert.fail(`${raw}: ${parsed.reason}`);
  return parsed;
}

function input(raw: string, more: Partial<Omit<FilterInput, 'target'>> = {}): FilterInput {
  return { method: 'GET', headers: {}, contentLength: undefined, ...more, target: target(raw) };
}

function refusal(result: HttpError | null): string {
  assert.ok(result !== null, 'expected a refusal');
  return statusLabel(result.status, result.substatus);
}

test('an ordinary request passes the built-in rules', () => {
  assert.equal(checkRequestFiltering(input('/index.html?x=1', { headers: { host: 'x' }, contentLength: 0 }), rules()), null);
});

test('404.11 double escaping unless allowDoubleEscaping', () => {
  const doubled = input('/%252e%252e/x');
  const error = checkRequestFiltering(doubled, rules());
  assert.equal(refusal(error), '404.11');
  assert.match(error?.reason ?? '', /allowDoubleEscaping/);
  assert.match(error?.reason ?? '', /%252e/);
  assert.equal(checkRequestFiltering(doubled, rules({ allowDoubleEscaping: true })), null);
  assert.equal(checkRequestFiltering(input('/a+b'), rules()), null, '+ is not treated as an escape');
});

test('404.12 high-bit characters unless allowHighBitCharacters', () => {
  const high = input('/caf%C3%A9');
  assert.equal(checkRequestFiltering(high, rules()), null, 'allowed by default, as IIS');
  assert.equal(refusal(checkRequestFiltering(high, rules({ allowHighBitCharacters: false }))), '404.12');
});

test('404.14 maxUrl counts raw path bytes, not the query', () => {
  const raw = `/${'a'.repeat(9)}`; // 10 bytes
  assert.equal(checkRequestFiltering(input(raw), rules({ maxUrl: 10 })), null);
  assert.equal(checkRequestFiltering(input(`${raw}?${'q'.repeat(50)}`), rules({ maxUrl: 10 })), null);
  assert.equal(refusal(checkRequestFiltering(input(`${raw}b`), rules({ maxUrl: 10 }))), '404.14');
  // Escapes count as sent: %41 is three bytes even though it decodes to one.
  assert.equal(refusal(checkRequestFiltering(input('/%41%41%41%41'), rules({ maxUrl: 10 }))), '404.14');
});

test('404.15 maxQueryString counts raw query bytes', () => {
  assert.equal(checkRequestFiltering(input('/p?12345'), rules({ maxQueryString: 5 })), null);
  assert.equal(refusal(checkRequestFiltering(input('/p?123456'), rules({ maxQueryString: 5 }))), '404.15');
  assert.equal(refusal(checkRequestFiltering(input('/p?a'), rules({ maxQueryString: 0 }))), '404.15');
  assert.equal(checkRequestFiltering(input('/p?'), rules({ maxQueryString: 0 })), null);
});

test('413.1 maxAllowedContentLength on Content-Length and on a streamed body', () => {
  const limited = rules({ maxAllowedContentLength: 100 });
  assert.equal(checkRequestFiltering(input('/up', { method: 'POST', contentLength: 100 }), limited), null);
  assert.equal(refusal(checkRequestFiltering(input('/up', { method: 'POST', contentLength: 101 }), limited)), '413.1');
  assert.equal(checkRequestFiltering(input('/up', { method: 'POST', contentLength: undefined }), limited), null);
  assert.equal(bodyLimitExceeded(100, limited), null);
  const streamed = bodyLimitExceeded(101, limited);
  assert.equal(refusal(streamed), '413.1');
  assert.match(streamed?.reason ?? '', /maxAllowedContentLength is 100/);
});

test('404.6 verbs: deny wins, allow beats allowUnlisted, case-insensitive', () => {
  const denyTrace = rules({ verbs: { allowUnlisted: true, allow: [], deny: ['TRACE'] } });
  assert.equal(refusal(checkRequestFiltering(input('/', { method: 'TRACE' }), denyTrace)), '404.6');
  assert.equal(refusal(checkRequestFiltering(input('/', { method: 'trace' }), denyTrace)), '404.6');
  assert.equal(checkRequestFiltering(input('/', { method: 'GET' }), denyTrace), null);

  const onlyGet = rules({ verbs: { allowUnlisted: false, allow: ['GET', 'HEAD'], deny: [] } });
  assert.equal(checkRequestFiltering(input('/', { method: 'GET' }), onlyGet), null);
  assert.equal(checkRequestFiltering(input('/', { method: 'HEAD' }), onlyGet), null);
  const post = checkRequestFiltering(input('/', { method: 'POST' }), onlyGet);
  assert.equal(refusal(post), '404.6');
  assert.match(post?.reason ?? '', /verbs\.allowUnlisted is false.*"POST"/);

  const both = rules({ verbs: { allowUnlisted: false, allow: ['PUT'], deny: ['put'] } });
  assert.equal(refusal(checkRequestFiltering(input('/', { method: 'PUT' }), both)), '404.6', 'deny wins over allow');
});

test('extension of the last segment', () => {
  assert.equal(extensionOf(target('/a/b.TXT')), '.txt');
  assert.equal(extensionOf(target('/a.tar.gz')), '.gz');
  assert.equal(extensionOf(target('/.env')), '.env');
  assert.equal(extensionOf(target('/README')), '.');
  assert.equal(extensionOf(target('/')), '.');
  assert.equal(extensionOf(target('/dir.d/')), '.', 'a folder has no extension');
  assert.equal(extensionOf(target('/x.php/y')), '.', 'only the last segment counts');
});

test('404.7 file extensions: deny, case-insensitive; allowUnlisted false lets only allow pass', () => {
  const denyBak = rules({ fileExtensions: { allowUnlisted: true, allow: [], deny: ['.bak', '.Config'] } });
  assert.equal(refusal(checkRequestFiltering(input('/site.BAK'), denyBak)), '404.7');
  assert.equal(refusal(checkRequestFiltering(input('/web.config'), rules({ hiddenSegments: [], fileExtensions: denyBak.fileExtensions }))), '404.7');
  assert.equal(checkRequestFiltering(input('/site.bak.txt'), denyBak), null);

  const onlyHtml = rules({ fileExtensions: { allowUnlisted: false, allow: ['.html', '.'], deny: [] } });
  assert.equal(checkRequestFiltering(input('/a.HTML'), onlyHtml), null);
  assert.equal(checkRequestFiltering(input('/folder/'), onlyHtml), null, "'.' allows extensionless URLs, as in IIS");
  const css = checkRequestFiltering(input('/a.css'), onlyHtml);
  assert.equal(refusal(css), '404.7');
  assert.match(css?.reason ?? '', /fileExtensions\.allowUnlisted is false.*"\.css"/);

  const noExtensionless = rules({ fileExtensions: { allowUnlisted: false, allow: ['.html'], deny: [] } });
  assert.equal(refusal(checkRequestFiltering(input('/'), noExtensionless)), '404.7');
  const denyAndAllow = rules({ fileExtensions: { allowUnlisted: false, allow: ['.exe'], deny: ['.EXE'] } });
  assert.equal(refusal(checkRequestFiltering(input('/x.exe'), denyAndAllow)), '404.7', 'deny wins over allow');
});

test('404.8 hidden segments anywhere in the path, case-insensitive', () => {
  const r = rules();
  for (const raw of ['/.git/config', '/app/.GIT/HEAD', '/Web.Config', '/a/%2Egit/x', '/persona.yaml']) {
    const error = checkRequestFiltering(input(raw), r);
    assert.equal(refusal(error), '404.8', raw);
    assert.match(error?.reason ?? '', /hiddenSegments/);
  }
  assert.equal(checkRequestFiltering(input('/.github/x'), r), null, 'a segment must be equal, not a prefix');
  assert.equal(checkRequestFiltering(input('/docs/git'), r), null);
  assert.equal(checkRequestFiltering(input('/.git/..'), r), null, 'the canonical path no longer holds it');
});

test('404.5 denyUrlSequences on decoded and raw path, case-insensitive', () => {
  const r = rules({ denyUrlSequences: ['..', '~', 'Secret'] });
  assert.equal(refusal(checkRequestFiltering(input('/a/../b'), r)), '404.5', 'raw spelling, though the canonical path resolved it');
  assert.equal(refusal(checkRequestFiltering(input('/a..b'), r)), '404.5');
  assert.equal(refusal(checkRequestFiltering(input('/LONGFI%7E1.HTM'), r)), '404.5', 'decoded spelling');
  assert.equal(refusal(checkRequestFiltering(input('/LONGFI~1.HTM'), r)), '404.5');
  assert.equal(refusal(checkRequestFiltering(input('/x/SECRET.txt'), r)), '404.5');
  assert.equal(refusal(checkRequestFiltering(input('/x/%53ecret.txt'), r)), '404.5');
  assert.equal(checkRequestFiltering(input('/a/b?x=..'), r), null, 'the query is not a URL sequence');
  const encoded = rules({ denyUrlSequences: ['%2e'] });
  assert.equal(refusal(checkRequestFiltering(input('/a%2eb'), encoded)), '404.5', 'raw spelling');
});

test('431 headerLimits per header name, each value, UTF-8 bytes', () => {
  const r = rules({ headerLimits: { 'User-Agent': 5, cookie: 3 } });
  assert.equal(checkRequestFiltering(input('/', { headers: { 'user-agent': 'abcde' } }), r), null);
  const long = checkRequestFiltering(input('/', { headers: { 'user-agent': 'abcdef' } }), r);
  assert.equal(refusal(long), '431');
  assert.match(long?.reason ?? '', /"user-agent".*"abcdef"/);
  assert.equal(refusal(checkRequestFiltering(input('/', { headers: { 'user-agent': 'ab\u00e9de' } }), r)), '431', 'é is two bytes');
  assert.equal(checkRequestFiltering(input('/', { headers: { cookie: ['a=1', 'b=2'] } }), r), null, 'each value alone');
  assert.equal(refusal(checkRequestFiltering(input('/', { headers: { cookie: ['a=1', 'b=22'] } }), r)), '431');
  assert.equal(checkRequestFiltering(input('/', { headers: { 'x-other': 'x'.repeat(1000), cookie: undefined } }), r), null);
});

test('IIS order: the first rule that refuses decides', () => {
  const strict = rules({
    allowHighBitCharacters: false,
    maxUrl: 5,
    maxQueryString: 1,
    maxAllowedContentLength: 1,
    verbs: { allowUnlisted: false, allow: [], deny: [] },
    fileExtensions: { allowUnlisted: false, allow: [], deny: [] },
    denyUrlSequences: ['git'],
    headerLimits: { host: 0 },
  });
  const everything = { method: 'POST', contentLength: 10, headers: { host: 'h' } };
  assert.equal(refusal(checkRequestFiltering(input('/%2541/caf%C3%A9/.git/x.y?qq', everything), strict)), '404.11');
  assert.equal(refusal(checkRequestFiltering(input('/caf%C3%A9/.git/x.y?qq', everything), strict)), '404.12');
  assert.equal(refusal(checkRequestFiltering(input('/.git/x.y?qq', everything), strict)), '404.14');
  assert.equal(refusal(checkRequestFiltering(input('/.git?qq', everything), strict)), '404.15');
  assert.equal(refusal(checkRequestFiltering(input('/.git?q', everything), strict)), '413.1');
  assert.equal(refusal(checkRequestFiltering(input('/.git?q', { ...everything, contentLength: 0 }), strict)), '404.6');
  const verbOk = { ...strict, verbs: { allowUnlisted: true, allow: [], deny: [] } };
  assert.equal(refusal(checkRequestFiltering(input('/.git', { ...everything, contentLength: 0 }), verbOk)), '404.7');
  const extensionOk = { ...verbOk, fileExtensions: { allowUnlisted: true, allow: [], deny: [] } };
  assert.equal(refusal(checkRequestFiltering(input('/.git', { ...everything, contentLength: 0 }), extensionOk)), '404.8');
  assert.equal(refusal(checkRequestFiltering(input('/gitx', { ...everything, contentLength: 0 }), extensionOk)), '404.5');
  assert.equal(refusal(checkRequestFiltering(input('/x', { ...everything, contentLength: 0 }), extensionOk)), '431');
});

test('refusals log win32 status 0 and quote values safely', () => {
  const r = rules({ headerLimits: { 'x-a': 1 } });
  const error = checkRequestFiltering(input('/', { headers: { 'x-a': `\r\nInjected: 1${'z'.repeat(500)}` } }), r);
  assert.ok(error !== null);
  assert.equal(error.win32Status, 0);
  assert.doesNotMatch(error.reason, /[\r\n]/);
  assert.ok(error.reason.length < 250, error.reason);
});

// Property (d): whatever the method, headers and limits, the filter answers null or an HttpError.
test('property: checkRequestFiltering never throws', () => {
  const name = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('user-agent', 'Cookie', '__proto__', 'constructor', 'host'));
  const value = fc.string({ unit: 'binary', maxLength: 40 });
  const headers = fc.dictionary(name, fc.oneof(value, fc.array(value, { maxLength: 3 }), fc.constant(undefined)), { maxKeys: 6 });
  const list = fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), { maxLength: 4 });
  const arbitraryRules: fc.Arbitrary<RequestFilteringRules> = fc.record({
    allowDoubleEscaping: fc.boolean(),
    allowHighBitCharacters: fc.boolean(),
    hiddenSegments: list,
    denyUrlSequences: list,
    fileExtensions: fc.record({ allowUnlisted: fc.boolean(), allow: list, deny: list }),
    verbs: fc.record({ allowUnlisted: fc.boolean(), allow: list, deny: list }),
    maxAllowedContentLength: fc.nat(),
    maxUrl: fc.integer({ min: 1, max: 100 }),
    maxQueryString: fc.nat({ max: 100 }),
    headerLimits: fc.dictionary(name, fc.nat({ max: 50 }), { maxKeys: 4 }),
  });
  const targets = fc
    .oneof(
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
      fc.array(fc.constantFrom('a', '.', '/', '%2541', '%C3%A9', '.git', 'x.TXT', '?', 'q'), { maxLength: 10 }).map((p) => p.join('')),
    )
    .map((s) => parseRequestTarget(`/${s}`))
    .filter((t): t is ParsedTarget => !isHttpError(t));
  fc.assert(
    fc.property(
      targets,
      fc.string({ unit: 'binary', maxLength: 10 }),
      headers,
      fc.option(fc.oneof(fc.nat(), fc.double()), { nil: undefined }),
      arbitraryRules,
      fc.nat(),
      (t, method, h, contentLength, r, streamed) => {
        const result = checkRequestFiltering({ method, target: t, headers: h, contentLength }, r);
        assert.ok(result === null || isHttpError(result));
        const body = bodyLimitExceeded(streamed, r);
        assert.equal(body === null, streamed <= r.maxAllowedContentLength);
      },
    ),
    { numRuns: 3000 },
  );
});
