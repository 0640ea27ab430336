/**
 * `explain()` against a real SQLite account store and a real configuration in a temporary folder (no server): the
 * sections and their order; the login preview of every scheme (anonymous kinds, Basic, NTLM, Digest) with its
 * refusals (unknown, disabled, locked out, logon right revoked, scheme not enabled for the account, clear text from
 * another machine); the ACL walk, as a property: the step marked `decided` is exactly accessCheck's deciding ACE and
 * the verdict is accessCheck's; and the CGI, FastCGI and spawnAsUser rows are cgiIdentity's decisions (403.19 when a
 * process cannot run as the user).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { compileConfig, type CompiledConfig } from '../../src/config/compile.js';
import { loadConfigText } from '../../src/config/load.js';
import { resolveForUrl } from '../../src/config/show.js';
import { explain, type ExplainContext } from '../../src/explain/explain.js';
import { previewLogin } from '../../src/explain/login.js';
import type { CodeIdentity, Explanation, ExplainScheme } from '../../src/explain/model.js';
import { renderExplanation } from '../../src/explain/render.js';
import { cgiIdentity } from '../../src/identity/cgi-identity.js';
import { currentAccountSpawner } from '../../src/identity/current-account-spawner.js';
import { isSpawnRefusal } from '../../src/identity/spawn.js';
import { accessCheck, type AceWalkStep } from '../../src/security/access-check.js';
import { DesiredAccess, FileRight, GenericRight, SimpleRight } from '../../src/security/access-mask.js';
import { formatAce } from '../../src/security/ace-syntax.js';
import type { Ace, SecurityDescriptor } from '../../src/security/acl-types.js';
import { processIdentityToken } from '../../src/security/process-identity.js';
import type { SecurityServices } from '../../src/security/services.js';
import { WellKnownSid, type Sid } from '../../src/security/sid.js';
import { openTestSecurity, type TestSecurity } from '../helpers/security.js';

let testSecurity: TestSecurity;
let security: SecurityServices;
let config: CompiledConfig;
let root: string;

/** An OS account every Linux machine has, for the user mapped to one (explain looks it up with getent and id). */
const MAPPED_OS = 'daemon';
const HOST = 'http://127.0.0.1:8080';

const context = (canSwitchAccounts = true): ExplainContext => ({ config, security, canSwitchAccounts, selfAccount: 'persona-self' });

async function run(url: string, user?: string, scheme?: ExplainScheme, canSwitch = true): Promise<Explanation> {
  const result = await explain({ url: url.startsWith('http') ? url : `${HOST}${url}`, method: 'GET', user, scheme }, context(canSwitch));
  assert.ok(!('error' in result), 'error' in result ? result.error : '');
  return result;
}

function row(e: Explanation, prefix: string): CodeIdentity {
  const found = e.code.find((c) => c.code.startsWith(prefix));
  assert.ok(found, `no "${prefix}" row in ${e.code.map((c) => c.code).join(' | ')}`);
  return found;
}

