/**
 * `persona explain --json` (run through the CLI, as a user would) against what a real `persona serve` (run as root,
 * as CI runs the suite) really does, for each row of MODEL.md §1 and §6 and for anonymous, Basic and NTLM logins:
 *
 * - CGI with createProcessAsUser true and false: a shell CGI prints `id -un`, `id -u`, `id -g`, `id -G`;
 * - FastCGI (php-cgi) with fastcgi.impersonate false and true: a PHP page prints posix_geteuid()'s account and ids;
 * - a JS handler module prints the identity it runs as, after revertToSelf, what `id` says from node's child_process
 *   and from persona.spawnAsUser, the worker's own OS account, and whether its request token is delegable (§6);
 * - a user without an OS account: the live 403.19 is the refusal explain predicted.
 *
 * Each printed OS account, uid, gid and group set must equal explain's prediction for that row, and each token user
 * name and "delegable" its login section. Test users are mapped to throw-away `pst-` OS accounts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CodeIdentity, Explanation } from '../../src/explain/model.js';
import { basicAuth, CLI, freePort, get, personaCli, replyFields, startPersona, tempDir, type Reply, type RunningPersona } from '../helpers/persona.js';
import { ntlmGet } from '../helpers/ntlm-client.js';
import { createTestAccounts, testAccountName, type TestAccounts } from '../helpers/os-accounts.js';
import { requireRoot } from '../helpers/root.js';

const run = promisify(execFile);

const ACCOUNT = testAccountName('exa', 'bob');
const GROUP = testAccountName('exa', 'grp');
const EXTRA = testAccountName('exa', 'extra');
const BOB_PASSWORD = 'Bob-Explain-1';
const CAROL_PASSWORD = 'Carol-Explain-1';

type Login = { readonly label: string; readonly user?: string; readonly scheme?: 'basic' | 'ntlm' };
const LOGINS: readonly Login[] = [{ label: 'anonymous' }, { label: 'Basic bob', user: 'bob', scheme: 'basic' }, { label: 'NTLM bob', user: 'bob', scheme: 'ntlm' }];

/** What a shell prints about its own identity, as `key=value` lines (the CGI, and the handler's two processes). */
const ID_SCRIPT = 'printf "user=%s\\nuid=%s\\ngid=%s\\ngroups=%s\\n" "$(id -un)" "$(id -u)" "$(id -g)" "$(id -G)"';

const CGI = `#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\n${ID_SCRIPT}\n`;

const PHP = [
  '<?php header("Content-Type: text/plain");',
  '$uid = posix_geteuid(); $gid = posix_getegid();',
  'echo "user=", posix_getpwuid($uid)["name"], "\\n";',
  'echo "uid=", $uid, "\\n", "gid=", $gid, "\\n";',
  'echo "groups=", implode(" ", array_unique(array_merge([$gid], posix_getgroups()))), "\\n";',
].join('\n');

/** The handler module: its identity, after revertToSelf, the request token's delegation, and the OS identities. */
const MODULE = `import { execFileSync } from 'node:child_process';
import os from 'node:os';

const fields = (text) => Object.fromEntries(text.trim().split('\\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

async function spawned(persona) {
  const p = await persona.spawnAsUser('/bin/sh', ['-c', ${JSON.stringify(ID_SCRIPT)}], { cwd: '/', env: { PATH: '/usr/bin:/bin' } });
  if (p.kind === 'refused') return { refused: p.status + '.' + p.substatus, reason: p.reason };
  p.stdin.end();
  let out = '';
  for await (const chunk of p.stdout) out += chunk;
  await p.exited;
  return fields(out);
}

export default async function (req, res, persona) {
  const out = {
    identity: persona.identity().token.user.name,
    requestUser: persona.requestToken.user.name,
    delegable: persona.requestToken.delegation.kind !== 'none',
    logonType: persona.requestToken.logonType,
    worker: os.userInfo().username,
  };
  out.reverted = persona.revertToSelf(() => persona.identity().token.user.name);
  out.childProcess = fields(execFileSync('/bin/sh', ['-c', ${JSON.stringify(ID_SCRIPT)}], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }));
  out.spawnAsUser = await spawned(persona);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(out));
}
`;

