import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readlink, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_SETTINGS, type Settings } from '../../../src/config/schema.js';
import { isHttpError, type HttpError } from '../../../src/pipeline/errors.js';
import { FileCache } from '../../../src/handlers/static/file-cache.js';
import { formatHttpDate } from '../../../src/handlers/static/http-date.js';
import { mapStatic, type StaticTarget } from '../../../src/handlers/static/map.js';
import { serveFile } from '../../../src/handlers/static/serve.js';
import { serveListing } from '../../../src/handlers/static/listing.js';

/**
 * A real server wired the way the pipeline wires the handler: map, then serve; refusals are rendered with
 * their status, headers and an X-Substatus so the tests can see them.
 */
interface Harness {
  readonly base: string;
  readonly root: string;
  readonly origin: string;
  settings: Settings;
  cache: FileCache;
  /** Settles when the handler of the most recent request has settled. */
  lastHandled: Promise<HttpError | null>;
  close(): Promise<void>;
}

async function startHarness(): Promise<Harness> {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'persona-serve-')));
  const root = join(base, 'www');
  await mkdir(root);
  let server: Server;
  const h: Harness = {
    base,
    root,
    origin: '',
    settings: structuredClone(BUILTIN_SETTINGS),
    cache: new FileCache({ ttlMilliseconds: 60_000, maxFileBytes: 4096, maxEntries: 1000 }),
    lastHandled: Promise.resolve(null),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(base, { recursive: true, force: true });
    },
  };
  server = createServer((req, res) => {
    h.lastHandled = handle(h, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (h as { origin: string }).origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return h;
}

async function handle(h: Harness, req: IncomingMessage, res: ServerResponse): Promise<HttpError | null> {
  const url = new URL(req.url ?? '/', 'http://x');
  const urlPath = decodeURIComponent(url.pathname);
  const settings = h.settings;
  const target: StaticTarget = {
    physicalPath: join(h.root, ...urlPath.split('/').filter(Boolean)),
    containmentRoot: h.root,
    urlPath,
    trailingSlash: urlPath.endsWith('/'),
    rawPath: url.pathname,
    rawQuery: url.search.slice(1),
    settings,
  };
  const mapping = await mapStatic(target, h.cache);
  let error: HttpError | null;
  if (isHttpError(mapping)) error = mapping;
  else if (mapping.kind === 'redirect') {
    res.writeHead(301, { Location: mapping.location, 'Content-Length': 0 });
    res.end();
    error = null;
  } else if (mapping.kind === 'file') {
    // Stands for a client that disconnects between mapping and serving.
    if (req.headers['x-test-gone'] !== undefined) res.destroy();
    error = await serveFile(req, res, mapping, settings);
  }
  else error = await serveListing(req, res, mapping, target, h.cache);
  if (error) {
    res.writeHead(error.status, { ...error.headers, 'X-Substatus': String(error.substatus) });
    res.end(error.reason);
  }
  return error;
}

let h: Harness;
const small = randomBytes(1000);
const large = randomBytes(300_000);

before(async () => {
  h = await startHarness();
  await writeFile(join(h.root, 'small.bin'), small);
  await writeFile(join(h.root, 'large.bin'), large);
  await writeFile(join(h.root, 'empty.txt'), '');
  await writeFile(join(h.root, 'page.html'), '<p>hi</p>');
});
after(() => h.close());

function resetSettings(change: (s: Settings) => void = () => undefined): void {
  const s = structuredClone(BUILTIN_SETTINGS);
  change(s);
  h.settings = s;
}

async function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const response = await fetch(h.origin + path, { method, headers, redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

for (const [name, content] of [
  ['small.bin', small],
  ['large.bin', large],
] as const) {
  const kind = name === 'small.bin' ? 'from memory' : 'streamed';

  test(`GET ${kind}: 200 with the body, validators and safety headers`, async () => {
    resetSettings();
    const r = await get(`/${name}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(content));
    assert.equal(r.headers.get('content-length'), String(content.length));
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.match(r.headers.get('etag') ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(r.headers.get('last-modified')?.endsWith(' GMT'));
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('cache-control'), null);
  });

  test(`HEAD ${kind}: the GET headers without a body, Range ignored`, async () => {
    resetSettings();
    const g = await get(`/${name}`);
    const head = await get(`/${name}`, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const field of ['content-length', 'content-type', 'etag', 'last-modified', 'accept-ranges', 'x-content-type-options']) {
      assert.equal(head.headers.get(field), g.headers.get(field), field);
    }
    const ranged = await get(`/${name}`, { Range: 'bytes=0-9' }, 'HEAD');
    assert.equal(ranged.status, 200);
    assert.equal(ranged.headers.get('content-length'), String(content.length));
  });

  test(`conditional GET ${kind}: If-None-Match and If-Modified-Since`, async () => {
    resetSettings();
    const { headers } = await get(`/${name}`);
    const etag = headers.get('etag')!;
    const lastModified = headers.get('last-modified')!;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const r = await get(`/${name}`, { 'If-None-Match': inm });
      assert.equal(r.status, 304, inm);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers.get('etag'), etag);
    }
    assert.equal((await get(`/${name}`, { 'If-None-Match': '"nope"' })).status, 200);
    assert.equal((await get(`/${name}`, { 'If-Modified-Since': lastModified })).status, 304);
    assert.equal((await get(`/${name}`, { 'If-Modified-Since': formatHttpDate(Date.parse(lastModified) - 1000) })).status, 200);
    const future = formatHttpDate(Date.now() + 86_400_000);
    assert.equal((await get(`/${name}`, { 'If-None-Match': '"nope"', 'If-Modified-Since': future })).status, 200, 'If-None-Match takes precedence');
    assert.equal((await get(`/${name}`, { 'If-Modified-Since': 'garbage' })).status, 200);
    assert.equal((await get(`/${name}`, { 'If-None-Match': etag }, 'HEAD')).status, 304);
  });

  test(`preconditions ${kind}: If-Match and If-Unmodified-Since → 412`, async () => {
    resetSettings();
    const { headers } = await get(`/${name}`);
    const etag = headers.get('etag')!;
    const lastModified = headers.get('last-modified')!;
    assert.equal((await get(`/${name}`, { 'If-Match': etag })).status, 200);
    assert.equal((await get(`/${name}`, { 'If-Match': '*' })).status, 200);
    const failed = await get(`/${name}`, { 'If-Match': '"nope"' });
    assert.equal(failed.status, 412);
    assert.equal((await get(`/${name}`, { 'If-Match': `W/${etag}` })).status, 412, 'If-Match uses the strong comparison');
    assert.equal((await get(`/${name}`, { 'If-Unmodified-Since': lastModified })).status, 200);
    assert.equal((await get(`/${name}`, { 'If-Unmodified-Since': formatHttpDate(Date.parse(lastModified) - 1000) })).status, 412);
    assert.equal((await get(`/${name}`, { 'If-Match': '"nope"', 'If-None-Match': etag })).status, 412, 'If-Match is evaluated first');
  });

  test(`ranges ${kind}: single, suffix, open, clamped`, async () => {
    resetSettings();
    const size = content.length;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=10-10', 10, 10],
      [`bytes=${size - 100}-`, size - 100, size - 1],
      ['bytes=-100', size - 100, size - 1],
      [`bytes=${size - 5}-${size + 1000}`, size - 5, size - 1],
      ['bytes=-99999999', 0, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const r = await get(`/${name}`, { Range: range });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${size}`);
      assert.equal(r.headers.get('content-length'), String(end - start + 1));
      assert.equal(r.headers.get('content-type'), 'application/octet-stream');
      assert.ok(r.headers.get('etag'));
      assert.ok(r.body.equals(content.subarray(start, end + 1)), range);
    }
  });

  test(`ranges ${kind}: unsatisfiable → 416 with Content-Range, malformed → 200`, async () => {
    resetSettings();
    const size = content.length;
    for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, 'bytes=-0']) {
      const r = await get(`/${name}`, { Range: range });
      assert.equal(r.status, 416, range);
      assert.equal(r.headers.get('content-range'), `bytes */${size}`);
    }
    for (const range of ['bytes=5-1', 'bytes=abc', 'lines=0-1', 'bytes=0-1;2', `bytes=0-10,5-20`]) {
      const r = await get(`/${name}`, { Range: range });
      assert.equal(r.status, 200, range);
      assert.ok(r.body.equals(content));
    }
  });

  test(`ranges ${kind}: several ranges as multipart/byteranges, byte-exact`, async () => {
    resetSettings();
    const size = content.length;
    const requested: [number, number][] = [
      [500, 599],
      [0, 9],
      [size - 50, size - 1],
    ];
    const r = await get(`/${name}`, { Range: `bytes=500-599, 0-9,-50` });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), null);
    const type = r.headers.get('content-type') ?? '';
    const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)?.[1];
    assert.ok(boundary, type);
    assert.equal(r.headers.get('content-length'), String(r.body.length));
    const parts = parseMultipart(r.body, boundary);
    assert.equal(parts.length, requested.length);
    parts.forEach((part, i) => {
      const [start, end] = requested[i]!;
      assert.equal(part.headers['content-type'], 'application/octet-stream');
      assert.equal(part.headers['content-range'], `bytes ${start}-${end}/${size}`);
      assert.ok(part.body.equals(content.subarray(start, end + 1)), `part ${i}`);
    });
  });

  test(`If-Range ${kind}: ETag or exact date honours the Range, anything else sends it whole`, async () => {
    resetSettings();
    const path = join(h.root, name);
    // A Last-Modified an hour old is strong (RFC 9110 §8.8.2.2), so a date validator may be used.
    const old = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    await utimes(path, old, old);
    h.cache.clear();
    const { headers } = await get(`/${name}`);
    const etag = headers.get('etag')!;
    const lastModified = headers.get('last-modified')!;
    assert.equal(lastModified, old.toUTCString());
    assert.equal((await get(`/${name}`, { Range: 'bytes=0-9', 'If-Range': etag })).status, 206);
    assert.equal((await get(`/${name}`, { Range: 'bytes=0-9', 'If-Range': lastModified })).status, 206);
    for (const ifRange of ['"stale"', `W/${etag}`, formatHttpDate(old.getTime() - 1000), 'garbage']) {
      const r = await get(`/${name}`, { Range: 'bytes=0-9', 'If-Range': ifRange });
      assert.equal(r.status, 200, ifRange);
      assert.ok(r.body.equals(content));
    }
  });
}