before(async () => {
  testSecurity = await openTestSecurity('explain');
  ({ security } = testSecurity);
  root = path.join(testSecurity.dir, 'www');
  for (const dir of ['', 'p', 'secure']) await mkdir(path.join(root, dir), { recursive: true });
  for (const file of ['index.html', 'p/doc.txt', 'secure/index.html']) await writeFile(path.join(root, file), 'x');
  for (const file of ['run.cgi', 'p/run.cgi']) await writeFile(path.join(root, file), '#!/bin/sh\necho\n', { mode: 0o755 });
  await writeFile(path.join(testSecurity.dir, 'api.mjs'), 'export default (req, res) => res.end("ok");\n');

  const store = security.store;
  store.addDigestRealm('Explain');
  await store.createUser({ name: 'dave', password: 'Dave-pass-1', ntlm: true, digest: true, osAccount: MAPPED_OS });
  await store.createUser({ name: 'erin', password: 'Erin-pass-1' });
  await store.createUser({ name: 'frank', password: 'Frank-pass-1', ntlm: true });
  store.setDisabled('frank', true);
  await store.createUser({ name: 'gina', password: 'Gina-pass-1', ntlm: true });
  store.createGroup('Staff');

  const text = `
server:
  applicationPools:
    - { name: Locked, identity: www-data, replaceProcessToken: false }
sites:
  - name: Explain
    id: 1
    bindings: [{ protocol: http, ip: '*', port: 8080 }]
    physicalPath: ${JSON.stringify(root)}
    settings:
      accessFlags: [read, execute, script]
      authentication:
        ntlm: { enabled: true }
        digest: { enabled: true, realm: Explain }
        basic: { enabled: true, realm: Explain }
      handlers:
        - { name: CGI-sh, path: "*.cgi", kind: cgi }
        - { name: Api, path: api, kind: module, module: ${JSON.stringify(path.join(testSecurity.dir, 'api.mjs'))}, resourceType: Unspecified }
    applications:
      - { path: /locked, applicationPool: Locked, physicalPath: ${JSON.stringify(root)} }
    locations:
      - path: /pool
        settings: { cgi: { createProcessAsUser: false }, fastcgi: { impersonate: false } }
      - path: /imp
        settings: { fastcgi: { impersonate: true } }
      - path: /network
        settings: { authentication: { basic: { logonMethod: Network } } }
      - path: /batch
        settings: { authentication: { basic: { logonMethod: Batch } } }
      - path: /cleartext
        settings: { authentication: { basic: { allowCleartext: true } } }
      - path: /nodigest
        settings: { authentication: { digest: { realm: Nowhere } } }
      - path: /anon-pool
        settings: { authentication: { anonymous: { userName: "" } } }
      - path: /anon-account
        settings: { authentication: { anonymous: { userName: dave, password: Dave-pass-1, logonMethod: ClearText } } }
      - path: /anon-sync
        settings: { authentication: { anonymous: { userName: dave, passwordSync: true } } }
      - path: /anon-off
        settings: { authentication: { anonymous: { enabled: false } } }
      - path: /handler-pool
        settings: { identity: { impersonate: false } }
`;
  const file = path.join(testSecurity.dir, 'persona.yaml');
  await writeFile(file, text);
  const loaded = loadConfigText(text, file);
  assert.ok(!('problems' in loaded), 'problems' in loaded ? JSON.stringify(loaded.problems) : '');
  config = compileConfig(loaded, path.join(testSecurity.dir, 'logs'));
});

after(async () => {
  await testSecurity?.close();
});

describe('the sections', () => {
  test('the --json object holds the seven sections in the order issue 6 lists them, and the text renders them in that order', async () => {
    const e = await run('/secure/index.html', 'dave', 'basic');
    assert.deepEqual(Object.keys(e), ['request', 'config', 'filtering', 'challenges', 'login', 'access', 'code', 'otherSchemes', 'processModel']);
    assert.equal(e.config.site.name, 'Explain');
    assert.equal(e.config.application.applicationPool, 'DefaultAppPool');
    assert.ok(e.config.values.some((v) => v.property === 'authentication.basic.realm' && v.level.includes('Explain')), 'values say the level they came from');
    assert.equal(e.filtering.allowed, true);
    assert.ok(e.challenges.offered.length > 0);
    assert.equal(e.login.ok, true);
    assert.ok(e.access?.acl, 'the ACL walk is there');
    assert.ok(e.code.length >= 7, 'filter, handler, revertToSelf, CGI, FastCGI, child_process, spawnAsUser');
    assert.deepEqual(e.otherSchemes.map((s) => s.scheme), ['Anonymous', 'NTLM', 'Digest']);
    const text = renderExplanation(e);
    const at = [1, 2, 3, 4, 5, 6, 7].map((n) => text.indexOf(`== ${n}. `));
    assert.ok(at.every((i) => i >= 0), `every section is printed: ${at.join(',')}`);
    assert.deepEqual([...at].sort((a, b) => a - b), at, 'in order');
    // What the CLI prints (JSON.stringify) keeps the sections in that order.
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(e))), Object.keys(e));
  });

  test('challenges come in the configured order; a browser picks the strongest; a failed login reaches no access check', async () => {
    const e = await run('/secure/index.html', 'nobody-here', 'basic');
    assert.deepEqual(e.challenges.offered.map((l) => l.split(' ')[0]), ['NTLM', 'Digest', 'Digest', 'Basic']);
    assert.equal(e.challenges.browserPicks, 'NTLM');
    assert.equal(e.login.ok, false);
    assert.equal(e.access, null);
    assert.deepEqual(e.code.map((c) => c.code), ['filter (request and logging hooks)'], 'only the filters run when the login fails');
    assert.match(renderExplanation(e), /not reached: the login fails/);
  });

  test('without --scheme a user gets the scheme a browser would pick (NTLM here); without a user, anonymous', async () => {
    assert.equal((await run('/index.html', 'dave')).request.scheme, 'ntlm');
    assert.equal((await run('/index.html')).request.scheme, 'anonymous');
  });
});