interface OsFields {
  readonly user: string;
  readonly uid: string;
  readonly gid: string;
  readonly groups: string;
}

interface ModuleReport {
  readonly identity: string;
  readonly requestUser: string;
  readonly delegable: boolean;
  readonly logonType: string;
  readonly worker: string;
  readonly reverted: string;
  readonly childProcess: OsFields;
  readonly spawnAsUser: OsFields | { readonly refused: string; readonly reason: string };
}

function row(e: Explanation, prefix: string): CodeIdentity {
  const found = e.code.find((c) => c.code.startsWith(prefix));
  assert.ok(found, `explain has no "${prefix}" row: ${e.code.map((c) => c.code).join(' | ')}`);
  return found;
}

const gidSet = (text: string): number[] => [...new Set(text.trim().split(/\s+/).filter(Boolean).map(Number))].sort((a, b) => a - b);

/** The OS identity a process printed equals the one explain predicted for that row: account, uid, gid and groups. */
function assertSameOs(live: OsFields, predicted: CodeIdentity, what: string): void {
  assert.equal(predicted.refused, undefined, `${what}: explain predicted a refusal (${predicted.refused}) but it ran as ${live.user}`);
  const os = predicted.os;
  assert.ok(os, `${what}: explain names no OS account`);
  assert.equal(live.user, os.account, `${what}: account`);
  assert.equal(Number(live.uid), os.uid, `${what}: uid`);
  assert.equal(Number(live.gid), os.gid, `${what}: gid`);
  // explain prints groups as "gid(name)"; `id -G` as gids.
  assert.deepEqual(gidSet(live.groups), gidSet(os.groups.map((g) => g.slice(0, g.indexOf('('))).join(' ')), `${what}: groups`);
}

