import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_SETTINGS, type Settings } from '../../../src/config/schema.js';
import { isHttpError, type HttpError } from '../../../src/pipeline/errors.js';
import { FileCache } from '../../../src/handlers/static/file-cache.js';
import { mapStatic, requiredAccess, type StaticMapping, type StaticTarget } from '../../../src/handlers/static/map.js';

function settings(change: (s: Settings) => void = () => undefined): Settings {
  const s = structuredClone(BUILTIN_SETTINGS);
  change(s);
  return s;
}

async function site(): Promise<{ base: string; root: string; done: () => Promise<void> }> {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'persona-map-')));
  const root = join(base, 'www');
  await mkdir(join(root, 'docs'), { recursive: true });
  await mkdir(join(root, 'both'));
  await mkdir(join(root, 'empty'));
  await mkdir(join(root, 'dirdoc', 'index.html'), { recursive: true });
  await mkdir(join(root, 'odd'));
  await writeFile(join(root, 'a.txt'), 'a');
  await writeFile(join(root, 'data.xyz'), 'x');
  await writeFile(join(root, 'README'), 'r');
  await writeFile(join(root, 'docs', 'index.html'), '<p>docs</p>');
  await writeFile(join(root, 'both', 'index.html'), 'index');
  await writeFile(join(root, 'both', 'default.htm'), 'default');
  await writeFile(join(root, 'dirdoc', 'default.htm'), 'default');
  await writeFile(join(root, 'odd', 'index.xyz'), 'odd');
  await writeFile(join(root, 'odd', 'web.config'), 'hidden');
  await writeFile(join(base, 'secret.html'), 'secret');
  await mkdir(join(root, 'leaky'));
  await symlink(join(base, 'secret.html'), join(root, 'leaky', 'index.html'));
  return { base, root, done: () => rm(base, { recursive: true, force: true }) };
}

function target(root: string, urlPath: string, s: Settings = settings(), rawQuery = '', rawPath = urlPath): StaticTarget {
  const trailingSlash = urlPath.endsWith('/');
  return { physicalPath: join(root, ...urlPath.split('/').filter(Boolean)), containmentRoot: root, urlPath, trailingSlash, rawPath, rawQuery, settings: s };
}

function mapping(result: StaticMapping | HttpError): StaticMapping {
  assert.ok(!isHttpError(result), `expected a mapping, got ${JSON.stringify(result)}`);
  return result;
}

function refusal(result: StaticMapping | HttpError): HttpError {
  assert.ok(isHttpError(result), `expected a refusal, got ${JSON.stringify(result)}`);
  return result;
}

test('a file maps to a file with its content type and needs read', async () => {
  const s = await site();
  try {
    const m = mapping(await mapStatic(target(s.root, '/a.txt'), new FileCache({ ttlMilliseconds: 0, maxFileBytes: 100, maxEntries: 10 })));
    assert.equal(m.kind, 'file');
    assert.equal(m.kind === 'file' && m.contentType, 'text/plain; charset=utf-8');
    assert.equal(requiredAccess(m), 'read');
  } finally {
    await s.done();
  }
});

test('not found: 404 with win32 2; a file requested as a folder: 404', async () => {
  const s = await site();
  try {
    const cache = new FileCache({ ttlMilliseconds: 1000, maxFileBytes: 100, maxEntries: 10 });
    const missing = refusal(await mapStatic(target(s.root, '/nope.html'), cache));
    assert.deepEqual([missing.status, missing.substatus, missing.win32Status], [404, 0, 2]);
    const slash = refusal(await mapStatic(target(s.root, '/a.txt/'), cache));
    assert.deepEqual([slash.status, slash.substatus], [404, 0]);
  } finally {
    await s.done();
  }
});

test('a folder without its slash redirects to the raw path + "/" and keeps the query', async () => {
  const s = await site();
  try {
    const cache = new FileCache({ ttlMilliseconds: 1000, maxFileBytes: 100, maxEntries: 10 });
    const withQuery = mapping(await mapStatic(target(s.root, '/docs', settings(), 'a=1&b=%20', '/d%6Fcs'), cache));
    assert.deepEqual(withQuery, { kind: 'redirect', location: '/d%6Fcs/?a=1&b=%20' });
    assert.equal(requiredAccess(withQuery), null);
    assert.deepEqual(mapping(await mapStatic(target(s.root, '/docs'), cache)), { kind: 'redirect', location: '/docs/' });
    const sneaky = mapping(await mapStatic(target(s.root, '/docs', settings(), '', '//docs'), cache));
    assert.deepEqual(sneaky, { kind: 'redirect', location: '/docs/' }, 'never a protocol-relative Location');
    const backslash = mapping(await mapStatic(target(s.root, '/docs', settings(), '', '/\\docs'), cache));
    assert.deepEqual(backslash, { kind: 'redirect', location: '/docs/' });
  } finally {
    await s.done();
  }
});