describe('the login preview, per scheme', () => {
  test('anonymous: the built-in IUSR, not delegable, CGI as nobody', async () => {
    const e = await run('/index.html');
    const t = e.login.token!;
    assert.equal(t.user.sid, WellKnownSid.Iusr);
    assert.equal(t.authPackage, 'Anonymous');
    assert.equal(t.delegable, false);
    assert.equal(row(e, 'CGI').os?.account, 'nobody');
  });

  test('anonymous with userName "": the process identity (the pool), not delegable, CGI as the pool account', async () => {
    const e = await run('/anon-pool/index.html');
    const t = e.login.token!;
    assert.equal(t.user.name, 'IIS APPPOOL\\DefaultAppPool');
    assert.equal(t.authPackage, 'Process');
    assert.equal(t.delegable, false);
    assert.equal(t.osAccount, 'www-data');
    assert.match(e.login.reason, /process identity/);
    assert.equal(row(e, 'CGI').os?.account, 'www-data');
  });

  test('anonymous as a configured account: ClearText keeps a delegable password; passwordSync gives a network token that is not', async () => {
    const account = await run('/anon-account/index.html');
    assert.equal(account.login.token!.user.name, 'TESTBOX\\dave');
    assert.equal(account.login.token!.logonType, 'NetworkCleartext');
    assert.equal(account.login.token!.authPackage, 'Anonymous');
    assert.equal(account.login.token!.delegable, true);
    const sync = await run('/anon-sync/index.html');
    assert.equal(sync.login.token!.user.name, 'TESTBOX\\dave');
    assert.equal(sync.login.token!.logonType, 'Network');
    assert.equal(sync.login.token!.delegable, false);
    assert.match(sync.login.reason, /password sync/);
    // Password sync checks no password (logon.ts: "everything but the password"): the preview must not say it does.
    assert.doesNotMatch(sync.login.reason, /password is right/, sync.login.reason);
    assert.ok(sync.login.token!.groups.some((g) => g.sid === WellKnownSid.Network), 'a network logon carries NETWORK');
  });

  test('anonymous disabled: 401.2', async () => {
    const e = await run('/anon-off/index.html');
    assert.equal(e.login.ok, false);
    assert.equal(e.login.status, '401.2');
  });

  test('Basic: a ClearText logon (delegable); logonMethod Network is not', async () => {
    const clear = await run('/index.html', 'dave', 'basic');
    assert.equal(clear.login.token!.logonType, 'NetworkCleartext');
    assert.equal(clear.login.token!.authPackage, 'Basic');
    assert.equal(clear.login.token!.delegable, true);
    assert.match(row(clear, 'JS handler module').network, /^can reach network resources as TESTBOX\\dave/);
    const network = await run('/network/index.html', 'dave', 'basic');
    assert.equal(network.login.token!.logonType, 'Network');
    assert.equal(network.login.token!.delegable, false);
    assert.match(network.login.token!.delegation, /double hop/);
    assert.match(row(network, 'JS handler module').network, /^cannot reach network resources as TESTBOX\\dave/);
  });

  test('Basic over plain HTTP to a name that is not this machine: 403.4, and no Basic challenge; allowCleartext lifts it', async () => {
    const e = await run('http://persona.example:8080/index.html', 'dave', 'basic');
    assert.equal(e.login.ok, false);
    assert.equal(e.login.status, '403.4');
    assert.match(e.login.reason, /HTTPS/);
    assert.ok(!e.challenges.offered.some((l) => l.startsWith('Basic')));
    const allowed = await run('http://persona.example:8080/cleartext/index.html', 'dave', 'basic');
    assert.equal(allowed.login.ok, true);
  });

  test('NTLM: needs --ntlm (401.1 with the reason); the token is Network, NTLM, not delegable', async () => {
    const refused = await run('/index.html', 'erin', 'ntlm');
    assert.equal(refused.login.status, '401.1');
    assert.match(refused.login.reason, /no NT hash.*--ntlm/);
    const e = await run('/index.html', 'dave', 'ntlm');
    assert.equal(e.login.token!.logonType, 'Network');
    assert.equal(e.login.token!.authPackage, 'NTLM');
    assert.equal(e.login.token!.delegable, false);
  });

  test('Digest: needs --digest; names its realm; a realm without verifiers is refused', async () => {
    const refused = await run('/index.html', 'erin', 'digest');
    assert.equal(refused.login.status, '401.1');
    assert.match(refused.login.reason, /--digest/);
    const e = await run('/index.html', 'dave', 'digest');
    assert.equal(e.login.ok, true);
    assert.match(e.login.reason, /realm "Explain"/);
    assert.equal(e.login.token!.authPackage, 'Digest');
    assert.equal(e.login.token!.delegable, false);
    const nowhere = await run('/nodigest/index.html', 'dave', 'digest');
    assert.equal(nowhere.login.status, '401.1');
    assert.match(nowhere.login.reason, /realm "Nowhere" has no verifiers/);
  });

  test('unknown, disabled and locked-out users: 401.1 with the reason, for every scheme', async () => {
    for (const scheme of ['basic', 'ntlm'] as const) {
      const unknown = await run('/index.html', 'zed', scheme);
      assert.equal(unknown.login.status, '401.1');
      assert.match(unknown.login.reason, /no local user "zed".*STATUS_NO_SUCH_USER/);
      const disabled = await run('/index.html', 'frank', scheme);
      assert.equal(disabled.login.status, '401.1');
      assert.match(disabled.login.reason, /disabled.*STATUS_ACCOUNT_DISABLED/);
    }
    const store = security.store;
    const policy = store.lockoutPolicy();
    store.setLockoutPolicy({ threshold: 1, observationWindowSeconds: 600, durationSeconds: 0 });
    try {
      store.recordFailure(store.findUser('gina')!.sid, Date.now());
      for (const scheme of ['basic', 'ntlm'] as const) {
        const locked = await run('/index.html', 'gina', scheme);
        assert.equal(locked.login.status, '401.1');
        assert.match(locked.login.reason, /locked out.*STATUS_ACCOUNT_LOCKED_OUT/);
      }
    } finally {
      store.unlock('gina');
      store.setLockoutPolicy(policy);
    }
    assert.equal((await run('/index.html', 'gina', 'basic')).login.ok, true, 'unlocked again');
  });

  test('a logon right granted, then revoked: the Batch logon works, then fails with STATUS_LOGON_TYPE_NOT_GRANTED', async () => {
    const store = security.store;
    store.grantRight('dave', 'SeBatchLogonRight');
    try {
      const granted = await run('/batch/index.html', 'dave', 'basic');
      assert.equal(granted.login.ok, true);
      assert.equal(granted.login.token!.logonType, 'Batch');
    } finally {
      store.revokeRight('dave', 'SeBatchLogonRight');
    }
    const revoked = await run('/batch/index.html', 'dave', 'basic');
    assert.equal(revoked.login.status, '401.1');
    assert.match(revoked.login.reason, /SeBatchLogonRight.*STATUS_LOGON_TYPE_NOT_GRANTED/);
    // The network logon right too, from every group dave holds it through.
    for (const group of ['Everyone', 'Users']) store.revokeRight(group, 'SeNetworkLogonRight');
    try {
      const ntlm = await run('/index.html', 'dave', 'ntlm');
      assert.equal(ntlm.login.status, '401.1');
      assert.match(ntlm.login.reason, /SeNetworkLogonRight/);
    } finally {
      for (const group of ['Everyone', 'Users']) store.grantRight(group, 'SeNetworkLogonRight');
    }
  });

  test('negotiate and client certificates are said to be unimplemented (401.2)', async () => {
    for (const scheme of ['negotiate', 'cert'] as const) {
      const e = await run('/index.html', 'dave', scheme);
      assert.equal(e.login.status, '401.2');
      assert.match(e.login.reason, /not implemented/);
    }
  });

  test('the other-schemes lines are each scheme\'s own preview', async () => {
    const e = await run('/network/index.html', 'erin', 'basic');
    const line = (s: string) => e.otherSchemes.find((o) => o.scheme === s)!.summary;
    assert.match(line('NTLM'), /^refused \(401\.1\): .*--ntlm/);
    assert.match(line('Digest'), /^refused \(401\.1\): .*--digest/);
    assert.match(line('Anonymous'), /NT AUTHORITY\\IUSR.*no delegable credentials; CGI as nobody/);
  });
});