describe('explain --json agrees with the live server (MODEL.md §1 and §6; run as root)', () => {
  before(requireRoot);
  let server: RunningPersona | undefined;
  let accounts: TestAccounts | undefined;
  let home: string;
  let port: number;
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;

  /** `persona explain URL --json` through the compiled CLI, for a login (each asked once: the CLI is not cheap). */
  const explained = new Map<string, Promise<Explanation>>();
  function explainCli(p: string, login: Login): Promise<Explanation> {
    const key = `${p} ${login.label}`;
    if (!explained.has(key)) explained.set(key, explainOnce(p, login));
    return explained.get(key)!;
  }
  async function explainOnce(p: string, login: Login): Promise<Explanation> {
    const who = login.user ? ['--as', login.user, '--scheme', login.scheme!] : ['--anonymous'];
    const { stdout } = await run(process.execPath, [CLI, '--home', home, 'explain', url(p), ...who, '--json'], { timeout: 30_000, maxBuffer: 8 * 1024 * 1024 });
    return JSON.parse(stdout) as Explanation;
  }

  async function fetchAs(p: string, login: Login, password = BOB_PASSWORD): Promise<Reply | Awaited<ReturnType<typeof ntlmGet>>> {
    if (login.scheme === 'ntlm') return ntlmGet(url(p), login.user!, password);
    if (login.scheme === 'basic') return get(url(p), basicAuth(login.user!, password));
    return get(url(p));
  }

  async function live(p: string, login: Login, password = BOB_PASSWORD): Promise<Record<string, string>> {
    const reply = await fetchAs(p, login, password);
    assert.equal(reply.status, 200, `${p} as ${login.label}: ${reply.text.slice(0, 2000)}`);
    return replyFields(reply as Reply);
  }

  before(async () => {
    accounts = createTestAccounts([GROUP, EXTRA], [{ name: ACCOUNT, group: GROUP, extraGroups: [EXTRA] }]);
    home = await tempDir('explain-agree');
    const root = path.join(home, 'www');
    for (const dir of ['cgi-bin', 'pool', 'imp']) await mkdir(path.join(root, dir), { recursive: true });
    for (const dir of ['cgi-bin', 'pool']) {
      await writeFile(path.join(root, dir, 'id.cgi'), CGI);
      await chmod(path.join(root, dir, 'id.cgi'), 0o755);
    }
    await writeFile(path.join(root, 'who.php'), PHP);
    await writeFile(path.join(root, 'imp', 'who.php'), PHP);
    const module = path.join(home, 'who.mjs');
    await writeFile(module, MODULE);
    // Every OS account the code runs as must reach the files.
    for (const dir of [root, ...['cgi-bin', 'pool', 'imp'].map((d) => path.join(root, d))]) await chmod(dir, 0o755);
    personaCli(home, ['user', 'add', 'bob', '--ntlm'], `${BOB_PASSWORD}\n`);
    personaCli(home, ['user', 'set', 'bob', '--os-account', ACCOUNT]);
    personaCli(home, ['user', 'add', 'carol', '--ntlm'], `${CAROL_PASSWORD}\n`);
    port = await freePort();
    server = await startPersona(
      `
server:
  fastCgi:
    - { fullPath: /usr/bin/php-cgi, maxInstances: 2 }
sites:
  - name: Agree
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${JSON.stringify(root)}
    settings:
      accessFlags: [read, script, execute]
      authentication: { ntlm: { enabled: true }, basic: { enabled: true, realm: Agree } }
      handlers:
        - { name: CGI-sh, path: "*.cgi", kind: cgi }
        - { name: PHP, path: "*.php", kind: fastcgi, scriptProcessor: /usr/bin/php-cgi }
        - { name: Who, path: who, kind: module, resourceType: Unspecified, module: ${JSON.stringify(module)} }
    locations:
      - path: /pool
        settings: { cgi: { createProcessAsUser: false } }
      - path: /imp
        settings: { fastcgi: { impersonate: true } }
      - path: /handler-pool
        settings: { identity: { impersonate: false } }
`,
      { home, publicRoots: [root] },
    );
  });

  after(async () => {
    await server?.stop();
    accounts?.remove();
  });

  for (const login of LOGINS) {
    describe(login.label, () => {
      test('the login: the token user and whether it is delegable (§6: Basic ClearText yes, NTLM and anonymous no)', async () => {
        const e = await explainCli('/who', login);
        assert.equal(e.login.ok, true, e.login.reason);
        const w = JSON.parse((await fetchAs('/who', login)).text) as ModuleReport;
        assert.equal(w.requestUser, e.login.token!.user.name);
        assert.equal(w.logonType, e.login.token!.logonType);
        assert.equal(w.delegable, e.login.token!.delegable);
        assert.equal(w.delegable, login.scheme === 'basic', 'MODEL.md §6');
      });

      test('CGI, createProcessAsUser true and false: the OS account, uid, gid and groups explain predicted', async () => {
        const [asUser, asPool] = await Promise.all([explainCli('/cgi-bin/id.cgi', login), explainCli('/pool/id.cgi', login)]);
        const userRow = row(asUser, 'CGI (createProcessAsUser: true)');
        assertSameOs(await live('/cgi-bin/id.cgi', login) as unknown as OsFields, userRow, 'CGI as the user');
        assert.equal(userRow.os!.account, login.user ? ACCOUNT : 'nobody');
        const poolRow = row(asPool, 'CGI (createProcessAsUser: false)');
        assertSameOs(await live('/pool/id.cgi', login) as unknown as OsFields, poolRow, 'CGI as the pool');
        assert.equal(poolRow.os!.account, 'www-data');
      });

      test('FastCGI (php-cgi), impersonate false and true: the account posix_geteuid() names is the one explain predicted', async () => {
        const [pooled, impersonated] = await Promise.all([explainCli('/who.php', login), explainCli('/imp/who.php', login)]);
        const poolRow = row(pooled, 'FastCGI (impersonate: false)');
        assertSameOs(await live('/who.php', login) as unknown as OsFields, poolRow, 'FastCGI as the pool');
        assert.equal(poolRow.os!.account, 'www-data');
        const userRow = row(impersonated, 'FastCGI (impersonate: true)');
        assertSameOs(await live('/imp/who.php', login) as unknown as OsFields, userRow, 'FastCGI impersonating');
        assert.equal(userRow.os!.account, login.user ? ACCOUNT : 'nobody');
      });

      test('a JS handler module: its identity, after revertToSelf, its process, child_process and spawnAsUser', async () => {
        for (const p of ['/who', '/handler-pool/who']) {
          const e = await explainCli(p, login);
          const reply = await fetchAs(p, login);
          assert.equal(reply.status, 200, reply.text);
          const w = JSON.parse(reply.text) as ModuleReport;
          const handler = row(e, 'JS handler module');
          assert.equal(w.identity, handler.identity, `${p}: the handler's identity`);
          assert.equal(w.worker, handler.os!.account, `${p}: the handler's process is the worker`);
          assert.equal(w.reverted, row(e, 'JS handler module after revertToSelf').identity, `${p}: after revertToSelf`);
          assertSameOs(w.childProcess, row(e, "a process a JS handler starts with node's child_process"), `${p}: child_process`);
          const spawnRow = row(e, 'persona.spawnAsUser');
          if ('refused' in w.spawnAsUser) {
            assert.equal(spawnRow.os, null, `${p}: spawnAsUser was refused live (${w.spawnAsUser.reason}) but explain predicted ${spawnRow.os?.account}`);
            assert.ok(spawnRow.refused?.startsWith(`${w.spawnAsUser.refused}:`), `${p}: ${spawnRow.refused} vs ${w.spawnAsUser.refused}`);
          } else {
            assertSameOs(w.spawnAsUser, spawnRow, `${p}: spawnAsUser`);
          }
        }
      });
    });
  }

  test('a user without an OS account: CGI, FastCGI impersonating and spawnAsUser are refused live with the 403.19 explain predicted', async () => {
    const carol: Login = { label: 'Basic carol', user: 'carol', scheme: 'basic' };
    const [cgi, php, mod] = await Promise.all([explainCli('/cgi-bin/id.cgi', carol), explainCli('/imp/who.php', carol), explainCli('/who', carol)]);
    assert.match(row(cgi, 'CGI (createProcessAsUser: true)').refused!, /^403\.19: /);
    assert.match(row(php, 'FastCGI (impersonate: true)').refused!, /^403\.19: /);
    for (const p of ['/cgi-bin/id.cgi', '/imp/who.php']) {
      const reply = await fetchAs(p, carol, CAROL_PASSWORD);
      assert.equal(reply.status, 403, `${p}: ${reply.text.slice(0, 500)}`);
      assert.match(reply.text, /403\.19/);
    }
    const w = JSON.parse((await fetchAs('/who', carol, CAROL_PASSWORD)).text) as ModuleReport;
    assert.ok('refused' in w.spawnAsUser, 'spawnAsUser is refused live');
    assert.equal(w.spawnAsUser.refused, '403.19');
    assert.match(row(mod, 'persona.spawnAsUser').refused!, /^403\.19: /);
    // Where the pool runs the code, carol is no obstacle: explain and the server agree on www-data.
    assert.equal(row(cgi, 'FastCGI (impersonate: false)').os!.account, 'www-data');
    assertSameOs((await live('/who.php', carol, CAROL_PASSWORD)) as unknown as OsFields, row(cgi, 'FastCGI (impersonate: false)'), 'FastCGI for carol');
  });
});
