/**
 * NTLM over HTTP on a real server, with IIS's connection semantics: the handshake on one keep-alive connection, the
 * token kept for the connection's later requests, the CHALLENGE bound to its connection and consumed once, and every
 * refusal (wrong password, replay, other connection, tampered MIC, stale clock, NTLMv1, anonymous, Extended
 * Protection) a 401 with its reason in the audit log. The messages come from test/helpers/ntlm-client.ts, which can
 * send what real clients never do; test/interop runs the real clients.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { expectedChannelBindings } from '../../src/auth/ntlm/channel-bindings.js';
import { CLI, freePort, get, persona, startPersona, tempDir, type Reply, type RunningPersona, personaCli } from '../helpers/persona.js';
import { authenticateMessage, challengeFrom, negotiateMessage, ntlmHeader, type AuthenticateOptions } from '../helpers/ntlm-client.js';

const cli = personaCli;

type Requester = (pathName: string, headers?: Record<string, string>) => Promise<Reply>;

/** A client holding one keep-alive connection (maxSockets 1), and whether each reply came on that same socket. */
function connection(base: string, tls = false): { request: Requester; sockets: Set<unknown>; close(): void } {
  const agent = tls ? new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  const request: Requester = (pathName, headers = {}) =>
    new Promise((resolve, reject) => {
      const mod = tls ? https : http;
      const req = mod.request(`${base}${pathName}`, { agent, headers }, (res) => {
        sockets.add(res.socket);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
  return { request, sockets, close: () => agent.destroy() };
}

/** NEGOTIATE → CHALLENGE → AUTHENTICATE on `request`'s connection; returns the final reply and the messages. */
async function handshake(request: Requester, pathName: string, options: AuthenticateOptions): Promise<{ reply: Reply; authenticate: Buffer; challengeReply: Reply }> {
  const negotiate = negotiateMessage();
  const challengeReply = await request(pathName, { authorization: ntlmHeader(negotiate) });
  assert.equal(challengeReply.status, 401, 'the NEGOTIATE is answered with 401 and a CHALLENGE');
  const authenticate = authenticateMessage(negotiate, challengeFrom(challengeReply.headers['www-authenticate']), options);
  const reply = await request(pathName, { authorization: ntlmHeader(authenticate) });
  return { reply, authenticate, challengeReply };
}

async function auditEvents(home: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path.join(home, 'logs', 'audit.log'), 'utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('NTLM on a real server', () => {
  let server: RunningPersona;
  let home: string;
  let port: number;
  let tlsPort: number;
  let certDer: Buffer;
  const base = () => `http://127.0.0.1:${port}`;

  before(async () => {
    home = await tempDir('ntlm');
    const root = path.join(home, 'www');
    for (const dir of ['secure', 'single', 'epa', 'anon', 'v1']) {
      await mkdir(path.join(root, dir), { recursive: true });
      await writeFile(path.join(root, dir, 'index.html'), `${dir} page`);
    }
    cli(home, ['user', 'add', 'bob', '--ntlm'], 'Bob-Pass-1\n');
    cli(home, ['user', 'add', 'nontlm'], 'NoNtlm-Pass-1\n');
    cli(home, ['user', 'add', 'dora', '--ntlm'], 'Dora-Pass-1\n');
    cli(home, ['user', 'add', 'carl', '--ntlm'], 'Carl-Pass-1\n');
    const keyFile = path.join(home, 'tls.key');
    const certFile = path.join(home, 'tls.crt');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', keyFile, '-out', certFile], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    certDer = Buffer.from(new X509Certificate(await readFile(certFile)).raw);
    port = await freePort();
    tlsPort = await freePort();
    server = await startPersona(
      `
sites:
  - name: Ntlm
    bindings:
      - { protocol: http, ip: 127.0.0.1, port: ${port} }
      - { protocol: https, ip: 127.0.0.1, port: ${tlsPort} }
    tls: { certificate: ${JSON.stringify(certFile)}, key: ${JSON.stringify(keyFile)} }
    physicalPath: ${JSON.stringify(root)}
    settings:
      authentication:
        anonymous: { enabled: false }
        ntlm: { enabled: true }
        basic: { enabled: true, realm: Ntlm }
    locations:
      - path: /single
        settings: { authentication: { ntlm: { authPersistSingleRequest: true } } }
      - path: /epa
        settings: { authentication: { ntlm: { tokenChecking: Require } } }
      - path: /anon
        settings: { authentication: { ntlm: { allowAnonymous: true } } }
      - path: /v1
        settings: { authentication: { ntlm: { allowNtlmv1: true } } }
`,
      { home },
    );
  });
  after(async () => server?.stop());

  test('the first 401 offers NTLM before Basic (the configured order), and the handshake logs bob on', async () => {
    const first = await get(`${base()}/secure/`);
    assert.equal(first.status, 401);
    assert.match(String(first.headers['www-authenticate']), /^NTLM, Basic realm="Ntlm"/);
    const c = connection(base());
    try {
      const { reply, challengeReply } = await handshake(c.request, '/secure/', { user: 'bob', password: 'Bob-Pass-1' });
      assert.match(String(challengeReply.headers['www-authenticate']), /^NTLM [A-Za-z0-9+/]+=*$/, 'the challenge leg carries only the CHALLENGE');
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'secure page');
      // The connection stays authenticated: no header, still bob.
      const again = await c.request('/secure/');
      assert.equal(again.status, 200);
      assert.equal(c.sockets.size, 1, 'all legs and the follow-up ran on one connection');
    } finally {
      c.close();
    }
    // A new connection starts anonymous (and anonymous is off here).
    assert.equal((await get(`${base()}/secure/`)).status, 401);
  });

  test('user name case and domain spellings: BOB, .\\bob, and the machine name all log on', async () => {
    const machine = JSON.parse(await readFile(path.join(home, 'machine.json'), 'utf8')) as { machineName: string };
    for (const [user, domain] of [['BOB', ''], ['bob', '.'], ['bob', machine.machineName.toLowerCase()]] as const) {
      const c = connection(base());
      try {
        const { reply } = await handshake(c.request, '/secure/', { user, domain, password: 'Bob-Pass-1' });
        assert.equal(reply.status, 200, `${domain}\\${user}`);
      } finally {
        c.close();
      }
    }
    const c = connection(base());
    try {
      const { reply } = await handshake(c.request, '/secure/', { user: 'bob', domain: 'OTHERDOMAIN', password: 'Bob-Pass-1' });
      assert.equal(reply.status, 401, 'a domain that is not this machine is refused');
    } finally {
      c.close();
    }
  });

  test('wrong password: 401.1 with the challenges again, and a 4625 wrong-password event', async () => {
    const c = connection(base());
    try {
      const { reply } = await handshake(c.request, '/secure/', { user: 'bob', password: 'not-it' });
      assert.equal(reply.status, 401);
      assert.match(reply.text, /401\.1/);
      assert.match(String(reply.headers['www-authenticate']), /^NTLM, Basic/);
    } finally {
      c.close();
    }
    const last = (await auditEvents(home)).filter((e) => e.eventId === 4625).at(-1)!;
    assert.equal(last.account, 'bob');
    assert.equal(last.package, 'NTLM');
    assert.equal(last.subStatus, 'STATUS_WRONG_PASSWORD');
    assert.equal(last.logonType, 3);
  });

  test('an AUTHENTICATE on another connection, a replay, and one after the connection closed all fail with 401', async () => {
    const negotiate = negotiateMessage();
    const a = connection(base());
    const b = connection(base());
    try {
      const challengeReply = await a.request('/secure/', { authorization: ntlmHeader(negotiate) });
      const authenticate = authenticateMessage(negotiate, challengeFrom(challengeReply.headers['www-authenticate']), { user: 'bob', password: 'Bob-Pass-1' });
      const elsewhere = await b.request('/secure/', { authorization: ntlmHeader(authenticate) });
      assert.equal(elsewhere.status, 401, 'the CHALLENGE belongs to connection a');
      const reason = (await auditEvents(home)).at(-1)!;
      assert.match(String(reason.reason), /no pending CHALLENGE/);
      // On its own connection it works once…
      assert.equal((await a.request('/secure/', { authorization: ntlmHeader(authenticate) })).status, 200);
      // …and never twice: the CHALLENGE was consumed.
      assert.equal((await a.request('/secure/', { authorization: ntlmHeader(authenticate) })).status, 401);
    } finally {
      a.close();
      b.close();
    }
    // A closed connection's CHALLENGE is gone with it.
    const c = connection(base());
    const challengeReply = await c.request('/secure/', { authorization: ntlmHeader(negotiate) });
    const authenticate = authenticateMessage(negotiate, challengeFrom(challengeReply.headers['www-authenticate']), { user: 'bob', password: 'Bob-Pass-1' });
    c.close();
    const d = connection(base());
    try {
      assert.equal((await d.request('/secure/', { authorization: ntlmHeader(authenticate) })).status, 401);
    } finally {
      d.close();
    }
  });

  test('a tampered MIC, a client clock far off, an NTLMv1 response and an account without NTLM are refused, each with its reason', async () => {
    const cases: [AuthenticateOptions, RegExp, string][] = [
      [{ user: 'bob', password: 'Bob-Pass-1', mic: true, tamperMic: true }, /MIC does not match/, 'STATUS_INVALID_PARAMETER'],
      [{ user: 'bob', password: 'Bob-Pass-1', clientTime: Date.now() - 3_600_000 }, /timestamp is \d+ s behind/, 'STATUS_TIME_DIFFERENCE_AT_DC'],
      [{ user: 'bob', password: 'Bob-Pass-1', ntlmv1Shape: true }, /NTLMv1 response .* refused/, 'STATUS_NTLM_BLOCKED'],
      [{ user: 'nontlm', password: 'NoNtlm-Pass-1' }, /NTLM is not enabled for this account/, 'STATUS_NTLM_BLOCKED'],
    ];
    for (const [options, reason, status] of cases) {
      const c = connection(base());
      try {
        const { reply } = await handshake(c.request, '/secure/', options);
        assert.equal(reply.status, 401, String(reason));
      } finally {
        c.close();
      }
      const last = (await auditEvents(home)).at(-1)!;
      assert.equal(last.eventId, 4625);
      assert.match(String(last.reason), reason);
      assert.equal(last.status, status);
    }
    // A timestamp that is no clock reading at all (Authen::NTLM 1.09 sends 1601 plus minutes) is tolerated, as by
    // Windows: the single-use CHALLENGE already rules out replays.
    const p = connection(base());
    try {
      assert.equal((await handshake(p.request, '/secure/', { user: 'bob', password: 'Bob-Pass-1', clientTime: -11_644_473_600_000 + 600_000 })).reply.status, 200);
    } finally {
      p.close();
    }
    // A correct MIC passes.
    const c = connection(base());
    try {
      assert.equal((await handshake(c.request, '/secure/', { user: 'bob', password: 'Bob-Pass-1', mic: true })).reply.status, 200);
    } finally {
      c.close();
    }
  });

  test('refusals for tampering, clock or policy are not counted toward lockout; a wrong password is', async () => {
    const failedAttempts = (): number => {
      const r = spawnSync(process.execPath, [CLI, '--home', home, 'user', 'show', 'carl', '--json'], { encoding: 'utf8' });
      return (JSON.parse(r.stdout) as { failedAttempts: number }).failedAttempts;
    };
    for (const options of [{ mic: true, tamperMic: true }, { clientTime: Date.now() - 7_200_000 }, { ntlmv1Shape: true }, { password: 'wrong' }] as const) {
      const c = connection(base());
      try {
        assert.equal((await handshake(c.request, '/secure/', { user: 'carl', password: 'Carl-Pass-1', ...options })).reply.status, 401);
      } finally {
        c.close();
      }
    }
    assert.equal(failedAttempts(), 1);
  });

  test('authPersistSingleRequest: true re-authenticates every request', async () => {
    const c = connection(base());
    try {
      assert.equal((await handshake(c.request, '/single/', { user: 'bob', password: 'Bob-Pass-1' })).reply.status, 200);
      assert.equal((await c.request('/single/')).status, 401);
    } finally {
      c.close();
    }
  });

  test('anonymous NTLM: refused by default, ANONYMOUS LOGON where allowAnonymous (and not Authenticated Users)', async () => {
    const c = connection(base());
    try {
      assert.equal((await handshake(c.request, '/secure/', { user: '', password: '', anonymous: true })).reply.status, 401);
    } finally {
      c.close();
    }
    assert.match(String((await auditEvents(home)).at(-1)!.reason), /allowAnonymous is false/);
    persona(['--home', home, 'acl', 'grant', path.join(home, 'www', 'anon'), '*S-1-5-7:(OI)(CI)RX']);
    const d = connection(base());
    try {
      const { reply } = await handshake(d.request, '/anon/', { user: '', password: '', anonymous: true });
      assert.equal(reply.status, 200, reply.text);
      // /secure grants Users, which ANONYMOUS LOGON is not: 401.2 (an anonymous request denied), not 401.3.
      const secure = await d.request('/secure/');
      assert.equal(secure.status, 401);
    } finally {
      d.close();
    }
  });

  test('NTLMv1 where allowed: the response is verified (a zero response is a wrong password, counted)', async () => {
    const c = connection(base());
    try {
      assert.equal((await handshake(c.request, '/v1/', { user: 'dora', password: 'Dora-Pass-1', ntlmv1Shape: true })).reply.status, 401);
    } finally {
      c.close();
    }
    const last = (await auditEvents(home)).at(-1)!;
    assert.equal(last.subStatus, 'STATUS_WRONG_PASSWORD');
    assert.match(String(last.reason), /NTLMv1 response does not match/);
  });

  test('Extended Protection over HTTP (Require): the service name must be this server', async () => {
    const cases: [string | undefined, number][] = [
      [`HTTP/127.0.0.1`, 200],
      [undefined, 401],
      ['HTTP/evil.example', 401],
    ];
    for (const [targetName, status] of cases) {
      const c = connection(base());
      try {
        const { reply } = await handshake(c.request, '/epa/', { user: 'bob', password: 'Bob-Pass-1', ...(targetName !== undefined && { targetName }) });
        assert.equal(reply.status, status, String(targetName));
      } finally {
        c.close();
      }
      if (status === 401) assert.equal((await auditEvents(home)).at(-1)!.status, 'STATUS_BAD_BINDINGS');
    }
  });

  test('Extended Protection over HTTPS (Require): channel bindings must be this certificate', async () => {
    const expected = expectedChannelBindings(certDer);
    assert.ok(Buffer.isBuffer(expected));
    const wrongBindings = Buffer.from(expected);
    wrongBindings[0]! ^= 0xff;
    const cases: [Buffer | undefined, number][] = [
      [expected, 200],
      [undefined, 401],
      [Buffer.alloc(16), 401],
      [wrongBindings, 401],
    ];
    for (const [channelBindings, status] of cases) {
      const c = connection(`https://127.0.0.1:${tlsPort}`, true);
      try {
        const { reply } = await handshake(c.request, '/epa/', { user: 'bob', password: 'Bob-Pass-1', ...(channelBindings && { channelBindings }) });
        assert.equal(reply.status, status, channelBindings?.toString('hex') ?? 'absent');
      } finally {
        c.close();
      }
    }
    // Without Require (the default None), a client without bindings is accepted over HTTPS too.
    const c = connection(`https://127.0.0.1:${tlsPort}`, true);
    try {
      assert.equal((await handshake(c.request, '/secure/', { user: 'bob', password: 'Bob-Pass-1' })).reply.status, 200);
    } finally {
      c.close();
    }
  });

  test('a password change ends the logon of a connection that is still open', async () => {
    const c = connection(base());
    try {
      assert.equal((await handshake(c.request, '/secure/', { user: 'dora', password: 'Dora-Pass-1' })).reply.status, 200);
      assert.equal((await c.request('/secure/')).status, 200);
      cli(home, ['user', 'passwd', 'dora'], 'Dora-Pass-2\n');
      assert.equal((await c.request('/secure/')).status, 401);
      assert.equal((await handshake(c.request, '/secure/', { user: 'dora', password: 'Dora-Pass-2' })).reply.status, 200);
    } finally {
      c.close();
    }
  });

  test('malformed NTLM credentials get 400, never a crash', async () => {
    for (const token of ['!!!', Buffer.from('NTLMSSP\0\x02\0\0\0').toString('base64'), Buffer.from('hello world, not ntlm').toString('base64'), Buffer.alloc(70_000).toString('base64').slice(0, 15_000)]) {
      const reply = await get(`${base()}/secure/`, { headers: { authorization: `NTLM ${token}` } });
      assert.equal(reply.status, 400, token.slice(0, 40));
    }
    assert.equal((await get(`${base()}/secure/`)).status, 401, 'the server still answers');
  });

  test('property: arbitrary NTLM messages over HTTP get 400 or 401 and the server keeps answering', async () => {
    const { default: fc } = await import('fast-check');
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // A valid signature and type, then arbitrary bytes: the parser's offsets and lengths are what gets exercised.
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.uint8Array({ maxLength: 300 })).map(([type, rest]) => Buffer.concat([Buffer.from('NTLMSSP\0', 'latin1'), Buffer.from([type, 0, 0, 0]), rest])),
    );
    await fc.assert(
      fc.asyncProperty(message, async (bytes) => {
        const reply = await get(`${base()}/secure/`, { headers: { authorization: `NTLM ${Buffer.from(bytes).toString('base64')}` } });
        return reply.status === 400 || reply.status === 401;
      }),
      { numRuns: 120 },
    );
    assert.equal((await get(`${base()}/secure/`)).status, 401);
  });

  test('the W3C log shows the legs as IIS writes them: 401 2 5, 401 1 2148074254, then 200 with the user', async () => {
    const c = connection(base());
    try {
      await c.request('/secure/?w3c-legs');
      await handshake(c.request, '/secure/?w3c-legs', { user: 'bob', password: 'Bob-Pass-1' });
    } finally {
      c.close();
    }
    await new Promise((r) => setTimeout(r, 1500)); // the W3C log is written in batches, as IIS's
    const lines = (await server.w3cLog(1)).split('\n').filter((l) => l.includes('w3c-legs'));
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(lines[0]!, / - .* 401 2 5 /);
    assert.match(lines[1]!, / - .* 401 1 2148074254 /);
    assert.match(lines[2]!, /\\bob .* 200 0 0 /);
  });
});
