/**
 * Filter hooks: a real filter module subscribes to every event, denies requests at three stages, fails once, and
 * sees the log records — and it runs as the process identity.
 */
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, get, startPersona, tempDir, type RunningPersona } from '../helpers/persona.js';

describe('filters', () => {
  let server: RunningPersona;
  let port: number;
  let events: string;

  before(async () => {
    const dir = await tempDir('filters');
    await mkdir(path.join(dir, 'www'), { recursive: true });
    await writeFile(path.join(dir, 'www', 'index.html'), 'hello');
    await writeFile(path.join(dir, 'www', 'mapped.html'), 'mapped');
    events = path.join(dir, 'events.jsonl');
    await writeFile(
      path.join(dir, 'audit-filter.mjs'),
      `import { appendFileSync } from 'node:fs';
const out = ${JSON.stringify(events)};
export default function register(api) {
  const note = (e) => appendFileSync(out, JSON.stringify(e) + '\\n');
  api.on('beginRequest', (r) => {
    if (r.path === '/throw') throw new Error('boom');
    if (r.path?.startsWith('/blocked')) return { deny: { reason: 'blocked by the test filter' } };
  });
  api.on('authenticateRequest', (r) => (r.headers['x-deny'] ? { deny: { reason: 'x-deny header' } } : undefined));
  api.on('mapUrl', (r) => (r.physicalPath?.endsWith('mapped.html') ? { deny: { status: 403, reason: 'no mapped files' } } : undefined));
  api.on('log', (rec, r) => note({ event: 'log', stem: rec.uriStem, status: rec.status, substatus: rec.substatus, trace: r.traceId }));
  api.on('endRequest', (r) => note({ event: 'end', status: r.status, uid: api.identity.uid, kind: api.identity.kind }));
}
`,
    );
    port = await freePort();
    server = await startPersona(`
server:
  filters:
    - { name: audit, module: audit-filter.mjs }
sites:
  - name: F
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${path.join(dir, 'www')}
`, { home: dir, publicRoots: [path.join(dir, 'www')] });
  });
  after(async () => server?.stop());

  test('denials at beginRequest, authenticateRequest (401.4) and mapUrl; a throwing filter gives 500, not a crash', async () => {
    const blocked = await get(`http://127.0.0.1:${port}/blocked/x`);
    assert.equal(blocked.status, 404);
    assert.match(blocked.text, /denied by filter &quot;audit&quot; in beginRequest: blocked by the test filter/);
    const header = await get(`http://127.0.0.1:${port}/`, { headers: { 'x-deny': '1' } });
    assert.equal(header.status, 401);
    assert.match(header.text, /401\.4/);
    assert.equal((await get(`http://127.0.0.1:${port}/mapped.html`)).status, 403);
    const thrown = await get(`http://127.0.0.1:${port}/throw`);
    assert.equal(thrown.status, 500);
    assert.match(thrown.text, /filter &quot;audit&quot; failed in beginRequest: boom/);
    assert.equal((await get(`http://127.0.0.1:${port}/`)).text, 'hello');
  });

  test('log and endRequest events see every request, and the filter runs as the process identity', async () => {
    await get(`http://127.0.0.1:${port}/index.html`);
    await new Promise((r) => setTimeout(r, 200));
    const lines = (await readFile(events, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l.event === 'log' && l.stem === '/index.html' && l.status === 200));
    assert.ok(lines.some((l) => l.event === 'log' && l.status === 401 && l.substatus === 4));
    const end = lines.find((l) => l.event === 'end');
    assert.equal(end?.kind, 'process');
    // The process identity is the worker's: as root, `persona serve` is a launcher whose worker runs as the pool's
    // account (www-data); otherwise this very process.
    const workerUid = process.getuid!() === 0 ? Number(spawnSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).stdout.trim()) : process.getuid!();
    assert.equal(end?.uid, workerUid);
  });
});