test('settings: Cache-Control max-age, ETag disabled (304 then carries Last-Modified)', async () => {
  resetSettings((s) => {
    s.staticContent.clientCacheMaxAge = 3600;
    s.staticContent.enableETag = false;
  });
  const r = await get('/small.bin');
  assert.equal(r.headers.get('cache-control'), 'max-age=3600');
  assert.equal(r.headers.get('etag'), null);
  const lastModified = r.headers.get('last-modified')!;
  const notModified = await get('/small.bin', { 'If-Modified-Since': lastModified });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.get('last-modified'), lastModified);
  assert.equal(notModified.headers.get('cache-control'), 'max-age=3600');
  assert.equal((await get('/small.bin', { 'If-None-Match': '"anything"' })).status, 200, 'no ETag: no tag matches');
  assert.equal((await get('/small.bin', { 'If-Match': '"anything"' })).status, 412);
  resetSettings();
});

test('text files carry their charset; an empty file is served', async () => {
  resetSettings();
  const page = await get('/page.html');
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(page.body.toString(), '<p>hi</p>');
  const empty = await get('/empty.txt');
  assert.equal(empty.status, 200);
  assert.equal(empty.headers.get('content-length'), '0');
  assert.equal((await get('/empty.txt', { Range: 'bytes=0-' })).status, 416);
  assert.equal((await get('/empty.txt', { Range: 'bytes=-10' })).status, 200);
});

