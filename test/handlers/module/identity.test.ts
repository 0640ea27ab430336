/**
 * The identity a handler module runs as (ASP.NET <identity>), and the async context that carries it: RevertToSelf
 * and impersonation nest and restore, and interleaved flows (two requests at once) each keep their own identity.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { moduleIdentity } from '../../../src/handlers/module/identity.js';
import { currentIdentity, runAs } from '../../../src/handlers/module/identity-context.js';
import { createHandlerContext } from '../../../src/handlers/module/handler-context.js';
import { currentAccountSpawner } from '../../../src/identity/current-account-spawner.js';
import { iusrToken, processIdentityToken } from '../../../src/security/process-identity.js';
import { logonUser } from '../../../src/security/logon.js';
import type { SecurityServices } from '../../../src/security/services.js';
import type { Token } from '../../../src/security/token.js';
import type { HandlerContext } from '../../../src/handlers/module/contract.js';
import { openTestSecurity, type TestSecurity } from '../../helpers/security.js';

let security: SecurityServices;
let testSecurity: TestSecurity;
let bob: Token;
let alice: Token;
const pool = processIdentityToken('DefaultAppPool', 'www-data');
const iusr = iusrToken('ClearText');

async function logon(name: string, password: string): Promise<Token> {
  const r = await logonUser(security.store, { name, domain: undefined, password, logonMethod: 'ClearText', authPackage: 'Basic', defaultLogonDomain: '', clientAddress: '127.0.0.1' }, security.audit);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.token;
}

before(async () => {
  testSecurity = await openTestSecurity('module-id');
  ({ security } = testSecurity);
  await security.store.createUser({ name: 'bob', password: 'Bob-pass-1' });
  await security.store.createUser({ name: 'alice', password: 'Alice-pass-1' });
  bob = await logon('bob', 'Bob-pass-1');
  alice = await logon('alice', 'Alice-pass-1');
});
after(async () => {
  await testSecurity.close();
});

function context(requestToken: Token): HandlerContext {
  return createHandlerContext({
    requestToken,
    processToken: pool,
    identity: { token: requestToken, reason: 'test' },
    security,
    spawner: currentAccountSpawner(),
    pool: { name: 'DefaultAppPool', replaceProcessToken: true },
    poolAccount: 'www-data',
    clientAddress: '127.0.0.1',
    defaultCwd: testSecurity.dir,
  });
}

const who = (persona: HandlerContext) => persona.identity().token.user.name;

test('impersonate: true runs as the request token (IUSR for anonymous, the user for Basic)', () => {
  const s = { impersonate: true, userName: '', password: '' };
  const anon = moduleIdentity(s, iusr, pool);
  assert.ok(anon.ok);
  assert.equal(anon.token, iusr);
  assert.match(anon.reason, /request token NT AUTHORITY\\IUSR.*impersonate: true/);
  const basic = moduleIdentity(s, bob, pool);
  assert.ok(basic.ok);
  assert.equal(basic.token, bob);
});

test('impersonate: false runs as the process identity, whoever the user is', () => {
  const d = moduleIdentity({ impersonate: false, userName: '', password: '' }, bob, pool);
  assert.ok(d.ok);
  assert.equal(d.token, pool);
  assert.match(d.reason, /process identity IIS APPPOOL\\DefaultAppPool \(identity.impersonate: false\)/);
});

test('a fixed userName wins over impersonate; its failed logon is a 500 with the reason', () => {
  const s = { impersonate: true, userName: 'alice', password: 'x' };
  const fixed = moduleIdentity(s, bob, pool, { ok: true, token: alice });
  assert.ok(fixed.ok);
  assert.equal(fixed.token, alice);
  assert.match(fixed.reason, /fixed account TESTBOX\\alice/);
  const failed = moduleIdentity(s, bob, pool, { ok: false, reason: 'STATUS_LOGON_FAILURE: wrong password' });
  assert.ok(!failed.ok);
  assert.equal(failed.status, 500);
  assert.match(failed.reason, /alice cannot log on: STATUS_LOGON_FAILURE: wrong password/);
  const missing = moduleIdentity(s, bob, pool);
  assert.ok(!missing.ok);
});

test('outside any flow there is no current identity; the context falls back to the handler identity it was made with', () => {
  assert.equal(currentIdentity(), undefined);
  assert.equal(who(context(bob)), 'TESTBOX\\bob');
});

test('revertToSelf and impersonate nest and restore, synchronously and across awaits', async () => {
  const persona = context(bob);
  await runAs({ token: bob, reason: 'request' }, async () => {
    assert.equal(who(persona), 'TESTBOX\\bob');
    persona.revertToSelf(() => {
      assert.equal(who(persona), 'IIS APPPOOL\\DefaultAppPool');
      persona.impersonate(alice, () => assert.equal(who(persona), 'TESTBOX\\alice'));
      assert.equal(who(persona), 'IIS APPPOOL\\DefaultAppPool');
    });
    assert.equal(who(persona), 'TESTBOX\\bob');
    const inside = await persona.revertToSelf(async () => {
      await tick();
      const a = who(persona);
      const nested = await persona.impersonate(alice, async () => {
        await tick();
        return who(persona);
      });
      await tick();
      return [a, nested, who(persona)];
    });
    assert.deepEqual(inside, ['IIS APPPOOL\\DefaultAppPool', 'TESTBOX\\alice', 'IIS APPPOOL\\DefaultAppPool']);
    assert.equal(who(persona), 'TESTBOX\\bob');
    assert.equal(persona.requestToken, bob, 'the request token does not change with impersonation');
  });
  assert.equal(currentIdentity(), undefined);
});

test('a throwing revertToSelf still restores the identity', () => {
  const persona = context(bob);
  runAs({ token: bob, reason: 'request' }, () => {
    assert.throws(() => persona.revertToSelf(() => {
      throw new Error('boom');
    }), /boom/);
    assert.equal(who(persona), 'TESTBOX\\bob');
  });
});

test('two interleaved flows keep their own identity, also timers and promise chains they start', async () => {
  const seen: string[] = [];
  const flow = (token: Token, label: string) =>
    runAs({ token, reason: label }, async () => {
      const persona = context(token);
      for (let i = 0; i < 5; i++) {
        await tick();
        seen.push(`${label}:${who(persona)}`);
        if (i === 2) {
          // A revert in one flow does not leak into the other.
          await persona.revertToSelf(async () => {
            await tick();
            seen.push(`${label}-reverted:${who(persona)}`);
          });
        }
      }
      await new Promise<void>((resolve) => setTimeout(() => (seen.push(`${label}-timer:${who(persona)}`), resolve()), 1));
    });
  await Promise.all([flow(bob, 'b'), flow(alice, 'a'), flow(iusr, 'i')]);
  const expected: Record<string, string> = { b: 'TESTBOX\\bob', a: 'TESTBOX\\alice', i: 'NT AUTHORITY\\IUSR' };
  assert.equal(seen.length, 3 * 7);
  for (const entry of seen) {
    const [label, name] = [entry.slice(0, entry.indexOf(':')), entry.slice(entry.indexOf(':') + 1)];
    if (label.endsWith('-reverted')) assert.equal(name, 'IIS APPPOOL\\DefaultAppPool', entry);
    else assert.equal(name, expected[label.replace('-timer', '')], entry);
  }
  // The flows really interleaved: alice's flow had started before bob's ended.
  assert.ok(seen.findIndex((e) => e.startsWith('a:')) < seen.findLastIndex((e) => e.startsWith('b:')));
});

test('logonUser gives a token (Basic package, mapped like any password logon) or null; impersonating it changes the identity', async () => {
  const persona = context(iusr);
  assert.equal(await persona.logonUser('alice', 'wrong'), null);
  const token = await persona.logonUser('alice', 'Alice-pass-1');
  assert.ok(token);
  assert.equal(token.authPackage, 'Basic');
  assert.equal(token.logonType, 'NetworkCleartext');
  runAs({ token: iusr, reason: 'request' }, () => {
    assert.equal(persona.impersonate(token, () => who(persona)), 'TESTBOX\\alice');
    assert.equal(who(persona), 'NT AUTHORITY\\IUSR');
  });
});

test('spawnAsUser refuses (a value, 403.19) for a user with no OS account mapping', async () => {
  const persona = context(bob);
  const r = await runAs({ token: bob, reason: 'request' }, () => persona.spawnAsUser('/bin/true', []));
  assert.equal((r as { kind: string }).kind, 'refused');
  assert.equal((r as { status: number; substatus: number }).status, 403);
  assert.equal((r as { substatus: number }).substatus, 19);
  assert.match((r as { reason: string }).reason, /no OS account/);
});
