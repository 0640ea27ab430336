/**
 * FastCGI through a real `persona serve` run as root (as CI runs the suite), with a PHP page printing
 * posix_getpwuid(posix_geteuid()) — who the OS says runs it — and REMOTE_USER (MODEL.md §1, FastCGI row):
 * `fastcgi.impersonate: false` runs everyone in the application pool account's processes (www-data);
 * `fastcgi.impersonate: true` runs each identity in a pool of its own OS account (bob's mapped account, nobody for
 * anonymous), and a user without an OS account gets 403.19. The OS account is made with useradd and removed after;
 * no php-cgi of it outlives Persona.
 */
import { after, before, describe, test } from 'node:test';
import { requireRoot } from '../../helpers/root.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, get, persona, startPersona, tempDir, type RunningPersona, personaCli, basicAuth, replyFields } from '../../helpers/persona.js';
import { ntlmGet } from '../../helpers/ntlm-client.js';
import { createTestAccounts, testAccountName, type TestAccounts } from '../../helpers/os-accounts.js';

let accounts: TestAccounts | undefined;

const ACCOUNT = testAccountName('fcgi', 'bob');

function sh(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cli = personaCli;

const basic = basicAuth;

const fields = replyFields;

/** Processes of the test account still running (pgrep prints nothing and exits 1 when there are none). */
function processesOf(account: string): string {
  return sh('pgrep', ['-u', account, '-a']).stdout.trim();
}

describe('FastCGI (php-cgi) as the identity MODEL.md §1 names (run as root)', () => {
  before(requireRoot);
  let server: RunningPersona | undefined;
  let port: number;
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;

  before(async () => {
    accounts = createTestAccounts([ACCOUNT], [{ name: ACCOUNT, group: ACCOUNT, extraGroups: [] }]);
    const home = await tempDir('fcgi-id');
    // Every account the page runs as must reach and read it.
    await chmod(home, 0o755);
    const root = path.join(home, 'www');
    await mkdir(path.join(root, 'imp'), { recursive: true });
    const page = [
      '<?php header("Content-Type: text/plain");',
      'echo "user=", posix_getpwuid(posix_geteuid())["name"], "\\n";',
      'echo "REMOTE_USER=", $_SERVER["REMOTE_USER"] ?? "", "\\n";',
      'echo "AUTH_TYPE=", $_SERVER["AUTH_TYPE"] ?? "", "\\n";',
      'echo "pid=", getmypid(), "\\n";',
    ].join('\n');
    await writeFile(path.join(root, 'who.php'), page);
    await writeFile(path.join(root, 'imp', 'who.php'), page);
    await chmod(root, 0o755);
    await chmod(path.join(root, 'imp'), 0o755);
    cli(home, ['user', 'add', 'bob', '--ntlm', '--os-account', ACCOUNT], 'Bob-Fcgi-1\n');
    cli(home, ['user', 'add', 'carol'], 'Carol-Fcgi-1\n');
    const grant = persona(['--home', home, 'acl', 'grant', root, 'IUSR:(OI)(CI)RX']);
    assert.equal(grant.status, 0, grant.stderr);
    port = await freePort();
    server = await startPersona(
      `
server:
  fastCgi:
    - { fullPath: /usr/bin/php-cgi, maxInstances: 2 }
sites:
  - name: Php
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${JSON.stringify(root)}
    settings:
      accessFlags: [read, script]
      authentication: { ntlm: { enabled: true }, basic: { enabled: true, realm: Php } }
      handlers: [{ name: PHP, path: "*.php", kind: fastcgi, scriptProcessor: /usr/bin/php-cgi }]
    locations:
      - path: /imp
        settings: { fastcgi: { impersonate: true } }
`,
      { home },
    );
  });
  after(async () => {
    await server?.stop();
    // Persona's exit hook stopped its php-cgi processes: none of the test account's may remain.
    const left = processesOf(ACCOUNT);
    accounts?.remove();
    assert.equal(left, '', 'no FastCGI process outlives Persona');
    // Nor its socket folders (named after the worker's pid: none of this run's may remain).
    const folders = (await readdir(tmpdir())).filter((n) => /^persona-fastcgi-\d+$/.test(n) && !existsSync(`/proc/${n.slice(16)}`));
    assert.deepEqual(folders, [], 'the socket folders are removed at exit');
  });

  test('impersonate false (default): anonymous and bob both run as the pool account www-data', async () => {
    const anonymous = await get(url('/who.php'));
    assert.equal(anonymous.status, 200, anonymous.text);
    assert.equal(fields(anonymous).user, 'www-data');
    assert.equal(fields(anonymous).REMOTE_USER, '');
    const bob = await get(url('/who.php'), basic('bob', 'Bob-Fcgi-1'));
    assert.equal(bob.status, 200, bob.text);
    assert.equal(fields(bob).user, 'www-data');
    assert.match(fields(bob).REMOTE_USER!, /\\bob$/);
    assert.equal(fields(bob).AUTH_TYPE, 'Basic');
  });

  test('impersonate true: bob runs in a process of his mapped OS account', async () => {
    const bob = await get(url('/imp/who.php'), basic('bob', 'Bob-Fcgi-1'));
    assert.equal(bob.status, 200, bob.text);
    assert.equal(fields(bob).user, ACCOUNT);
    assert.match(fields(bob).REMOTE_USER!, /\\bob$/);
    // A pool of processes: the same process serves bob's next request.
    const again = await get(url('/imp/who.php'), basic('bob', 'Bob-Fcgi-1'));
    assert.equal(fields(again).pid, fields(bob).pid);
    assert.match(processesOf(ACCOUNT), /php-cgi -b /);
  });

  test('impersonate true: NTLM bob runs in the same account as Basic bob', async () => {
    const bob = await ntlmGet(url('/imp/who.php'), 'bob', 'Bob-Fcgi-1');
    assert.equal(bob.status, 200, bob.text);
    assert.equal(fields(bob).user, ACCOUNT);
    assert.equal(fields(bob).AUTH_TYPE, 'NTLM');
  });

  test('impersonate true: anonymous runs as nobody', async () => {
    const anonymous = await get(url('/imp/who.php'));
    assert.equal(anonymous.status, 200, /Reason<\/th><td>([^<]*)/.exec(anonymous.text)?.[1] ?? anonymous.text);
    assert.equal(fields(anonymous).user, 'nobody');
    assert.equal(fields(anonymous).REMOTE_USER, '');
  });

  test('impersonate true: a user without an OS account gets 403.19, never another account', async () => {
    const carol = await get(url('/imp/who.php'), basic('carol', 'Carol-Fcgi-1'));
    assert.equal(carol.status, 403);
    await server!.stop();
    const log = await server!.w3cLog();
    assert.match(log, /\/imp\/who\.php .*403 19 /);
  });
});
