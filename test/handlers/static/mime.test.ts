import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentTypeFor, extensionOf } from '../../../src/handlers/static/mime.js';

test('built-in types, text types with charset, case-insensitive extensions', () => {
  const none = {};
  assert.equal(contentTypeFor('/srv/www/index.html', none), 'text/html; charset=utf-8');
  assert.equal(contentTypeFor('/srv/www/INDEX.HTM', none), 'text/html; charset=utf-8');
  assert.equal(contentTypeFor('app.mjs', none), 'text/javascript; charset=utf-8');
  assert.equal(contentTypeFor('a.json', none), 'application/json; charset=utf-8');
  assert.equal(contentTypeFor('photo.JPeG', none), 'image/jpeg');
  assert.equal(contentTypeFor('f.woff2', none), 'font/woff2');
  assert.equal(contentTypeFor('m.wasm', none), 'application/wasm');
  assert.equal(contentTypeFor('archive.tar.gz', none), 'application/gzip');
});

test('unmapped extensions and names without an extension have no type (the caller answers 404.3)', () => {
  const none = {};
  assert.equal(contentTypeFor('secret.key', none), undefined);
  assert.equal(contentTypeFor('backup.sql', none), undefined);
  assert.equal(contentTypeFor('Makefile', none), undefined);
  assert.equal(contentTypeFor('/srv/www.d/README', none), undefined, 'a dot in a folder name is not an extension');
  assert.equal(contentTypeFor('trailing.', none), undefined);
});

test('configured mimeMap adds, overrides (case-insensitively), removes, and "." maps extension-less names', () => {
  const map = { '.KEY': 'application/x-key', '.html': 'text/plain', '.png': '', '.': 'application/octet-stream' };
  assert.equal(contentTypeFor('a.key', map), 'application/x-key');
  assert.equal(contentTypeFor('a.html', map), 'text/plain');
  assert.equal(contentTypeFor('a.png', map), undefined);
  assert.equal(contentTypeFor('LICENSE', map), 'application/octet-stream');
  assert.equal(contentTypeFor('name.', map), 'application/octet-stream');
  assert.equal(contentTypeFor('a.css', map), 'text/css; charset=utf-8', 'other built-ins stay');
});

test('the merged table is cached per mimeMap object, so a new configuration object is seen', () => {
  const first = { '.x': 'a/b' };
  assert.equal(contentTypeFor('f.x', first), 'a/b');
  assert.equal(contentTypeFor('f.x', first), 'a/b');
  assert.equal(contentTypeFor('f.x', { '.x': 'c/d' }), 'c/d');
});

test('extensionOf follows Path.GetExtension', () => {
  assert.equal(extensionOf('a/b.c/file.TXT'), '.txt');
  assert.equal(extensionOf('.bashrc'), '.bashrc');
  assert.equal(extensionOf('a/b.c/file'), '.');
  assert.equal(extensionOf(''), '.');
});
