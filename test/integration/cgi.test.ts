/**
 * CGI through the whole pipeline, as MODEL.md §1 says who runs it: a real `persona serve` (run as root, as CI runs
 * the suite) and a shell CGI printing `id`, for anonymous (nobody), Basic and NTLM users (their mapped OS accounts,
 * supplementary groups included), createProcessAsUser false (the pool's account), a pool without
 * replaceProcessToken and an unmapped user (403.19), the execute access flag (403.1), the ACL (401.3), PATH_INFO.
 * The OS accounts are made with useradd/groupadd and removed afterwards.
 */
import { after, before, describe, test } from 'node:test';
import { requireRoot } from '../helpers/root.js';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { freePort, get, persona, startPersona, tempDir, type RunningPersona, personaCli, basicAuth, replyFields } from '../helpers/persona.js';
import { createTestAccounts, testAccountName, type TestAccounts } from '../helpers/os-accounts.js';
import { authenticateMessage, challengeFrom, negotiateMessage, ntlmHeader } from '../helpers/ntlm-client.js';

const ACCOUNT = testAccountName('cgi', 'bob');
const GROUP = testAccountName('cgi', 'grp');
const EXTRA = testAccountName('cgi', 'extra');


const cli = personaCli;

const basic = basicAuth;

const fields = replyFields;

