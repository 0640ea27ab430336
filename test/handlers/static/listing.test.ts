import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer, request, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_SETTINGS, type Settings } from '../../../src/config/schema.js';
import { isHttpError } from '../../../src/pipeline/errors.js';
import { FileCache } from '../../../src/handlers/static/file-cache.js';
import { MAX_LISTED, renderListing, serveListing } from '../../../src/handlers/static/listing.js';
import { mapStatic, type StaticTarget } from '../../../src/handlers/static/map.js';

let base: string;
let root: string;
let server: Server;
let origin: string;
let settings: Settings;

before(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'persona-listing-')));
  root = join(base, 'www');
  const outside = join(base, 'outside');
  await mkdir(join(root, 'files', 'Sub Dir'), { recursive: true });
  await mkdir(join(root, 'files', '.git'));
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'secret');
  const files = join(root, 'files');
  await writeFile(join(files, 'b.txt'), '12345');
  await writeFile(join(files, 'A.txt'), 'a');
  await writeFile(join(files, 'c.txt'), '');
  await writeFile(join(files, '<b>&"q\'.txt'), 'x');
  await writeFile(join(files, 'ünï cödé.txt'), 'u');
  await writeFile(join(files, 'WEB.CONFIG'), 'hidden');
  await symlink(join(files, 'b.txt'), join(files, 'inside-link.txt'));
  await symlink(join(outside, 'secret.txt'), join(files, 'outside-link.txt'));
  await symlink(outside, join(files, 'outside-dir'));
  await symlink(join(files, 'missing'), join(files, 'dangling.txt'));
  execFileSync('mkfifo', [join(files, 'fifo')]);
  const when = new Date(Date.UTC(2019, 2, 14, 21, 43, 5));
  await utimes(join(files, 'b.txt'), when, when);
  await mkdir(join(root, 'many'));
  for (let i = 0; i <= MAX_LISTED; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, MAX_LISTED + 1 - i) }, (_, k) => writeFile(join(root, 'many', `f${i + k}.txt`), '')));
  }

  const cache = new FileCache({ ttlMilliseconds: 1000, maxFileBytes: 1024, maxEntries: 100 });
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const urlPath = decodeURIComponent(url.pathname);
    const target: StaticTarget = {
      physicalPath: join(root, ...urlPath.split('/').filter(Boolean)),
      containmentRoot: root,
      urlPath,
      trailingSlash: urlPath.endsWith('/'),
      rawPath: url.pathname,
      rawQuery: url.search.slice(1),
      settings,
    };
    const mapping = await mapStatic(target, cache);
    const error = isHttpError(mapping) ? mapping : mapping.kind === 'listing' ? await serveListing(req, res, mapping, target, cache) : null;
    if (error) {
      res.writeHead(error.status, { ...error.headers } as OutgoingHttpHeaders);
      res.end(error.reason);
    } else if (!res.headersSent) {
      res.writeHead(500);
      res.end('not a listing');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(base, { recursive: true, force: true });
});

function withSettings(change: (s: Settings) => void = () => undefined): void {
  settings = structuredClone(BUILTIN_SETTINGS);
  change(settings);
}

async function list(path: string, method = 'GET'): Promise<{ status: number; headers: Headers; text: string }> {
  const r = await fetch(origin + path, { method });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

function links(html: string): string[] {
  return [...html.matchAll(/<A HREF="([^"]*)">([^<]*)<\/A>/g)].map((m) => `${m[1]} ${m[2]}`);
}

test('a listing like IIS: title, parent link, sorted names, sizes and <dir>', async () => {
  withSettings();
  const r = await list('/files/');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(r.text)));
  const host = new URL(origin).host;
  assert.ok(r.text.includes(`<title>${host} - /files/</title>`));
  assert.ok(r.text.includes(`<H1>${host} - /files/</H1>`));
  assert.deepEqual(links(r.text), [
    '/ [To Parent Directory]',
    '/files/%3Cb%3E%26%22q&#39;.txt &lt;b&gt;&amp;&quot;q&#39;.txt',
    '/files/A.txt A.txt',
    '/files/b.txt b.txt',
    '/files/c.txt c.txt',
    '/files/inside-link.txt inside-link.txt',
    '/files/Sub%20Dir/ Sub Dir',
    `/files/${encodeURIComponent('ünï cödé.txt')} ünï cödé.txt`,
  ]);
  assert.ok(r.text.includes(' 3/14/2019  9:43 PM            5 <A HREF="/files/b.txt">b.txt</A><br>'), 'IIS columns: date, time, size');
  assert.match(r.text, / {7}&lt;dir&gt; <A HREF="\/files\/Sub%20Dir\/">Sub Dir<\/A>/);
});

test('hidden segments, links leaving the root, dangling links and fifos are not listed', async () => {
  withSettings();
  const { text } = await list('/files/');
  for (const name of ['.git', 'WEB.CONFIG', 'outside-link.txt', 'outside-dir', 'dangling.txt', 'fifo', 'secret']) {
    assert.ok(!text.includes(name), name);
  }
  withSettings((s) => (s.requestFiltering.hiddenSegments = ['b.TXT']));
  const custom = await list('/files/');
  assert.ok(!custom.text.includes('>b.txt<'));
  assert.ok(custom.text.includes('>WEB.CONFIG<'), 'hidden segments come from the settings');
});

test('the site root has no parent link; a nested folder links to its parent', async () => {
  withSettings((s) => (s.defaultDocument.enabled = false));
  const top = await list('/');
  assert.ok(!top.text.includes('[To Parent Directory]'));
  assert.ok(links(top.text).includes('/files/ files'));
  const nested = await list('/files/Sub%20Dir/');
  assert.equal(links(nested.text)[0], '/files/ [To Parent Directory]');
});

test('HEAD: headers only; other methods: 405', async () => {
  withSettings();
  const get = await list('/files/');
  const head = await list('/files/', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  assert.equal(head.headers.get('content-length'), get.headers.get('content-length'));
  const post = await list('/files/', 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

test('the Host header is escaped in the page', async () => {
  withSettings();
  const port = new URL(origin).port;
  const text = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/files/', headers: { Host: '"><script>x</script>' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
  assert.ok(!text.includes('<script>'));
  assert.ok(text.includes('&quot;&gt;&lt;script&gt;x&lt;/script&gt; - /files/'));
});

test(`very large folders are cut at ${MAX_LISTED} entries and the page says so`, async () => {
  withSettings();
  const { text } = await list('/many/');
  assert.equal(links(text).length, MAX_LISTED + 1, 'entries plus the parent link');
  assert.ok(text.includes(`Only the first ${MAX_LISTED} entries`));
  assert.ok(!(await list('/files/')).text.includes('Only the first'));
});

test('renderListing escapes every name and path it prints', () => {
  const html = renderListing('h', '/a&b/<c>/', [{ name: '"x"', isDirectory: true, size: 0, mtimeMs: 0 }], false);
  assert.ok(html.includes('<title>h - /a&amp;b/&lt;c&gt;/</title>'));
  assert.ok(html.includes('<A HREF="/a%26b/">[To Parent Directory]</A>'));
  assert.ok(html.includes('<A HREF="/a%26b/%3Cc%3E/%22x%22/">&quot;x&quot;</A>'));
  assert.ok(html.includes(' 1/1/1970 12:00 AM'));
});
