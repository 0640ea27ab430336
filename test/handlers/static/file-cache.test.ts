import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isHttpError, type HttpError } from '../../../src/pipeline/errors.js';
import { FileCache, isInside, type FileInfo, type LookupResult } from '../../../src/handlers/static/file-cache.js';

async function fixture(): Promise<{ base: string; root: string; outside: string; done: () => Promise<void> }> {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'persona-cache-')));
  const root = join(base, 'www');
  const outside = join(base, 'outside');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, 'small.txt'), 'hello');
  await writeFile(join(root, 'big.bin'), Buffer.alloc(5000, 7));
  await writeFile(join(outside, 'secret.txt'), 'secret');
  return { base, root, outside, done: () => rm(base, { recursive: true, force: true }) };
}

function info(result: LookupResult): FileInfo {
  assert.ok(result !== undefined && !isHttpError(result), `expected a FileInfo, got ${JSON.stringify(result)}`);
  return result;
}

function refusal(result: LookupResult): HttpError {
  assert.ok(isHttpError(result), `expected an HttpError, got ${JSON.stringify(result)}`);
  return result;
}

const options = { ttlMilliseconds: 60_000, maxFileBytes: 1024, maxEntries: 100 };

test('files, folders and missing paths', async () => {
  const f = await fixture();
  try {
    const cache = new FileCache(options);
    const small = info(await cache.lookup(join(f.root, 'small.txt'), f.root));
    assert.equal(small.isDirectory, false);
    assert.equal(small.size, 5);
    assert.equal(small.realPath, join(f.root, 'small.txt'));
    assert.equal(small.content?.toString(), 'hello');
    assert.match(small.etag, /^"[0-9a-f]+-5"$/);
    assert.match(small.lastModified, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);

    const big = info(await cache.lookup(join(f.root, 'big.bin'), f.root));
    assert.equal(big.size, 5000);
    assert.equal(big.content, undefined, 'files above maxFileBytes are not kept in memory');

    const dir = info(await cache.lookup(join(f.root, 'sub'), f.root));
    assert.equal(dir.isDirectory, true);
    assert.equal(dir.content, undefined);

    assert.equal(await cache.lookup(join(f.root, 'missing.txt'), f.root), undefined);
    assert.equal(await cache.lookup(join(f.root, 'small.txt', 'below'), f.root), undefined, 'a path below a file');
    assert.equal(await cache.lookup(join(f.root, 'nul\0byte'), f.root), undefined, 'a NUL byte is not a path, and does not throw');
    assert.equal(await cache.lookup(join(f.root, 'x'.repeat(5000)), f.root), undefined, 'a name too long');
    assert.equal(await cache.lookup(join(f.root, 'small.txt'), join(f.base, 'no-such-root')), undefined);
  } finally {
    await f.done();
  }
});

test('symlinks: inside the root served, leaving it refused with a reason naming the link, loops refused', async () => {
  const f = await fixture();
  try {
    await symlink(join(f.root, 'small.txt'), join(f.root, 'alias.txt'));
    await symlink('sub', join(f.root, 'subalias'));
    await writeFile(join(f.root, 'sub', 'deep.txt'), 'deep');
    await symlink(join(f.outside, 'secret.txt'), join(f.root, 'leak.txt'));
    await symlink(f.outside, join(f.root, 'leakdir'));
    await symlink(join(f.root, 'loop-b'), join(f.root, 'loop-a'));
    await symlink(join(f.root, 'loop-a'), join(f.root, 'loop-b'));
    const cache = new FileCache(options);

    const alias = info(await cache.lookup(join(f.root, 'alias.txt'), f.root));
    assert.equal(alias.realPath, join(f.root, 'small.txt'));
    assert.equal(alias.physicalPath, join(f.root, 'alias.txt'));
    assert.equal(alias.content?.toString(), 'hello');
    assert.equal(info(await cache.lookup(join(f.root, 'subalias', 'deep.txt'), f.root)).realPath, join(f.root, 'sub', 'deep.txt'));

    const leak = refusal(await cache.lookup(join(f.root, 'leak.txt'), f.root));
    assert.equal(leak.status, 404);
    assert.ok(leak.reason.includes(join(f.root, 'leak.txt')), leak.reason);
    const leakDir = refusal(await cache.lookup(join(f.root, 'leakdir', 'secret.txt'), f.root));
    assert.equal(leakDir.status, 404);
    assert.ok(leakDir.reason.includes(`'${join(f.root, 'leakdir')}'`), 'the reason names the link, not the file');
    assert.equal(refusal(await cache.lookup(join(f.root, 'loop-a'), f.root)).status, 404);
  } finally {
    await f.done();
  }
});