test('methods other than GET and HEAD: 405 with Allow', async () => {
  resetSettings();
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const r = await get('/small.bin', {}, method);
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
  }
});

test('a large file rewritten after it was cached is described by what is sent', async () => {
  resetSettings();
  const path = join(h.root, 'grows.bin');
  await writeFile(path, randomBytes(5000));
  assert.equal((await get('/grows.bin')).body.length, 5000);
  const bigger = randomBytes(7000);
  await writeFile(path, bigger);
  const r = await get('/grows.bin');
  assert.equal(r.headers.get('content-length'), '7000');
  assert.ok(r.body.equals(bigger));
});

test('over HTTP: symlinks inside the root served, leaving it refused, fifos refused, 404.3, redirects, default documents', async () => {
  resetSettings();
  await mkdir(join(h.base, 'outside'), { recursive: true });
  await writeFile(join(h.base, 'outside', 'secret.txt'), 'secret');
  await symlink(join(h.root, 'page.html'), join(h.root, 'alias.html'));
  await symlink(join(h.base, 'outside', 'secret.txt'), join(h.root, 'leak.txt'));
  execFileSync('mkfifo', [join(h.root, 'pipe.txt')]);
  await writeFile(join(h.root, 'data.xyz'), 'x');
  await mkdir(join(h.root, 'folder'));
  await writeFile(join(h.root, 'folder', 'default.htm'), 'default');
  await writeFile(join(h.root, 'folder', 'index.html'), 'index');

  const alias = await get('/alias.html');
  assert.equal(alias.status, 200);
  assert.equal(alias.body.toString(), '<p>hi</p>');
  const leak = await get('/leak.txt');
  assert.equal(leak.status, 404);
  assert.notEqual(leak.body.toString(), 'secret');
  assert.match(leak.body.toString(), /symbolic link '.*leak\.txt'/);
  assert.equal((await get('/pipe.txt')).status, 404);
  const unmapped = await get('/data.xyz');
  assert.equal(unmapped.status, 404);
  assert.equal(unmapped.headers.get('x-substatus'), '3');

  const redirect = await get('/folder?x=1&y=%2F');
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get('location'), '/folder/?x=1&y=%2F');
  assert.equal((await get('/folder/')).body.toString(), 'index');
  resetSettings((s) => (s.defaultDocument.files = ['default.htm', 'index.html']));
  assert.equal((await get('/folder/')).body.toString(), 'default');
  resetSettings();
});