describe('who runs the code: the rows are the decision functions', () => {
  const pool = { name: 'DefaultAppPool', replaceProcessToken: true };

  test('CGI, FastCGI and spawnAsUser rows equal cgiIdentity for the previewed token, in every combination', async () => {
    const cases: { url: string; user?: string; scheme?: ExplainScheme; pool: { name: string; replaceProcessToken: boolean } }[] = [];
    for (const prefix of ['', '/pool', '/imp', '/locked', '/handler-pool', '/anon-pool']) {
      for (const [user, scheme] of [[undefined, undefined], ['dave', 'basic'], ['dave', 'ntlm'], ['erin', 'basic']] as const) {
        cases.push({ url: `${prefix}/run.cgi`, user, scheme, pool: prefix === '/locked' ? { name: 'Locked', replaceProcessToken: false } : pool });
      }
    }
    for (const c of cases) {
      const e = await run(c.url, c.user, c.scheme);
      const resolved = resolveForUrl(config, e.request.url);
      assert.ok(!('error' in resolved));
      const settings = resolved.resolution.settings;
      const preview = previewLogin({
        store: security.store,
        settings: settings.authentication,
        scheme: e.request.scheme!,
        user: c.user,
        pool: c.pool.name,
        poolAccount: 'www-data',
        secure: false,
        loopback: true,
      });
      assert.ok(preview.token, `${c.url} ${c.user}: ${preview.report.reason}`);
      const token = preview.token;
      const expect = (code: CodeIdentity, createProcessAsUser: boolean, tokenFor = token): void => {
        const d = cgiIdentity({ token: tokenFor, createProcessAsUser, pool: c.pool, poolAccount: 'www-data' });
        const what = `${c.url} as ${c.user ?? 'anonymous'}: ${code.code}`;
        if (d.ok) {
          assert.equal(code.refused, undefined, what);
          assert.equal(code.os?.account, d.account, what);
        } else {
          assert.equal(code.os, null, what);
          assert.match(code.refused!, /^403\.19: /, what);
        }
      };
      const cgiFlag = settings.cgi.createProcessAsUser;
      const fastcgiFlag = settings.fastcgi.impersonate;
      assert.equal(row(e, 'CGI').code, `CGI (createProcessAsUser: ${cgiFlag})`);
      expect(row(e, 'CGI'), cgiFlag);
      expect(row(e, 'FastCGI'), fastcgiFlag);
      // spawnAsUser runs as the handler's identity: the request token, or the pool's when identity.impersonate is false.
      const handler = row(e, 'JS handler module');
      const handlerToken = settings.identity.impersonate ? token : processIdentityToken(c.pool.name, 'www-data');
      assert.equal(handler.identity, handlerToken.user.name);
      expect(row(e, 'persona.spawnAsUser'), true, handlerToken);
      // Plain child_process and filters are the worker, whoever the user is.
      assert.equal(row(e, 'a process a JS handler starts').os?.account, 'www-data');
      assert.equal(row(e, 'filter').os?.account, 'www-data');
      assert.equal(row(e, 'JS handler module after revertToSelf').identity, `IIS APPPOOL\\${c.pool.name}`);
    }
  });

  test('403.19 with the reason: a user without an OS account, and a pool without replaceProcessToken', async () => {
    const unmapped = await run('/run.cgi', 'erin', 'basic');
    assert.match(row(unmapped, 'CGI').refused!, /^403\.19: TESTBOX\\erin has no OS account/);
    assert.match(row(unmapped, 'persona.spawnAsUser').refused!, /^403\.19: /);
    const locked = await run('/locked/run.cgi', 'dave', 'basic');
    assert.match(row(locked, 'CGI').refused!, /^403\.19: .*replaceProcessToken/);
    const mapped = await run('/run.cgi', 'dave', 'basic');
    const os = row(mapped, 'CGI').os!;
    assert.equal(os.account, MAPPED_OS);
    assert.equal(typeof os.uid, 'number', 'the OS account is looked up: uid, gid, groups');
    assert.ok(os.groups.length > 0);
  });

  test('not running as root: the pool account is this process\'s, and the process model says so', async () => {
    const e = await run('/pool/run.cgi', 'dave', 'basic', false);
    assert.equal(row(e, 'CGI').os?.account, 'persona-self');
    assert.equal(row(e, 'CGI').os?.uid, null, 'an account that does not exist here has no ids');
    assert.match(e.processModel, /does not run as root.*403\.19/);
  });

  test('not running as root: CGI as a mapped user is predicted refused (403.19), as the spawner that cannot switch refuses it', async () => {
    // What the server does without root: its spawner starts processes as its own account only.
    const self = os.userInfo().username;
    const spawner = currentAccountSpawner();
    const refusal = await spawner.spawn({ account: MAPPED_OS, file: '/bin/true', args: [], env: {}, cwd: '/', purpose: 'CGI /run.cgi as TESTBOX\\dave' });
    assert.ok(isSpawnRefusal(refusal));
    assert.deepEqual([refusal.status, refusal.substatus], [403, 19]);
    // What explain predicts for the same request, when it runs as that same account.
    const result = await explain({ url: `${HOST}/run.cgi`, method: 'GET', user: 'dave', scheme: 'basic' }, { config, security, canSwitchAccounts: false, selfAccount: self });
    assert.ok(!('error' in result));
    for (const code of ['CGI', 'persona.spawnAsUser']) {
      const r = row(result, code);
      assert.equal(r.os, null, `${code}: explain says it runs as ${r.os?.account}, but without root the server refuses to start it as ${MAPPED_OS}`);
      assert.match(r.refused ?? '', /^403\.19: /);
    }
    const ntlm = result.otherSchemes.find((s) => s.scheme === 'NTLM')!;
    assert.match(ntlm.summary, /CGI refused 403\.19/);
  });
});

