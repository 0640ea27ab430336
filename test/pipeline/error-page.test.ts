/** What a refusal shows: details only to loopback clients (DetailedLocalOnly), custom pages to the others. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { builtInPage, CustomErrorPages, type ErrorPageInput } from '../../src/pipeline/error-page.js';
import { httpError } from '../../src/pipeline/errors.js';
import { BUILTIN_SETTINGS } from '../../src/config/schema.js';

const input = (over: Partial<ErrorPageInput>): ErrorPageInput => ({
  error: httpError(404, 8, 'the path holds the segment ".git" <script>'),
  settings: BUILTIN_SETTINGS.httpErrors,
  loopback: true,
  stage: 'beginRequest',
  traceId: 't-1',
  method: 'GET',
  url: '/.git/config',
  physicalPath: '/srv/www/.git/config',
  ...over,
});

test('loopback clients see the reason (escaped); remote clients see only the code and a generic description', () => {
  const local = builtInPage(input({})).body.toString();
  assert.match(local, /HTTP Error 404\.8 - Not Found/);
  assert.match(local, /the path holds the segment &quot;\.git&quot; &lt;script&gt;/);
  assert.match(local, /\/srv\/www\/\.git\/config/);
  const remote = builtInPage(input({ loopback: false })).body.toString();
  assert.match(remote, /HTTP Error 404\.8 - Not Found/);
  assert.match(remote, /hiddenSegment/);
  assert.doesNotMatch(remote, /\.git|\/srv\/www|beginRequest|t-1/);
  const detailed = builtInPage(input({ loopback: false, settings: { errorMode: 'Detailed', pages: {} } })).body.toString();
  assert.match(detailed, /\.git/);
});

test('custom pages: by status.substatus, then status; for remote clients in DetailedLocalOnly, for all in Custom', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'persona-errpages-'));
  await writeFile(path.join(dir, '404.html'), 'custom 404');
  await writeFile(path.join(dir, '404.8.html'), 'custom 404.8');
  const missing: string[] = [];
  const pages = new CustomErrorPages((file) => missing.push(file));
  const settings = { errorMode: 'DetailedLocalOnly' as const, pages: { '404': path.join(dir, '404.html'), '404.8': path.join(dir, '404.8.html'), '403': path.join(dir, 'nope.html') } };
  assert.equal((await pages.render(input({ settings, loopback: false }))).body.toString(), 'custom 404.8');
  assert.equal((await pages.render(input({ settings, loopback: false, error: httpError(404, 0, 'x') }))).body.toString(), 'custom 404');
  assert.match((await pages.render(input({ settings, loopback: true }))).body.toString(), /Detailed error information/);
  assert.equal((await pages.render(input({ settings: { ...settings, errorMode: 'Custom' }, loopback: true }))).body.toString(), 'custom 404.8');
  const fallback = (await pages.render(input({ settings, loopback: false, error: httpError(403, 0, 'x') }))).body.toString();
  assert.match(fallback, /HTTP Error 403/);
  assert.deepEqual(missing, [path.join(dir, 'nope.html')]);
});