test('a content root that is itself a symlink is resolved once; containment uses its real path', async () => {
  const f = await fixture();
  try {
    const linkedRoot = join(f.base, 'linked-root');
    await symlink(f.root, linkedRoot);
    const cache = new FileCache(options);
    assert.equal(info(await cache.lookup(join(linkedRoot, 'small.txt'), linkedRoot)).realPath, join(f.root, 'small.txt'));
    assert.equal(await cache.realRoot(linkedRoot), f.root);
    assert.equal(refusal(await cache.lookup(join(f.root, 'small.txt'), f.outside)).status, 404, 'the same file checked against another root');
  } finally {
    await f.done();
  }
});

test('fifos and sockets are refused without being opened', async () => {
  const f = await fixture();
  const server = createServer();
  try {
    execFileSync('mkfifo', [join(f.root, 'pipe.txt')]);
    const socketPath = join(f.root, 'sock.txt');
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const cache = new FileCache(options);
    // Opening a fifo for reading with no writer would block forever: resolving at all proves it was not opened.
    const fifo = refusal(await cache.lookup(join(f.root, 'pipe.txt'), f.root));
    assert.equal(fifo.status, 404);
    assert.match(fifo.reason, /not a regular file/);
    assert.equal(refusal(await cache.lookup(socketPath, f.root)).status, 404);
    assert.equal(refusal(await cache.lookup('/dev/null', '/')).status, 404, 'a device');
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await f.done();
  }
});

test('ttl 0: every lookup sees the file as it is now', async () => {
  const f = await fixture();
  try {
    const cache = new FileCache({ ...options, ttlMilliseconds: 0 });
    const path = join(f.root, 'small.txt');
    const before = info(await cache.lookup(path, f.root));
    await writeFile(path, 'changed!');
    const after = info(await cache.lookup(path, f.root));
    assert.equal(after.content?.toString(), 'changed!');
    assert.notEqual(after.etag, before.etag);
    await rm(path);
    assert.equal(await cache.lookup(path, f.root), undefined);
  } finally {
    await f.done();
  }
});

test('a cached entry is trusted until its TTL, then the change (same size, new mtime) is seen', async () => {
  const f = await fixture();
  try {
    const ttl = 40;
    const cache = new FileCache({ ...options, ttlMilliseconds: ttl });
    const trusting = new FileCache(options);
    const path = join(f.root, 'small.txt');
    const before = info(await cache.lookup(path, f.root));
    await trusting.lookup(path, f.root);
    await writeFile(path, 'HELLO');
    await utimes(path, new Date(), new Date(before.mtimeMs + 5000));
    assert.equal(info(await trusting.lookup(path, f.root)).content?.toString(), 'hello', 'within the TTL the cached bytes are served');
    await sleep(ttl + 10);
    const after = info(await cache.lookup(path, f.root));
    assert.equal(after.content?.toString(), 'HELLO');
    assert.notEqual(after.etag, before.etag, 'same size, new mtime: new ETag');
    assert.ok(Math.abs(after.mtimeMs - (before.mtimeMs + 5000)) < 1);

    await writeFile(path, 'third');
    cache.clear();
    assert.equal(info(await cache.lookup(path, f.root)).content?.toString(), 'third', 'clear() forgets everything');
  } finally {
    await f.done();
  }
});

test('concurrent lookups of one path share one load, even with ttl 0', async () => {
  const f = await fixture();
  try {
    for (const ttlMilliseconds of [0, 60_000]) {
      const cache = new FileCache({ ...options, ttlMilliseconds });
      const path = join(f.root, 'small.txt');
      const a = cache.lookup(path, f.root);
      const b = cache.lookup(path, f.root);
      assert.equal(a, b);
      assert.equal(await a, await b);
      if (ttlMilliseconds === 0) assert.notEqual(cache.lookup(path, f.root), a, 'settled: not kept');
      else assert.equal(cache.lookup(path, f.root), a, 'settled: cached');
    }
  } finally {
    await f.done();
  }
});

test('the cache is bounded: the oldest entry is evicted first', async () => {
  const f = await fixture();
  try {
    const cache = new FileCache({ ...options, maxEntries: 2 });
    const a = join(f.root, 'small.txt');
    const b = join(f.root, 'big.bin');
    const c = join(f.root, 'sub');
    const first = cache.lookup(a, f.root);
    await first;
    const second = cache.lookup(b, f.root);
    await second;
    await cache.lookup(c, f.root);
    assert.equal(cache.lookup(b, f.root), second, 'b is still cached');
    const again = cache.lookup(a, f.root);
    assert.notEqual(again, first, 'a was evicted and is loaded again');
    assert.deepEqual(info(await again).content, info(await first).content);
  } finally {
    await f.done();
  }
});

test('isInside compares whole path segments', () => {
  assert.equal(isInside('/srv/www', '/srv/www'), true);
  assert.equal(isInside('/srv/www/a', '/srv/www'), true);
  assert.equal(isInside('/srv/www2/a', '/srv/www'), false);
  assert.equal(isInside('/srv', '/srv/www'), false);
  assert.equal(isInside('/anything', '/'), true);
});
