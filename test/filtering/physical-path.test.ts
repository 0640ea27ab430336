import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { isHttpError } from '../../src/pipeline/errors.js';
import { parseRequestTarget } from '../../src/filtering/target.js';
import { physicalPathFor } from '../../src/filtering/physical-path.js';

function inside(root: string, result: string): boolean {
  const base = path.resolve(root);
  return result === base || result.startsWith(base.endsWith('/') ? base : `${base}/`);
}

test('segments are joined under the root', () => {
  assert.equal(physicalPathFor('/srv/www', ['a', 'b c', 'café.txt']), '/srv/www/a/b c/café.txt');
  assert.equal(physicalPathFor('/srv/www/', ['x']), '/srv/www/x');
  assert.equal(physicalPathFor('/srv/www', []), '/srv/www');
  assert.equal(physicalPathFor('/', ['etc']), '/etc');
  assert.equal(physicalPathFor('/srv/./www/../www', ['x']), '/srv/www/x', 'the root is normalised');
});

test('a relative root is resolved against the working directory', () => {
  assert.equal(physicalPathFor('site', ['x']), path.join(process.cwd(), 'site', 'x'));
});

test('characters that are special elsewhere are plain name characters here', () => {
  assert.equal(physicalPathFor('/srv', ['%2e%2e', '~root', '$HOME', 'a?b#c']), '/srv/%2e%2e/~root/$HOME/a?b#c');
});

test('non-canonical segments violate the parser contract and fail loudly', () => {
  for (const bad of [['..'], ['.'], [''], ['a/../..'], ['/etc'], ['a\0b'], ['a', '..', '..']]) {
    assert.throws(() => physicalPathFor('/srv/www', bad), { name: 'AssertionError' }, JSON.stringify(bad));
  }
});

// Property (b): whatever the client sent, if the parser accepts it the file is under the root.
test('property: segments of any accepted target stay inside any root', () => {
  const piece = fc.constantFrom('..', '.', '', '%2e%2e', '%2E.', '.%2e', '%2f', '%5c', 'a', 'etc', 'passwd', '%00', '~', '%252e%252e', '%c0%ae', '..%2f', '...');
  const rawTarget = fc.oneof(
    fc.array(piece, { maxLength: 10 }).map((parts) => `/${parts.join('/')}`),
    fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((s) => `/${s}`),
  );
  const root = fc.oneof(
    fc.constantFrom('/', '/srv/www', '/srv/www/', '/a/b/../c', 'relative/dir', '.'),
    fc.array(fc.stringMatching(/^[^/\0]{1,8}$/), { maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
  );
  fc.assert(
    fc.property(rawTarget, root, (raw, r) => {
      const parsed = parseRequestTarget(raw);
      if (isHttpError(parsed)) return;
      const result = physicalPathFor(r, parsed.segments);
      assert.ok(inside(r, result), `${raw} under ${r} gave ${result}`);
      assert.equal(path.relative(path.resolve(r), result).split(path.sep).includes('..'), false);
    }),
    { numRuns: 5000 },
  );
});
