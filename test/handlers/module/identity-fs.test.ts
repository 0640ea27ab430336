/**
 * persona.fs with the real account store and real files: the ACL is checked with the CURRENT identity of the
 * async flow. A file readable by bob but not alice is read impersonating bob and refused for alice, with the
 * deciding ACE in the error (issue 5's "ACL enforcement inside handlers"); writes and listings likewise; symlinks
 * are checked where they lead.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createIdentityFs } from '../../../src/handlers/module/identity-fs.js';
import { AccessDeniedError } from '../../../src/handlers/module/access-denied.js';
import { currentIdentity, runAs } from '../../../src/handlers/module/identity-context.js';
import type { IdentityFs } from '../../../src/handlers/module/contract.js';
import { parseAceSpec } from '../../../src/security/ace-syntax.js';
import type { Ace } from '../../../src/security/acl-types.js';
import { logonUser } from '../../../src/security/logon.js';
import type { SecurityServices } from '../../../src/security/services.js';
import type { Token } from '../../../src/security/token.js';
import { openTestSecurity, type TestSecurity } from '../../helpers/security.js';

let dir: string;
let security: SecurityServices;
let testSecurity: TestSecurity;
let bob: Token;
let alice: Token;
let fs: IdentityFs;
const denials: string[] = [];

function ace(spec: string, type: 'allow' | 'deny' = 'allow'): Ace {
  const parsed = parseAceSpec(spec, (n) => security.store.resolvePrincipal(n), type);
  assert.ok(!('error' in parsed), JSON.stringify(parsed));
  return parsed;
}

async function logon(name: string, password: string): Promise<Token> {
  const r = await logonUser(security.store, { name, domain: undefined, password, logonMethod: 'ClearText', authPackage: 'Basic', defaultLogonDomain: '', clientAddress: '127.0.0.1' }, security.audit);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.token;
}

const as = <T>(token: Token, fn: () => T): T => runAs({ token, reason: 'test' }, fn);

before(async () => {
  testSecurity = await openTestSecurity('module-fs');
  ({ security, dir } = testSecurity);
  await security.store.createUser({ name: 'bob', password: 'Bob-pass-1' });
  await security.store.createUser({ name: 'alice', password: 'Alice-pass-1' });
  bob = await logon('bob', 'Bob-pass-1');
  alice = await logon('alice', 'Alice-pass-1');

  // data/: only bob and alice, explicitly (protected: nothing inherited from the installation's root ACL).
  const data = path.join(dir, 'data');
  await mkdir(path.join(data, 'drop'), { recursive: true });
  security.store.setDescriptor(data, { dacl: [ace('bob:(OI)(CI)R'), ace('alice:(OI)(CI)R')], protected: true });
  // secret.txt: alice is denied by an explicit ACE; bob keeps the inherited read.
  await writeFile(path.join(data, 'secret.txt'), 'for bob only');
  security.store.setDescriptor(path.join(data, 'secret.txt'), { dacl: [ace('alice:R', 'deny')], protected: false });
  // bob-only.txt: protected, bob alone: alice matches no ACE at all.
  await writeFile(path.join(data, 'bob-only.txt'), 'bob alone');
  security.store.setDescriptor(path.join(data, 'bob-only.txt'), { dacl: [ace('bob:R')], protected: true });
  // drop/: bob may write (create files), alice only read.
  security.store.setDescriptor(path.join(data, 'drop'), { dacl: [ace('bob:(OI)(CI)M')], protected: false });
  // A symlink readable by both that leads to the secret: the check is on the target.
  await symlink(path.join(data, 'secret.txt'), path.join(data, 'link-to-secret'));

  // The fs reads the identity from the async context, as the handler context does.
  fs = createIdentityFs({
    acl: security.acl,
    nameOf: (sid) => security.store.nameOf(sid),
    identity: () => currentIdentity() ?? assert.fail('no identity in the async context'),
    onDenied: (token, target) => denials.push(`${token.user.name} ${target}`),
  });
});
after(async () => {
  await testSecurity.close();
});

const data = (...p: string[]) => path.join(dir, 'data', ...p);

test('a file readable by bob but not alice: read impersonating bob, refused for alice naming the deciding deny ACE', async () => {
  assert.equal(await as(bob, () => fs.readFile(data('secret.txt'), 'utf8')), 'for bob only');
  assert.deepEqual(await as(bob, () => fs.readFile(data('secret.txt'))), Buffer.from('for bob only'));
  const err = await as(alice, () => fs.readFile(data('secret.txt'), 'utf8')).then(
    () => assert.fail('alice read the secret'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AccessDeniedError);
  assert.equal(err.code, 'EACCES');
  assert.equal(err.user, 'TESTBOX\\alice');
  assert.equal(err.path, data('secret.txt'));
  assert.equal(err.decision.allowed, false);
  assert.equal(err.decision.decidingAce?.type, 'deny');
  assert.match(err.message, /TESTBOX\\alice may not read the file .*secret\.txt/);
  assert.match(err.message, /deciding ACE is TESTBOX\\alice:\(DENY\)\(R\) on .*secret\.txt/);
  assert.ok(denials.includes(`TESTBOX\\alice ${data('secret.txt')}`), 'the refusal is reported (audited by the caller)');
});

test('a file no ACE grants to alice: refused with the access check reason', async () => {
  assert.equal(await as(bob, () => fs.readFile(data('bob-only.txt'), 'utf8')), 'bob alone');
  await assert.rejects(
    as(alice, () => fs.readFile(data('bob-only.txt'))),
    (e: unknown) => e instanceof AccessDeniedError && e.decision.decidingAce === null && /TESTBOX\\alice may not read the file/.test(e.message),
  );
});

test('a symlink is checked where it leads', async () => {
  assert.equal(await as(bob, () => fs.readFile(data('link-to-secret'), 'utf8')), 'for bob only');
  await assert.rejects(as(alice, () => fs.readFile(data('link-to-secret'))), (e: unknown) => e instanceof AccessDeniedError && e.path === data('secret.txt'));
});

test('the identity is the current one: the same fs object refuses or allows as the flow impersonates', async () => {
  const result = await as(alice, async () => {
    const denied = await fs.readFile(data('secret.txt'), 'utf8').catch((e: NodeJS.ErrnoException) => e.code);
    const asBob = await runAs({ token: bob, reason: 'impersonate' }, () => fs.readFile(data('secret.txt'), 'utf8'));
    const again = await fs.readFile(data('secret.txt'), 'utf8').catch((e: NodeJS.ErrnoException) => e.code);
    return [denied, asBob, again];
  });
  assert.deepEqual(result, ['EACCES', 'for bob only', 'EACCES']);
});

test('writeFile: a new file needs write on its folder (inherited); an existing one its own ACL', async () => {
  await as(bob, () => fs.writeFile(data('drop', 'new.txt'), 'from bob'));
  assert.equal(await readFile(data('drop', 'new.txt'), 'utf8'), 'from bob');
  await assert.rejects(as(alice, () => fs.writeFile(data('drop', 'alice.txt'), 'x')), (e: unknown) => e instanceof AccessDeniedError && /may not write the file/.test(e.message));
  await assert.rejects(readFile(data('drop', 'alice.txt')), { code: 'ENOENT' });
  await assert.rejects(as(alice, () => fs.writeFile(data('drop', 'new.txt'), 'overwritten')), AccessDeniedError);
  await as(bob, () => fs.writeFile(data('drop', 'new.txt'), new TextEncoder().encode('again')));
  assert.equal(await readFile(data('drop', 'new.txt'), 'utf8'), 'again');
});

test('readdir needs List folder; missing files are ENOENT, not an access decision', async () => {
  assert.ok((await as(alice, () => fs.readdir(data()))).includes('secret.txt'));
  await assert.rejects(as(iusrLike(), () => fs.readdir(data())), (e: unknown) => e instanceof AccessDeniedError && /may not list the folder/.test(e.message));
  await assert.rejects(as(bob, () => fs.readFile(data('missing.txt'))), { code: 'ENOENT' });
});

/** A token with bob's shape but none of the SIDs data/ grants. */
function iusrLike(): Token {
  return { ...bob, user: { sid: 'S-1-5-21-1-2-3-999', name: 'TESTBOX\\nobody' }, groups: [] };
}