test('default documents are tried in the configured order; folders named like one are skipped', async () => {
  const s = await site();
  try {
    const cache = new FileCache({ ttlMilliseconds: 1000, maxFileBytes: 100, maxEntries: 100 });
    const first = mapping(await mapStatic(target(s.root, '/both/'), cache));
    assert.equal(first.kind === 'file' && first.file.realPath, join(s.root, 'both', 'index.html'));
    assert.equal(requiredAccess(first), 'read');
    const reordered = settings((x) => (x.defaultDocument.files = ['default.htm', 'index.html']));
    const second = mapping(await mapStatic(target(s.root, '/both/', reordered), cache));
    assert.equal(second.kind === 'file' && second.file.realPath, join(s.root, 'both', 'default.htm'));
    const dirdoc = mapping(await mapStatic(target(s.root, '/dirdoc/'), cache));
    assert.equal(dirdoc.kind === 'file' && dirdoc.file.realPath, join(s.root, 'dirdoc', 'default.htm'));
  } finally {
    await s.done();
  }
});

test('no default document, or default documents disabled: a listing that needs browse', async () => {
  const s = await site();
  try {
    const cache = new FileCache({ ttlMilliseconds: 1000, maxFileBytes: 100, maxEntries: 100 });
    const empty = mapping(await mapStatic(target(s.root, '/empty/'), cache));
    assert.equal(empty.kind, 'listing');
    assert.equal(empty.kind === 'listing' && empty.directory.realPath, join(s.root, 'empty'));
    assert.equal(requiredAccess(empty), 'browse');
    const disabled = settings((x) => (x.defaultDocument.enabled = false));
    assert.equal(mapping(await mapStatic(target(s.root, '/docs/', disabled), cache)).kind, 'listing');
    assert.equal(mapping(await mapStatic(target(s.root, '/'), cache)).kind, 'listing');
  } finally {
    await s.done();
  }
});

test('default document names that are paths or hidden segments are never tried', async () => {
  const s = await site();
  try {
    const cache = new FileCache({ ttlMilliseconds: 1000, maxFileBytes: 100, maxEntries: 100 });
    const tricky = settings((x) => {
      x.defaultDocument.files = ['web.config', 'WEB.CONFIG', '../a.txt', 'sub/x.html', '..', '.'];
      x.staticContent.mimeMap = { '.config': 'text/plain' };
    });
    assert.equal(mapping(await mapStatic(target(s.root, '/odd/', tricky), cache)).kind, 'listing');
  } finally {
    await s.done();
  }
});

test('unmapped extensions: 404.3 with a reason naming the extension and the fix', async () => {
  const s = await site();
  try {
    const cache = new FileCache({ ttlMilliseconds: 1000, maxFileBytes: 100, maxEntries: 100 });
    const xyz = refusal(await mapStatic(target(s.root, '/data.xyz'), cache));
    assert.deepEqual([xyz.status, xyz.substatus], [404, 3]);
    assert.match(xyz.reason, /'\.xyz'/);
    assert.match(xyz.reason, /staticContent\.mimeMap/);
    const bare = refusal(await mapStatic(target(s.root, '/README'), cache));
    assert.deepEqual([bare.status, bare.substatus], [404, 3]);
    assert.match(bare.reason, /without an extension/);
    const asDefault = settings((x) => (x.defaultDocument.files = ['index.xyz']));
    assert.equal(refusal(await mapStatic(target(s.root, '/odd/', asDefault), cache)).substatus, 3, 'a default document is subject to the MIME map too');

    const mapped = settings((x) => (x.staticContent.mimeMap = { '.XYZ': 'application/x-xyz', '.': 'text/plain' }));
    const ok = mapping(await mapStatic(target(s.root, '/data.xyz', mapped), cache));
    assert.equal(ok.kind === 'file' && ok.contentType, 'application/x-xyz');
    assert.equal(mapping(await mapStatic(target(s.root, '/README', mapped), cache)).kind, 'file');
  } finally {
    await s.done();
  }
});

test('a default document whose symlink leaves the root is refused, not skipped into a listing', async () => {
  const s = await site();
  try {
    const cache = new FileCache({ ttlMilliseconds: 1000, maxFileBytes: 100, maxEntries: 100 });
    const leak = refusal(await mapStatic(target(s.root, '/leaky/'), cache));
    assert.equal(leak.status, 404);
    assert.match(leak.reason, /symbolic link/);
  } finally {
    await s.done();
  }
});
