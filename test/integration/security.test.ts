/**
 * The security core on a real server with the real CLI: anonymous vs authenticated denials (401.2 with challenges,
 * 401.3), changes made with `persona` in another process applying to the very next request (token cache and ACLs),
 * anonymous as a configured account, the audit log, and `cs-username` in the W3C log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, get, persona, startPersona, tempDir, type RunningPersona, basicAuth } from '../helpers/persona.js';

const basic = basicAuth;

function addUser(home: string, name: string, password: string, ...args: string[]): void {
  const r = spawnPersonaWithStdin(home, ['user', 'add', name, ...args], `${password}\n`);
  assert.equal(r.status, 0, r.stderr);
}

import { spawnSync } from 'node:child_process';
import { CLI } from '../helpers/persona.js';
function spawnPersonaWithStdin(home: string, args: string[], input: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, '--home', home, ...args], { input, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('security core on a real server', () => {
  let server: RunningPersona;
  let home: string;
  let root: string;
  let port: number;
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;

  before(async () => {
    home = await tempDir('sec');
    root = path.join(home, 'www');
    for (const dir of ['public', 'members', 'staff', 'closed', 'asbob']) await mkdir(path.join(root, dir), { recursive: true });
    for (const dir of ['public', 'members', 'staff', 'closed', 'asbob']) await writeFile(path.join(root, dir, 'index.html'), `${dir} page`);
    addUser(home, 'bob', 'bob-pass-1');
    addUser(home, 'carol', 'carol-pass-1');
    addUser(home, 'anon', 'anon-pass-1');
    const acl = (...args: string[]) => {
      const r = persona(['--home', home, 'acl', ...args]);
      assert.equal(r.status, 0, r.stderr);
    };
    acl('grant', path.join(root, 'public'), 'IUSR:(OI)(CI)RX');
    // staff: bob only (protected, so Users from the root ACL do not reach it)
    acl('inherit', path.join(root, 'staff'), 'remove');
    acl('grant', path.join(root, 'staff'), 'bob:(OI)(CI)RX');
    // asbob: readable by the local account the anonymous user maps to
    acl('grant', path.join(root, 'asbob'), 'anon:(OI)(CI)RX');
    acl('deny', path.join(root, 'asbob'), 'IUSR:(OI)(CI)RX');
    port = await freePort();
    server = await startPersona(
      `
sites:
  - name: Sec
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${JSON.stringify(root)}
    settings:
      authentication:
        basic: { enabled: true, realm: Sec }
    locations:
      - path: /closed
        settings:
          authentication: { anonymous: { enabled: false } }
      - path: /asbob
        settings:
          authentication: { anonymous: { userName: anon, password: anon-pass-1 } }
`,
      { home },
    );
  });
  after(async () => server?.stop());

  test('anonymous: allowed where IUSR may read; asked to log on (401.2 + challenge) where the ACL denies it', async () => {
    assert.equal((await get(url('/public/'))).text, 'public page');
    const members = await get(url('/members/'));
    assert.equal(members.status, 401);
    assert.match(members.text, /401\.2/);
    assert.equal(members.headers['www-authenticate'], 'Basic realm="Sec", charset="UTF-8"');
    const closed = await get(url('/closed/'));
    assert.equal(closed.status, 401);
    assert.match(closed.text, /401\.2[\s\S]*anonymous access is disabled/);
  });

  test('authenticated: Users read the root ACL; a user the ACL leaves out gets 401.3 naming the decision', async () => {
    assert.equal((await get(url('/members/'), basic('carol', 'carol-pass-1'))).text, 'members page');
    assert.equal((await get(url('/staff/'), basic('bob', 'bob-pass-1'))).text, 'staff page');
    const carol = await get(url('/staff/'), basic('carol', 'carol-pass-1'));
    assert.equal(carol.status, 401);
    assert.match(carol.text, /401\.3/);
    assert.match(carol.text, /carol may not read \S+staff\/index\.html/);
    assert.equal(carol.headers['www-authenticate'], undefined, '401.3 offers no other login');
  });

  test('a password change, a disable and an ACL change made with the CLI apply to the next request', async () => {
    assert.equal((await get(url('/members/'), basic('bob', 'bob-pass-1'))).status, 200); // cached now
    const passwd = spawnPersonaWithStdin(home, ['user', 'passwd', 'bob'], 'bob-pass-2\n');
    assert.equal(passwd.status, 0, passwd.stderr);
    assert.equal((await get(url('/members/'), basic('bob', 'bob-pass-1'))).status, 401, 'the old password stops working at once');
    assert.equal((await get(url('/members/'), basic('bob', 'bob-pass-2'))).status, 200);
    assert.equal(persona(['--home', home, 'user', 'disable', 'bob']).status, 0);
    const disabled = await get(url('/members/'), basic('bob', 'bob-pass-2'));
    assert.equal(disabled.status, 401);
    assert.match(disabled.text, /401\.1/);
    assert.equal(persona(['--home', home, 'user', 'enable', 'bob']).status, 0);
    assert.equal((await get(url('/members/'), basic('bob', 'bob-pass-2'))).status, 200);
    assert.equal(persona(['--home', home, 'acl', 'deny', path.join(root, 'members'), 'bob:(OI)(CI)R']).status, 0);
    assert.equal((await get(url('/members/'), basic('bob', 'bob-pass-2'))).status, 401);
    assert.equal(persona(['--home', home, 'acl', 'remove', path.join(root, 'members'), 'bob']).status, 0);
    assert.equal((await get(url('/members/'), basic('bob', 'bob-pass-2'))).status, 200);
  });

  test('anonymous as a configured local account: its ACL applies, IUSR does not', async () => {
    assert.equal((await get(url('/asbob/'))).text, 'asbob page');
  });

  test('the audit log has one event per logon (none for cache hits) and never a password; the W3C log names the user', async () => {
    const before = (await readFile(path.join(home, 'logs', 'audit.log'), 'utf8')).trim().split('\n').length;
    await get(url('/members/'), basic('carol', 'carol-pass-1'));
    await get(url('/members/'), basic('carol', 'carol-pass-1'));
    await get(url('/members/'), basic('carol', 'wrong-password'));
    const lines = (await readFile(path.join(home, 'logs', 'audit.log'), 'utf8')).trim().split('\n');
    const added = lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(added.filter((e) => e.eventId === 4625).length, 1, 'one failure');
    assert.equal(added.filter((e) => e.eventId === 4624).length, 0, 'carol was cached: no success event');
    const failure = added.find((e) => e.eventId === 4625)!;
    assert.equal(failure.package, 'Basic');
    assert.equal(failure.clientAddress, '127.0.0.1');
    const all = lines.join('\n');
    for (const secret of ['carol-pass-1', 'wrong-password', 'bob-pass-1', 'bob-pass-2', 'anon-pass-1']) assert.ok(!all.includes(secret), secret);
    assert.ok(lines.some((l) => JSON.parse(l).eventId === 4656), 'ACL denials are audited');
    await new Promise((r) => setTimeout(r, 1500));
    const w3c = await server.w3cLog(1);
    assert.match(w3c, / GET \/members\/ - \d+ \S+\\carol 127\.0\.0\.1 .* 200 0 0 \d+/);
    assert.match(w3c, / GET \/members\/ - \d+ - 127\.0\.0\.1 .* 401 2 5 \d+/);
  });

  test('persona audit tail shows the events', () => {
    const r = persona(['--home', home, 'audit', 'tail', '-n', '5']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /4625/);
  });
});
