/** server.security.passwordHash picks the slow hash for passwords set from then on; both kinds verify at logon. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CLI } from '../helpers/persona.js';

test('argon2id when configured, scrypt otherwise', async () => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'persona-hash-'));
  await mkdir(path.join(home, 'www'));
  const config = (hash: string) => `server:\n  security: { passwordHash: ${hash} }\nsites:\n  - name: S\n    bindings: [{ protocol: http, ip: 127.0.0.1, port: 18999 }]\n    physicalPath: www\n`;
  const add = (name: string) => spawnSync(process.execPath, [CLI, '--home', home, 'user', 'add', name], { input: 'pw-123456\n', encoding: 'utf8' });
  await writeFile(path.join(home, 'persona.yaml'), config('argon2id'));
  assert.equal(add('argo').status, 0);
  await writeFile(path.join(home, 'persona.yaml'), config('scrypt'));
  assert.equal(add('scry').status, 0);
  const db = new Database(path.join(home, 'accounts.db'), { readonly: true });
  try {
    const values = db.prepare(`SELECT p.name AS name, v.value AS value FROM verifiers v JOIN principals p ON p.sid = v.sid`).all() as { name: string; value: string }[];
    assert.match(values.find((v) => v.name === 'argo')!.value, /^\$argon2id\$/);
    assert.match(values.find((v) => v.name === 'scry')!.value, /^\$scrypt\$/);
  } finally {
    db.close();
  }
});
