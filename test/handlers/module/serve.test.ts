/**
 * JS handler modules through a real `persona serve`: a fixture handler prints the identity it runs as, the same
 * after revertToSelf, and reads a file only bob may read through persona.fs — for anonymous (IUSR), Basic bob,
 * identity.impersonate false (the pool identity) and a fixed identity.userName; its start hook ran once, as the
 * process identity. A handler that throws, a module that is not one and a fixed account that cannot log on give
 * 500 with the reason (loopback sees it), and the failed logon is audited.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, get, persona, REPO, startPersona, tempDir, type Reply, type RunningPersona, personaCli, basicAuth } from '../../helpers/persona.js';
import { ntlmGet } from '../../helpers/ntlm-client.js';

const FIXTURES = path.join(REPO, 'test/handlers/module/fixtures');

const cli = personaCli;

const basic = basicAuth;

interface Who {
  user: string;
  requestUser: string;
  reason: string;
  startedAs: string;
  starts: number;
  reverted: string;
  afterRevert: string;
  read?: string;
  readError?: string;
  readReverted?: string;
}

function who(reply: Reply): Who {
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text) as Who;
}

describe('JS handler modules run as MODEL.md §1 says', () => {
  let server: RunningPersona;
  let home: string;
  let port: number;
  let secret: string;
  const url = (p: string) => `http://127.0.0.1:${port}${p}?file=${encodeURIComponent(secret)}`;
  const POOL = 'IIS APPPOOL\\DefaultAppPool';

  before(async () => {
    home = await tempDir('module');
    const root = path.join(home, 'www');
    await mkdir(root, { recursive: true });
    await mkdir(path.join(home, 'private'));
    secret = path.join(home, 'private', 'secret.txt');
    await writeFile(secret, 'for bob only');
    cli(home, ['user', 'add', 'bob', '--ntlm'], 'Bob-Module-1\n');
    cli(home, ['user', 'add', 'carol'], 'Carol-Module-1\n');
    // Only bob may read the secret: nothing inherited, one ACE.
    for (const args of [['inherit', secret, 'remove'], ['grant', secret, 'bob:R']]) {
      const r = persona(['--home', home, 'acl', ...args]);
      assert.equal(r.status, 0, r.stderr);
    }
    const handler = (module: string) => `[{ name: JsWho, path: who, kind: module, resourceType: Unspecified, module: ${JSON.stringify(path.join(FIXTURES, module))} }]`;
    port = await freePort();
    server = await startPersona(
      `
sites:
  - name: Modules
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${JSON.stringify(root)}
    settings:
      accessFlags: [read, script]
      authentication: { ntlm: { enabled: true }, basic: { enabled: true, realm: Modules } }
      handlers: ${handler('who.mjs')}
    locations:
      - path: /pool
        settings: { identity: { impersonate: false } }
      - path: /fixed
        settings: { identity: { userName: carol, password: Carol-Module-1 } }
      - path: /badfixed
        settings: { identity: { userName: carol, password: not-her-password } }
      - path: /throws
        settings: { handlers: ${handler('throws.mjs')} }
      - path: /broken
        settings: { handlers: ${handler('no-default.mjs')} }
      - path: /late
        settings: { handlers: ${handler('throws-late.mjs')} }
`,
      { home },
    );
  });
  after(async () => {
    await server?.stop();
  });

  test('anonymous runs as IUSR: persona.fs refuses the secret; revertToSelf is the pool identity, then IUSR again', async () => {
    const w = who(await get(url('/who')));
    assert.equal(w.user, 'NT AUTHORITY\\IUSR');
    assert.match(w.reason, /identity\.impersonate: true/);
    assert.equal(w.reverted, POOL);
    assert.equal(w.afterRevert, 'NT AUTHORITY\\IUSR');
    assert.equal(w.read, undefined);
    assert.match(w.readError!, /^EACCES: .*NT AUTHORITY\\IUSR may not read the file .*secret\.txt/);
    assert.equal(w.readReverted, 'EACCES', 'the pool identity is not granted the secret either');
  });

  test('Basic bob runs as bob and reads the secret; after revertToSelf the pool identity cannot', async () => {
    const w = who(await get(url('/who'), basic('bob', 'Bob-Module-1')));
    assert.match(w.user, /\\bob$/);
    assert.equal(w.requestUser, w.user);
    assert.equal(w.read, 'for bob only');
    assert.equal(w.reverted, POOL);
    assert.equal(w.afterRevert, w.user);
    assert.equal(w.readReverted, 'EACCES');
  });

  test('NTLM bob runs as bob too (a Network token, no delegation) and reads the secret', async () => {
    const w = who(await ntlmGet(url('/who'), 'bob', 'Bob-Module-1'));
    assert.match(w.user, /\\bob$/);
    assert.equal(w.read, 'for bob only');
    assert.equal(w.reverted, POOL);
  });

  test('carol (authenticated, not granted) is refused with the reason', async () => {
    const w = who(await get(url('/who'), basic('carol', 'Carol-Module-1')));
    assert.match(w.user, /\\carol$/);
    assert.match(w.readError!, /^EACCES: .*\\carol may not read the file/);
  });

  test('identity.impersonate: false runs as the process identity (IIS APPPOOL\\DefaultAppPool) whoever logs on', async () => {
    const w = who(await get(url('/pool/who'), basic('bob', 'Bob-Module-1')));
    assert.equal(w.user, POOL);
    assert.match(w.requestUser, /\\bob$/, 'the request token is still there');
    assert.match(w.reason, /identity\.impersonate: false/);
    assert.match(w.readError!, /^EACCES: .*IIS APPPOOL\\DefaultAppPool may not read/);
    assert.equal(who(await get(url('/pool/who'))).user, POOL);
  });

  test('identity.userName runs as that account, whoever the user is', async () => {
    const w = who(await get(url('/fixed/who'), basic('bob', 'Bob-Module-1')));
    assert.match(w.user, /\\carol$/);
    assert.match(w.requestUser, /\\bob$/);
    assert.match(w.reason, /fixed account/);
    assert.equal(who(await get(url('/fixed/who'))).user, w.user);
  });

  test('the start hook ran once, before the first request, as the process identity', async () => {
    for (const reply of [await get(url('/who'), basic('bob', 'Bob-Module-1')), await get(url('/who'))]) {
      const w = who(reply);
      assert.equal(w.startedAs, POOL);
      assert.equal(w.starts, 1);
    }
  });

  test('a fixed account that cannot log on: 500 with the reason, and the failed logon audited', async () => {
    const reply = await get(url('/badfixed/who'));
    assert.equal(reply.status, 500);
    assert.match(reply.text, /carol cannot log on/);
    assert.doesNotMatch(reply.text, /not-her-password/);
    const audit = await readFile(path.join(home, 'logs', 'audit.log'), 'utf8');
    assert.ok(
      audit.split('\n').filter(Boolean).some((l) => {
        const e = JSON.parse(l) as { eventId: number; account: string };
        return e.eventId === 4625 && e.account === 'carol';
      }),
      audit,
    );
    assert.doesNotMatch(audit, /not-her-password/);
  });

  test('a handler that throws before answering: 500 with the error; a module without a default export: 500 naming it', async () => {
    const thrown = await get(url('/throws/who'));
    assert.equal(thrown.status, 500);
    assert.match(thrown.text, /the database is on fire/);
    const broken = await get(url('/broken/who'));
    assert.equal(broken.status, 500);
    assert.match(broken.text, /no default export function/);
  });

  test('a handler that throws after sending headers: the connection is cut, the client never sees a complete response', async () => {
    await assert.rejects(get(url('/late/who')));
    // The server is still serving.
    assert.equal(who(await get(url('/who'))).user, 'NT AUTHORITY\\IUSR');
  });
});