describe('the ACL walk', () => {
  /** The SIDs tokens of this store carry, and some they never do. */
  let sidPool: Sid[];
  const GENERIC = [GenericRight.READ, GenericRight.EXECUTE, GenericRight.ALL, GenericRight.WRITE];
  const MASKS = [...Object.values(SimpleRight), ...GENERIC, FileRight.READ_DATA, FileRight.SYNCHRONIZE, FileRight.EXECUTE, (FileRight.READ_DATA | FileRight.READ_EA) >>> 0];

  before(() => {
    const store = security.store;
    sidPool = [
      store.findUser('dave')!.sid,
      store.findUser('erin')!.sid,
      store.findGroup('Staff')!.sid,
      WellKnownSid.Everyone,
      WellKnownSid.Users,
      WellKnownSid.AuthenticatedUsers,
      WellKnownSid.Iusr,
      WellKnownSid.Network,
      WellKnownSid.Administrators,
    ];
  });

  const arbAce = (): fc.Arbitrary<Ace> =>
    fc.record({
      type: fc.constantFrom('allow' as const, 'deny' as const),
      sid: fc.constantFrom(...sidPool),
      mask: fc.constantFrom(...MASKS),
      flags: fc.record({ objectInherit: fc.boolean(), containerInherit: fc.boolean(), inheritOnly: fc.boolean(), noPropagate: fc.constant(false), inherited: fc.constant(false) }),
    });
  const arbDescriptor = (): fc.Arbitrary<SecurityDescriptor | null> =>
    fc.oneof(
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.record({ dacl: fc.constant(null), protected: fc.boolean() }) },
      { weight: 8, arbitrary: fc.record({ dacl: fc.array(arbAce(), { maxLength: 6 }), protected: fc.boolean() }) },
    );

  test('property: the step marked decided is accessCheck\'s deciding ACE, the walk stops there, and the verdict is accessCheck\'s', async () => {
    const store = security.store;
    const folder = path.join(root, 'p');
    try {
      await fc.assert(
        fc.asyncProperty(
          arbDescriptor(),
          arbDescriptor(),
          fc.constantFrom(['doc.txt', DesiredAccess.readFile] as const, ['run.cgi', (DesiredAccess.readFile | DesiredAccess.executeFile) >>> 0] as const),
          fc.constantFrom<[string | undefined, ExplainScheme | undefined]>([undefined, undefined], ['dave', 'basic'], ['dave', 'ntlm'], ['erin', 'basic']),
          fc.boolean(),
          async (folderSd, fileSd, [file, desired], [user, scheme], inStaff) => {
            const target = path.join(folder, file);
            store.setDescriptor(folder, folderSd);
            store.setDescriptor(target, fileSd);
            const member = store.members('Staff').length > 0;
            if (inStaff && !member) store.addMember('Staff', 'dave');
            if (!inStaff && member) store.removeMember('Staff', 'dave');

            const e = await run(`/p/${file}`, user, scheme);

            const token = e.login.token!;
            const sids = new Set([token.user.sid, ...token.groups.map((g) => g.sid)]);
            const dacl = security.acl.effective(target, false);
            const reference = accessCheck(sids, dacl, desired);
            const acl = e.access?.acl;
            assert.ok(acl, 'the walk is reported');
            assert.equal(acl.path, target);
            assert.equal(acl.allowed, reference.allowed);
            assert.equal(acl.reason, reference.reason);
            const decided = acl.walk.flatMap((s, i) => (s.decided ? [i] : []));
            if (reference.decidingAce === null) {
              assert.deepEqual(decided, [], 'no ACE decided: none is marked');
              assert.equal(acl.walk.length, dacl.aces?.length ?? 0, 'every ACE was walked');
            } else {
              assert.deepEqual(decided, [acl.walk.length - 1], 'the walk stops at the deciding ACE, and only it is marked');
              const step = acl.walk.at(-1)!;
              assert.equal(step.ace, `${reference.decidingAce.type} ${formatAce(reference.decidingAce, (sid) => store.nameOf(sid))}`);
              assert.equal(step.from, reference.decidingAcePath);
              assert.match(step.effect, reference.allowed ? /^granted / : /^denied /);
            }
            // The walk is accessCheck's own, step by step (onAce), over the effective DACL in order.
            const steps: AceWalkStep[] = [];
            accessCheck(sids, dacl, desired, (step) => steps.push(step));
            assert.equal(acl.walk.length, steps.length);
            acl.walk.forEach((s, i) => {
              assert.equal(s.from, dacl.aces![i]!.from);
              assert.equal(s.ace, `${steps[i]!.ace.ace.type} ${formatAce(steps[i]!.ace.ace, (sid) => store.nameOf(sid))}`);
              assert.ok(s.effect.startsWith(steps[i]!.effect), `${s.effect} / ${steps[i]!.effect}`);
            });
            // The request's status follows the decision (the access flags allow everything here).
            assert.equal(e.access!.status === '200', reference.allowed, `${e.access!.status} ${e.access!.reason}`);
          },
        ),
        { numRuns: 80 },
      );
    } finally {
      for (const p of [folder, path.join(folder, 'doc.txt'), path.join(folder, 'run.cgi')]) store.setDescriptor(p, null);
    }
  });

  test('a denied anonymous request ends 401.2 (a browser then logs on), a denied user 401.3, with the deciding ACE', async () => {
    const store = security.store;
    const target = path.join(root, 'secure', 'index.html');
    store.setDescriptor(target, { protected: true, dacl: [{ type: 'allow', sid: store.findUser('dave')!.sid, mask: GenericRight.READ, flags: { objectInherit: false, containerInherit: false, inheritOnly: false, noPropagate: false, inherited: false } }] });
    try {
      const anonymous = await run('/secure/index.html');
      assert.equal(anonymous.access!.status, '401.2');
      const erin = await run('/secure/index.html', 'erin', 'basic');
      assert.equal(erin.access!.status, '401.3');
      assert.equal(erin.access!.acl!.allowed, false);
      const dave = await run('/secure/index.html', 'dave', 'basic');
      assert.equal(dave.access!.status, '200');
      assert.deepEqual(dave.access!.acl!.walk.map((s) => s.decided), [true]);
    } finally {
      store.setDescriptor(target, null);
    }
  });
});
