/**
 * Handler mapping patterns (IIS <handlers> path attribute) and script candidates with PATH_INFO.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { findHandler, matchesHandlerPath, scriptCandidates } from '../../src/handlers/handler-mappings.js';
import type { HandlerInput } from '../../src/config/schema.js';

const cgi = (name: string, path: string, verbs?: string[]): HandlerInput => ({ name, path, kind: 'cgi', ...(verbs && { verbs }) });

test('patterns: "*", "*.ext" (ignoring case, never the bare extension), exact names', () => {
  assert.ok(matchesHandlerPath('*', 'anything'));
  assert.ok(matchesHandlerPath('*.cgi', 'env.cgi'));
  assert.ok(matchesHandlerPath('*.cgi', 'ENV.CGI'));
  assert.ok(!matchesHandlerPath('*.cgi', '.cgi'), 'a file named only ".cgi" has no name before the extension');
  assert.ok(!matchesHandlerPath('*.cgi', 'env.cgi.txt'));
  assert.ok(!matchesHandlerPath('*.cgi', 'envcgi'));
  assert.ok(matchesHandlerPath('report.pl', 'Report.PL'));
  assert.ok(!matchesHandlerPath('report.pl', 'report.pl2'));
});

test('first match wins; verbs restrict a mapping', () => {
  const handlers = [cgi('post-only', '*.cgi', ['POST']), cgi('any', '*.cgi'), cgi('all', '*')];
  assert.equal(findHandler(handlers, 'a.cgi', 'POST')?.name, 'post-only');
  assert.equal(findHandler(handlers, 'a.cgi', 'get')?.name, 'any');
  assert.equal(findHandler(handlers, 'a.txt', 'GET')?.name, 'all');
  assert.equal(findHandler([], 'a.cgi', 'GET'), undefined);
});

test('script candidates: every matching segment, leftmost first, so /a.cgi/b/c.cgi tries a.cgi first', () => {
  const handlers = [cgi('c', '*.cgi')];
  assert.deepEqual(
    scriptCandidates(handlers, ['cgi-bin', 'a.cgi', 'x', 'c.cgi'], 'GET').map((c) => c.index),
    [1, 3],
  );
  assert.deepEqual(scriptCandidates([], ['a.cgi'], 'GET'), []);
});

test('property: a "*.ext" pattern matches exactly the names that end with ".ext" and have something before it', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z0-9]{1,5}$/), fc.string({ maxLength: 12 }).filter((s) => !s.includes('/')), (ext, name) => {
      const expected = name.toLowerCase().endsWith(`.${ext}`) && name.length > ext.length + 1;
      return matchesHandlerPath(`*.${ext}`, name) === expected;
    }),
    { numRuns: 2000 },
  );
});
