/**
 * Digest on a real `persona serve`: challenges on the wire (one header line per algorithm), a keep-alive client
 * reusing its nonce with growing nc, a replay refused, the nonce key in the state folder (its mode, and nonces still
 * valid after a restart), stale=true after the nonce lifetime, and 120 fuzzed Authorization headers answered with
 * 400/401 only while the server stays up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import fc from 'fast-check';
import { freePort, personaCli, siteConfig, startPersona, tempDir, type RunningPersona } from '../helpers/persona.js';
import { challengeLinesOf, digestAuthorization, digestChallenges, type DigestChallengeLine } from '../helpers/digest-client.js';

const PASSWORD = 'Digest-Wire-1';

interface RawReply {
  readonly status: number;
  readonly lines: string[];
  readonly text: string;
  readonly socket: unknown;
}

function request(port: number, pathName: string, headers: Record<string, string>, agent?: http.Agent): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathName, headers, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, lines: challengeLinesOf(res.rawHeaders), text: Buffer.concat(chunks).toString('utf8'), socket: res.socket }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function auditEvents(home: string): Promise<Record<string, unknown>[]> {
  return (await readFile(path.join(home, 'logs', 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('Digest on a real server', () => {
  let server: RunningPersona;
  let home: string;
  let port: number;
  let config: string;

  before(async () => {
    home = await tempDir('digest');
    const root = path.join(home, 'www');
    await mkdir(path.join(root, 'short'), { recursive: true });
    await writeFile(path.join(root, 'index.html'), 'digest page');
    await writeFile(path.join(root, 'short', 'index.html'), 'short page');
    port = await freePort();
    config = siteConfig(
      port,
      root,
      `    settings:
      authentication:
        anonymous: { enabled: false }
        digest: { enabled: true, algorithms: [MD5, SHA-256, SHA-512-256] }
    locations:
      - path: /short
        settings: { authentication: { digest: { nonceLifetime: 1 } } }
`,
    );
    server = await startPersona(config, { home });
    personaCli(home, ['user', 'add', 'carol', '--digest'], `${PASSWORD}\n`);
  });
  after(async () => server?.stop());

  async function challenge(pathName = '/'): Promise<DigestChallengeLine[]> {
    const reply = await request(port, pathName, {});
    assert.equal(reply.status, 401);
    return digestChallenges(reply.lines);
  }

  test('one WWW-Authenticate line per algorithm, strongest first, sharing a nonce', async () => {
    const reply = await request(port, '/', {});
    assert.equal(reply.status, 401);
    assert.equal(reply.lines.length, 3);
    const lines = digestChallenges(reply.lines);
    assert.deepEqual(lines.map((l) => l.algorithm), ['SHA-512-256', 'SHA-256', 'MD5']);
    assert.equal(new Set(lines.map((l) => l.nonce)).size, 1);
  });

  test('keep-alive: one nonce, nc 1..5 on one connection, each request verified; a replay is 401 and audited', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const [line] = await challenge();
      const sockets = new Set<unknown>();
      for (let nc = 1; nc <= 5; nc++) {
        const reply = await request(port, '/', { authorization: digestAuthorization(line!, { user: 'carol', password: PASSWORD, method: 'GET', uri: '/', nc }) }, agent);
        assert.equal(reply.status, 200, reply.text);
        assert.equal(reply.text, 'digest page');
        sockets.add(reply.socket);
      }
      assert.equal(sockets.size, 1);
      const events = (await auditEvents(home)).filter((e) => e.package === 'Digest');
      assert.equal(events.filter((e) => e.eventId === 4624).length, 1, 'one logon; the later requests are token-cache hits');
      assert.equal(events.at(-1)!.detail, 'SHA-512-256, qop=auth');
      const replay = await request(port, '/', { authorization: digestAuthorization(line!, { user: 'carol', password: PASSWORD, method: 'GET', uri: '/', nc: 3 }) }, agent);
      assert.equal(replay.status, 401);
      assert.equal(digestChallenges(replay.lines).length, 3);
      assert.match(String((await auditEvents(home)).at(-1)!.reason), /^replay/);
    } finally {
      agent.destroy();
    }
  });

  test('stale: after the nonce lifetime the 401 says stale=true, and the new nonce works', async () => {
    const [line] = await challenge('/short/');
    await new Promise((r) => setTimeout(r, 1_300));
    const stale = await request(port, '/short/', { authorization: digestAuthorization(line!, { user: 'carol', password: PASSWORD, method: 'GET', uri: '/short/' }) });
    assert.equal(stale.status, 401);
    const fresh = digestChallenges(stale.lines);
    assert.ok(fresh.length === 3 && fresh.every((l) => l.stale));
    const ok = await request(port, '/short/', { authorization: digestAuthorization(fresh[0]!, { user: 'carol', password: PASSWORD, method: 'GET', uri: '/short/' }) });
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'short page');
  });

  test('the nonce key lives in the state folder (owner-only, or group persona under the launcher) and survives a restart', async () => {
    const key = path.join(home, 'digest.key');
    const info = await stat(key);
    assert.equal(info.size, 32);
    assert.equal(info.mode & 0o777, process.getuid?.() === 0 ? 0o640 : 0o600);
    const before = await readFile(key);
    const [line] = await challenge();
    await server.stop();
    server = await startPersona(config, { home });
    assert.deepEqual(await readFile(key), before, 'the key is kept');
    const reply = await request(port, '/', { authorization: digestAuthorization(line!, { user: 'carol', password: PASSWORD, method: 'GET', uri: '/' }) });
    assert.equal(reply.status, 200, 'a nonce from before the restart is still valid');
  });

  test('fuzz: 120 arbitrary and mutated Digest headers → 400 or 401 only, and the server keeps serving', async () => {
    const [line] = await challenge();
    const valid = digestAuthorization(line!, { user: 'carol', password: PASSWORD, method: 'GET', uri: '/', nc: 1 });
    // Used once first: a mutation that leaves it meaning the same (say, other whitespace) is then a replay.
    assert.equal((await request(port, '/', { authorization: valid })).status, 200);
    const header = fc.oneof(
      fc.string({ maxLength: 200 }).map((s) => `Digest ${s}`),
      fc.tuple(fc.nat(valid.length - 1), fc.string({ minLength: 1, maxLength: 3 })).map(([at, s]) => valid.slice(0, at) + s + valid.slice(at + 1)),
      fc.constantFrom('Digest', 'Digest ', `${valid}, username="x"`, `Digest ${'a="b", '.repeat(70)}`, `Digest username=${'x'.repeat(9000)}`),
    );
    const samples = fc.sample(header, { numRuns: 120, seed: 7 });
    const statuses = new Map<number, number>();
    for (const raw of samples) {
      // Header values cannot hold CR, LF or NUL (Node refuses to send them): those characters are replaced.
      const value = raw.replace(/[\r\n\0]/g, ' ').replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
      const reply = await request(port, '/', { authorization: value });
      assert.ok([400, 401].includes(reply.status), `${reply.status} for ${JSON.stringify(value.slice(0, 200))}`);
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
    }
    assert.equal((await request(port, '/', { authorization: valid.replace('nc=00000001', 'nc=00000002').replace(/response="[^"]*"/, 'response="0"') })).status, 401);
    const ok = await request(port, '/', { authorization: digestAuthorization(line!, { user: 'carol', password: PASSWORD, method: 'GET', uri: '/', nc: 2 }) });
    assert.equal(ok.status, 200, 'still serving');
    assert.ok((statuses.get(400) ?? 0) > 0 && (statuses.get(401) ?? 0) > 0, JSON.stringify([...statuses]));
  });
});