test('a client that aborts mid-stream leaves no file descriptor open', async () => {
  resetSettings();
  const path = join(h.root, 'huge.bin');
  await writeFile(path, Buffer.alloc(32 * 1024 * 1024, 1));
  const openOnFile = async (): Promise<number> => {
    let count = 0;
    for (const fd of await readdir('/proc/self/fd')) {
      const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
      if (target === path) count++;
    }
    return count;
  };
  for (const range of [undefined, 'bytes=0-20000000', 'bytes=0-10,20000000-30000000']) {
    await new Promise<void>((resolve, reject) => {
      const req = request(`${h.origin}/huge.bin`, { headers: range ? { Range: range } : {}, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
      req.end();
    });
    assert.equal(await h.lastHandled, null, 'an aborted transfer is not an error to render');
    assert.equal(await openOnFile(), 0, `no descriptor left on the file (${range ?? 'whole'})`);
  }
  for (const range of [undefined, 'bytes=0-10', 'bytes=0-10,20-30']) {
    const gone = request(`${h.origin}/huge.bin`, { headers: { 'X-Test-Gone': '1', ...(range ? { Range: range } : {}) }, agent: false });
    gone.on('error', () => undefined);
    gone.end();
    await new Promise((resolve) => gone.on('close', resolve));
    assert.equal(await h.lastHandled, null, 'serving to a response already closed settles');
    assert.equal(await openOnFile(), 0, `no descriptor left when the client was gone first (${range ?? 'whole'})`);
  }
  // And the server is still serving.
  assert.equal((await get('/small.bin')).status, 200);
});

interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** A strict multipart/byteranges reader: every delimiter must be where RFC 2046 puts it. */
function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  assert.ok(body.subarray(0, delimiter.length).equals(delimiter), 'the body starts with the first delimiter');
  let at = delimiter.length;
  for (;;) {
    if (body.subarray(at, at + 4).toString() === '--\r\n') {
      assert.equal(at + 4, body.length, 'nothing after the close delimiter');
      return parts;
    }
    assert.equal(body.subarray(at, at + 2).toString(), '\r\n');
    at += 2;
    const headerEnd = body.indexOf('\r\n\r\n', at);
    assert.ok(headerEnd > 0);
    const headers: Record<string, string> = {};
    for (const line of body.subarray(at, headerEnd).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const dataStart = headerEnd + 4;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), dataStart);
    assert.ok(next > 0, 'each part is followed by a delimiter');
    parts.push({ headers, body: body.subarray(dataStart, next) });
    at = next + 2 + delimiter.length;
  }
}