describe('CGI as the identity MODEL.md §1 names (run as root)', () => {
  before(requireRoot);
  let server: RunningPersona;
  let accounts: TestAccounts | undefined;
  let home: string;
  let port: number;
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;

  before(async () => {
    accounts = createTestAccounts([GROUP, EXTRA], [{ name: ACCOUNT, group: GROUP, extraGroups: [EXTRA] }]);
    home = await tempDir('cgi');
    // Other OS accounts must be able to reach and run the scripts.
    await chmod(home, 0o755);
    const root = path.join(home, 'www');
    for (const dir of ['cgi-bin', 'pool', 'locked', 'noexec', 'private']) await mkdir(path.join(root, dir), { recursive: true });
    const script = '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nprintf "uid=%s\\nuser=%s\\ngroups=%s\\nREMOTE_USER=%s\\nAUTH_TYPE=%s\\nPATH_INFO=%s\\nQUERY_STRING=%s\\n" "$(id -u)" "$(id -un)" "$(id -Gn)" "$REMOTE_USER" "$AUTH_TYPE" "$PATH_INFO" "$QUERY_STRING"\n';
    for (const dir of ['cgi-bin', 'pool', 'locked', 'noexec', 'private']) {
      await writeFile(path.join(root, dir, 'id.cgi'), script);
      await chmod(path.join(root, dir, 'id.cgi'), 0o755);
    }
    // What the script's stdin is, and how many bytes it reads from it.
    await writeFile(path.join(root, 'cgi-bin', 'stdin.cgi'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nprintf "fd0=%s\\nbytes=%s\\n" "$(readlink /proc/self/fd/0)" "$(wc -c | tr -d \' \')"\n');
    await chmod(path.join(root, 'cgi-bin', 'stdin.cgi'), 0o755);
    await chmod(root, 0o755);
    cli(home, ['user', 'add', 'bob', '--ntlm', '--os-account', ACCOUNT], 'Bob-Cgi-1\n');
    cli(home, ['user', 'add', 'carol'], 'Carol-Cgi-1\n');
    const acl = (...args: string[]) => {
      const r = persona(['--home', home, 'acl', ...args]);
      assert.equal(r.status, 0, r.stderr);
    };
    for (const dir of ['cgi-bin', 'pool', 'locked', 'noexec']) acl('grant', path.join(root, dir), 'IUSR:(OI)(CI)RX');
    acl('inherit', path.join(root, 'private'), 'remove');
    acl('grant', path.join(root, 'private'), 'carol:(OI)(CI)RX');
    port = await freePort();
    server = await startPersona(
      `
server:
  applicationPools:
    - { name: Locked, identity: www-data, replaceProcessToken: false }
sites:
  - name: Cgi
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${JSON.stringify(root)}
    settings:
      accessFlags: [read, execute]
      authentication: { ntlm: { enabled: true }, basic: { enabled: true, realm: Cgi } }
      handlers: [{ name: CGI-sh, path: "*.cgi", kind: cgi }]
    applications:
      - { path: /locked, applicationPool: Locked, physicalPath: ${JSON.stringify(path.join(root, 'locked'))} }
    locations:
      - path: /pool
        settings: { cgi: { createProcessAsUser: false } }
      - path: /noexec
        settings: { accessFlags: [read] }
`,
      { home },
    );
  });
  after(async () => {
    await server?.stop();
    accounts?.remove();
  });

  test('anonymous (IUSR) runs as nobody; the W3C log and the variables say anonymous', async () => {
    const reply = await get(url('/cgi-bin/id.cgi?x=1'));
    assert.equal(reply.status, 200, reply.text);
    const f = fields(reply);
    assert.equal(f.user, 'nobody');
    assert.equal(f.REMOTE_USER, '');
    assert.equal(f.AUTH_TYPE, '');
    assert.equal(f.QUERY_STRING, 'x=1');
  });

  test('Basic bob runs as his mapped OS account, with its supplementary groups', async () => {
    const reply = await get(url('/cgi-bin/id.cgi'), basic('bob', 'Bob-Cgi-1'));
    assert.equal(reply.status, 200, reply.text);
    const f = fields(reply);
    assert.equal(f.user, ACCOUNT);
    assert.deepEqual(f.groups!.split(' ').sort(), [EXTRA, GROUP].sort());
    assert.match(f.REMOTE_USER!, /\\bob$/);
    assert.equal(f.AUTH_TYPE, 'Basic');
  });

  test('NTLM bob runs as the same account', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const negotiate = negotiateMessage();
      const first = await get(url('/cgi-bin/id.cgi'), { agent, headers: { authorization: ntlmHeader(negotiate) } });
      const authenticate = authenticateMessage(negotiate, challengeFrom(first.headers['www-authenticate']), { user: 'bob', password: 'Bob-Cgi-1' });
      const reply = await get(url('/cgi-bin/id.cgi'), { agent, headers: { authorization: ntlmHeader(authenticate) } });
      assert.equal(reply.status, 200, reply.text);
      assert.equal(fields(reply).user, ACCOUNT);
      assert.equal(fields(reply).AUTH_TYPE, 'NTLM');
    } finally {
      agent.destroy();
    }
  });

  test('createProcessAsUser: false runs everyone as the pool account (www-data)', async () => {
    assert.equal(fields(await get(url('/pool/id.cgi'), basic('bob', 'Bob-Cgi-1'))).user, 'www-data');
    assert.equal(fields(await get(url('/pool/id.cgi'))).user, 'www-data');
  });

  test('a user without an OS account mapping, and a pool without replaceProcessToken, get 403.19 with the reason', async () => {
    await mkdir(path.join(home, 'www', 'private'), { recursive: true });
    const unmapped = await get(url('/private/id.cgi'), basic('carol', 'Carol-Cgi-1'));
    assert.equal(unmapped.status, 403);
    assert.match(unmapped.text, /403\.19/);
    assert.match(unmapped.text, /no OS account/);
    const locked = await get(url('/locked/id.cgi'), basic('bob', 'Bob-Cgi-1'));
    assert.equal(locked.status, 403);
    assert.match(locked.text, /replaceProcessToken/);
  });

  test('without the execute access flag: 403.1; the ACL still decides who may run it (401.3)', async () => {
    const noexec = await get(url('/noexec/id.cgi'));
    assert.equal(noexec.status, 403);
    assert.match(noexec.text, /403\.1\b/);
    const denied = await get(url('/private/id.cgi'), basic('bob', 'Bob-Cgi-1'));
    assert.equal(denied.status, 401);
    assert.match(denied.text, /401\.3/);
  });

  test('a request without a body gives the script /dev/null as stdin; one with a body, the body', async () => {
    const bodiless = fields(await get(url('/cgi-bin/stdin.cgi')));
    assert.equal(bodiless.fd0, '/dev/null');
    assert.equal(bodiless.bytes, '0');
    const posted = fields(await get(url('/cgi-bin/stdin.cgi'), { method: 'POST', body: 'x'.repeat(5000), headers: { 'content-type': 'text/plain' } }));
    assert.match(posted.fd0 ?? '', /^socket:/);
    assert.equal(posted.bytes, '5000');
    const empty = fields(await get(url('/cgi-bin/stdin.cgi'), { method: 'POST', body: '', headers: { 'content-length': '0' } }));
    assert.equal(empty.fd0, '/dev/null', 'Content-Length: 0 is no body');
  });

  test('PATH_INFO is what follows the script', async () => {
    const f = fields(await get(url('/cgi-bin/id.cgi/2026/11')));
    assert.equal(f.PATH_INFO, '/2026/11');
    assert.equal((await get(url('/cgi-bin/missing.cgi'))).status, 404);
  });
});
