/** The Digest nonce key file: made once (32 bytes, owner-only), then read; racing creators agree; a bad file is an error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DIGEST_KEY_BYTES, digestKeyFile, ensureDigestKey } from '../../src/state/digest-key.js';

test('made at first use with mode 0600, then the same key on every later call; concurrent first calls agree', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'persona-digest-key-'));
  try {
    const file = digestKeyFile(dir);
    const results = await Promise.all([ensureDigestKey(file), ensureDigestKey(file), ensureDigestKey(file)]);
    assert.equal(results.filter((r) => r.created).length <= 1, true);
    for (const r of results) assert.deepEqual(r.key, results[0]!.key);
    assert.equal(results[0]!.key.length, DIGEST_KEY_BYTES);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const again = await ensureDigestKey(file);
    assert.equal(again.created, false);
    assert.deepEqual(again.key, results[0]!.key);
    assert.deepEqual(await readdir(dir), ['digest.key'], 'no temporary file left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a key file of another size is refused, not used', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'persona-digest-key-'));
  try {
    const file = digestKeyFile(dir);
    await writeFile(file, Buffer.alloc(16));
    await assert.rejects(ensureDigestKey(file), /not a Digest nonce key \(16 bytes, expected 32\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
