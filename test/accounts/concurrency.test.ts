/**
 * The server and the CLI are separate processes writing one database: concurrent writers (and concurrent first opens
 * of a file that does not exist yet) must wait for each other, never fail with SQLITE_BUSY.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAccountStore } from '../../src/accounts/store.js';
import { CHEAP, MACHINE, tempDir } from './fixture.js';

const WRITER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'burst-writer.js');
const PROCESSES = 4;
const COUNT = 40;

function run(file: string, tag: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, file, tag, String(COUNT)], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('several processes creating and writing one new database at once never see SQLITE_BUSY', { timeout: 120_000 }, async () => {
  const dir = tempDir('concurrency');
  try {
    const file = path.join(dir, 'accounts.db');
    const children = Array.from({ length: PROCESSES }, (_, i) => run(file, `w${i}`));
    // Meanwhile this process writes too, as a CLI would while the server runs.
    await new Promise((r) => setTimeout(r, 50));
    const here = openAccountStore(file, MACHINE, CHEAP);
    try {
      for (let i = 0; i < COUNT; i++) {
        await here.createUser({ name: `cli-${i}`, password: 'x' });
        here.setDescriptor(`/srv/cli-${i}`, { dacl: null, protected: false });
      }
      const results = await Promise.all(children);
      for (const [i, r] of results.entries()) {
        assert.equal(r.stderr, '', `writer ${i} failed`);
        assert.equal(r.code, 0);
        assert.deepEqual(JSON.parse(r.stdout), { writes: COUNT * 7 });
      }
      const users = here.listUsers();
      assert.equal(users.length, (PROCESSES + 1) * COUNT);
      assert.equal(new Set(users.map((u) => u.rid)).size, users.length, 'RIDs are unique');
      assert.equal(here.listDescriptors().length, (PROCESSES + 1) * COUNT);
      assert.equal(here.listGroups().length, 4, 'seeded once');
      for (const u of users.filter((u) => u.name.startsWith('w')).slice(0, 10)) assert.equal(await here.verifyPassword(u, 'b'), true);
    } finally {
      here.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
