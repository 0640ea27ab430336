/**
 * The process model of MODEL.md §8 on a real `persona serve`: as root it is a launcher that never serves a request
 * (a worker does, as the pool's account, with the `persona` group), restarts a worker that dies, and says why; run
 * as an unprivileged account, Persona serves alone, reports that it cannot switch accounts, and CGI as another user
 * fails with 403.19 and the reason.
 */
import { after, before, describe, test } from 'node:test';
import { requireRoot } from '../helpers/root.js';
import { ntlmGet } from '../helpers/ntlm-client.js';
import http from 'node:http';
import { createTestAccounts, testAccountName, type TestAccounts } from '../helpers/os-accounts.js';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CLI, freePort, get, RunningPersona, startPersona, tempDir } from '../helpers/persona.js';


/** The processes whose parent is `pid`, with their uid and command line. */
function allChildren(pid: number): { pid: number; uid: number; args: string }[] {
  const r = spawnSync('ps', ['-o', 'pid=,uid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l)!)
    .map(([, p, u, args]) => ({ pid: Number(p), uid: Number(u), args: args! }));
}

/** The launcher's workers (node); its other children are the pools' forkers (root). */
function children(pid: number): { pid: number; uid: number }[] {
  return allChildren(pid).filter((c) => !c.args.includes('persona-forker'));
}

function uidOf(account: string): number {
  return Number(spawnSync('id', ['-u', account], { encoding: 'utf8' }).stdout.trim());
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('as root: a launcher and a worker', () => {
  before(requireRoot);
  let server: RunningPersona;
  let port: number;

  before(async () => {
    const home = await tempDir('launch');
    const root = path.join(home, 'www');
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'index.html'), 'hello');
    port = await freePort();
    server = await startPersona(
      `
sites:
  - name: L
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${JSON.stringify(root)}
`,
      { home, publicRoots: [root] },
    );
  });
  after(async () => server?.stop());

  test('requests are served by a worker running as www-data with the persona group; the launcher only supervises', async () => {
    assert.equal((await get(`http://127.0.0.1:${port}/`)).text, 'hello');
    const workers = children(server.child.pid!);
    assert.equal(workers.length, 1, JSON.stringify(workers));
    // Besides the worker, only its pool's forker: root, the one process that starts programs as other accounts.
    const forkers = allChildren(server.child.pid!).filter((c) => c.args.includes('persona-forker'));
    assert.deepEqual(forkers.map((f) => f.uid), [0], JSON.stringify(allChildren(server.child.pid!)));
    assert.equal(workers[0]!.uid, uidOf('www-data'));
    const status = await readFile(`/proc/${workers[0]!.pid}/status`, 'utf8');
    const groups = /^Groups:\s*(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
    const personaGid = Number(spawnSync('getent', ['group', 'persona'], { encoding: 'utf8' }).stdout.split(':')[2]);
    assert.ok(groups.includes(personaGid), `the worker has the persona group (${groups.join(' ')})`);
    assert.match(status, /^CapEff:\s*0+$/m, 'the worker has no capabilities');
    assert.match(server.output, /process identity www-data/);
    // The launcher holds no listening socket of its own: only the worker accepts.
    const launcherSockets = spawnSync('ss', ['-ltnp'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(`:${port} `));
    assert.ok(launcherSockets.every((l) => !l.includes(`pid=${server.child.pid},`)), launcherSockets.join('\n'));
  });

  test('a worker killed with SIGKILL is restarted, the launcher says why, and the site answers again', async () => {
    const [first] = children(server.child.pid!);
    process.kill(first!.pid, 'SIGKILL');
    await server.waitForOutput(/worker of pool DefaultAppPool killed by SIGKILL; restarting it/);
    const second = await until('a new worker', () => children(server.child.pid!).find((c) => c.pid !== first!.pid)).catch((err: Error) => {
      throw new Error(`${err.message}; persona said:\n${server.output}`);
    });
    assert.equal(second.uid, uidOf('www-data'));
    const reply = await until('the site to answer', async () => {
      try {
        const r = await get(`http://127.0.0.1:${port}/`);
        return r.status === 200 ? r : undefined;
      } catch {
        return undefined;
      }
    });
    assert.equal(reply.text, 'hello');
  });
});

describe('as root: one worker per application pool, as its own account', () => {
  before(requireRoot);
  const ACCOUNT = testAccountName('pools', 'rep');
  let accounts: TestAccounts | undefined;
  let server: RunningPersona;
  let port: number;
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;

  before(async () => {
    accounts = createTestAccounts([ACCOUNT], [{ name: ACCOUNT, group: ACCOUNT, extraGroups: [] }]);
    const home = await tempDir('pools');
    const root = path.join(home, 'www');
    for (const dir of ['', 'reports']) {
      await mkdir(path.join(root, dir), { recursive: true });
      await writeFile(path.join(root, dir, 'id.cgi'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s %s\\n" "$(id -un)" "$REMOTE_ADDR"\n');
      await chmod(path.join(root, dir, 'id.cgi'), 0o755);
    }
    const cli = (args: string[], input: string) => spawnSync(process.execPath, [CLI, '--home', home, ...args], { input, encoding: 'utf8', timeout: 30_000 });
    assert.equal(cli(['user', 'add', 'bob', '--ntlm'], 'Bob-Pools-1\n').status, 0);
    port = await freePort();
    server = await startPersona(
      `
server:
  applicationPools:
    - { name: Reports, identity: ${ACCOUNT} }
sites:
  - name: P
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${JSON.stringify(root)}
    settings:
      accessFlags: [read, execute]
      authentication: { ntlm: { enabled: true } }
      handlers: [{ name: CGI, path: "*.cgi", kind: cgi }]
      cgi: { createProcessAsUser: false }
    applications:
      - { path: /reports, applicationPool: Reports, physicalPath: ${JSON.stringify(path.join(root, 'reports'))} }
`,
      { home, publicRoots: [root] },
    );
  });
  after(async () => {
    await server?.stop();
    accounts?.remove();
  });

  test("each pool's code runs as its pool's account: / as www-data, /reports as the Reports pool's account", async () => {
    const front = await get(url('/id.cgi'));
    assert.equal(front.status, 200, front.text);
    assert.equal(front.text.trim(), 'www-data 127.0.0.1');
    const reports = await get(url('/reports/id.cgi'));
    assert.equal(reports.status, 200, reports.text);
    assert.equal(reports.text.trim(), `${ACCOUNT} 127.0.0.1`, 'the client address reaches the pool worker');
    const workers = children(server.child.pid!).map((c) => c.uid).sort((a, b) => a - b);
    assert.deepEqual(workers, [uidOf('www-data'), uidOf(ACCOUNT)].sort((a, b) => a - b));
    assert.match(server.output, new RegExp(`pool worker for Reports ready .*process identity ${ACCOUNT}`));
  });

  test('NTLM through the front to another pool keeps its connection semantics; the W3C log has each request once', async () => {
    const reply = await ntlmGet(url('/reports/id.cgi?ntlm-pool'), 'bob', 'Bob-Pools-1');
    assert.equal(reply.status, 200, reply.text);
    await new Promise((r) => setTimeout(r, 1500));
    const lines = (await server.w3cLog(1)).split('\n').filter((l) => l.includes('ntlm-pool'));
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[1]!, /\\bob .* 200 0 0 /);
  });

  test('a forged forwarded header on a pool socket is refused', async () => {
    const socketPath = path.join(server.home, 'run', 'pool-1.sock');
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ socketPath, path: '/reports/id.cgi', headers: { host: 'x', 'x-persona-forwarded': Buffer.from('{}').toString('base64url'), 'x-persona-forwarded-mac': 'nope' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 400);
  });
});

describe('without root: one process, no account switching, and CGI as another user is 403.19', () => {
  before(requireRoot);
  const ACCOUNT = testAccountName('noroot', 'srv');
  let accounts: TestAccounts | undefined;
  let child: RunningPersona | undefined;
  let port: number;

  before(async () => {
    accounts = createTestAccounts([ACCOUNT], [{ name: ACCOUNT, group: ACCOUNT, extraGroups: [] }]);
    const home = await tempDir('noroot');
    const root = path.join(home, 'www');
    for (const dir of ['cgi-bin', 'cgi-bin/asuser']) {
      await mkdir(path.join(root, dir), { recursive: true });
      await writeFile(path.join(root, dir, 'id.cgi'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$(id -un)"\n');
      await chmod(path.join(root, dir, 'id.cgi'), 0o755);
    }
    const state = path.join(home, 'state');
    await mkdir(state);
    port = await freePort();
    await writeFile(
      path.join(state, 'persona.yaml'),
      `
sites:
  - name: N
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${JSON.stringify(root)}
    settings:
      accessFlags: [read, execute]
      authentication: { anonymous: { userName: "" } }
      handlers: [{ name: CGI, path: "*.cgi", kind: cgi }]
    locations:
      - path: /cgi-bin/asuser
        settings: { authentication: { anonymous: { userName: IUSR } } }
`,
    );
    const uid = uidOf(ACCOUNT);
    await chown(state, uid, -1);
    await chown(path.join(state, 'persona.yaml'), uid, -1);
    // The root ACL lets Users read; the process identity (anonymous userName "") is not in Users: grant it as root
    // first, through the CLI, on the state the unprivileged server will use.
    const cli = (args: string[]) => spawnSync('setpriv', ['--reuid', ACCOUNT, '--regid', ACCOUNT, '--init-groups', '--', process.execPath, CLI, '--home', state, ...args], { encoding: 'utf8', timeout: 30_000 });
    const grant = cli(['acl', 'grant', root, '*S-1-5-82-3006700770-424185619-1745488364-794895919-4004696415:(OI)(CI)RX']);
    assert.equal(grant.status, 0, grant.stderr);
    const grantIusr = cli(['acl', 'grant', root, 'IUSR:(OI)(CI)RX']);
    assert.equal(grantIusr.status, 0, grantIusr.stderr);
    const proc = spawn('setpriv', ['--reuid', ACCOUNT, '--regid', ACCOUNT, '--init-groups', '--', process.execPath, CLI, '--home', state, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = new RunningPersona(proc, state);
    await child.waitForOutput(/started \(pid/);
  });
  after(async () => {
    await child?.stop();
    accounts?.remove();
  });

  test('it serves, says switching is unavailable, and runs CGI as itself', async () => {
    assert.match(child!.output, new RegExp(`process identity ${ACCOUNT}`));
    assert.match(child!.output, /OS identities\s+switching unavailable: Persona is not running as root/);
    const reply = await get(`http://127.0.0.1:${port}/cgi-bin/id.cgi`);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.text.trim(), ACCOUNT, 'the process identity runs CGI as the process account');
  });

  test('CGI that should run as another account (IUSR → nobody) is refused with 403.19 and the reason', async () => {
    const reply = await get(`http://127.0.0.1:${port}/cgi-bin/asuser/id.cgi`);
    assert.equal(reply.status, 403);
    assert.match(reply.text, /403\.19/);
    assert.match(reply.text, /not running as root/);
  });
});
