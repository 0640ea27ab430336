import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { openAccountStore } from '../../src/accounts/store.js';
import type { AccountStore } from '../../src/accounts/types.js';
import { AuditLog } from '../../src/security/audit.js';
import { logonUser, type LogonRequest } from '../../src/security/logon.js';
import { TokenCache } from '../../src/security/token-cache.js';
import type { Token } from '../../src/security/token.js';

const MACHINE = { machineName: 'TESTBOX', machineSid: 'S-1-5-21-4444-5555-6666' };
const PW = 'Cache-Pa55word!';

/**
 * Two handles on one database file: `server` logs on and caches, `cli` makes the changes — as `persona user …`
 * does from its own process.
 */
async function twoHandles(): Promise<{ server: AccountStore; cli: AccountStore; audit: AuditLog; auditFile: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'persona-tokencache-'));
  const file = join(dir, 'accounts.db');
  const server = openAccountStore(file, MACHINE, { scryptLn: 4 });
  const cli = openAccountStore(file, MACHINE, { scryptLn: 4 });
  await cli.createUser({ name: 'alice', password: PW });
  await cli.createUser({ name: 'bob', password: PW });
  cli.createGroup('Editors');
  const auditFile = join(dir, 'audit.log');
  const audit = new AuditLog(auditFile);
  return {
    server,
    cli,
    audit,
    auditFile,
    close: async () => {
      await audit.close();
      server.close();
      cli.close();
    },
  };
}

const request = (name: string, password = PW): LogonRequest => ({
  name,
  domain: undefined,
  password,
  logonMethod: 'ClearText',
  authPackage: 'Basic',
  defaultLogonDomain: '',
  clientAddress: '127.0.0.1',
});

/** What the Basic stage does: the cache first; on a miss, read the stamp, log on, cache the token. */
async function authenticate(cache: TokenCache, store: AccountStore, audit: AuditLog, name: string, password = PW): Promise<{ token: Token | undefined; hit: boolean }> {
  const key = cache.key(['Basic', 'TESTBOX', name.toLowerCase(), password, 'ClearText', 'realm']);
  const cached = cache.get(key, store);
  if (cached) return { token: cached, hit: true };
  const user = store.findUser(name);
  const stamp = user ? store.currentStamp(user.sid) : undefined;
  const result = await logonUser(store, request(name, password), audit);
  if (!result.ok) return { token: undefined, hit: false };
  if (stamp) cache.put(key, result.token, stamp);
  return { token: result.token, hit: false };
}

test('key: 64 hex characters, the same for the same parts, different for any different part', () => {
  const cache = new TokenCache({ ttlMs: 1000, maxEntries: 10 });
  const parts = ['Basic', 'TESTBOX', 'alice', PW, 'ClearText', 'realm'];
  const key = cache.key(parts);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(cache.key([...parts]), key);
  for (let i = 0; i < parts.length; i++) {
    const changed = [...parts];
    changed[i] += 'x';
    assert.notEqual(cache.key(changed), key, `part ${i}`);
  }
  assert.notEqual(cache.key(['ab', 'c']), cache.key(['a', 'bc']), 'parts are delimited unambiguously');
  assert.notEqual(new TokenCache({ ttlMs: 1000, maxEntries: 10 }).key(parts), key, 'each cache has its own secret key');
});

test('property: a key never contains the password and does not grow with it', () => {
  const cache = new TokenCache({ ttlMs: 1000, maxEntries: 10 });
  fc.assert(
    fc.property(fc.string({ minLength: 8, maxLength: 200, unit: 'binary' }), fc.string({ maxLength: 20 }), (password, user) => {
      const key = cache.key(['Basic', 'TESTBOX', user, password, 'ClearText', 'realm']);
      assert.equal(key.length, 64);
      assert.ok(!key.includes(password));
      assert.ok(!key.toLowerCase().includes(password.toLowerCase()));
    }),
    { numRuns: 1000 },
  );
});

test('TTL: a hit before it, a miss (and the entry gone) from it on; TTL 0 caches nothing', async () => {
  const h = await twoHandles();
  try {
    let clock = 1_000_000;
    const cache = new TokenCache({ ttlMs: 900_000, maxEntries: 100, now: () => clock });
    const first = await authenticate(cache, h.server, h.audit, 'alice');
    assert.equal(first.hit, false);
    clock += 899_999;
    const second = await authenticate(cache, h.server, h.audit, 'alice');
    assert.equal(second.hit, true);
    assert.equal(second.token, first.token, 'the same token object (and so its delegable credentials)');
    clock += 1;
    assert.equal(cache.get(cache.key(['Basic', 'TESTBOX', 'alice', PW, 'ClearText', 'realm']), h.server), undefined);
    assert.equal(cache.size, 0);

    const off = new TokenCache({ ttlMs: 0, maxEntries: 100 });
    await authenticate(off, h.server, h.audit, 'alice');
    assert.equal((await authenticate(off, h.server, h.audit, 'alice')).hit, false);
    assert.equal(off.size, 0);
  } finally {
    await h.close();
  }
});

test('cache hits write no audit event', async () => {
  const h = await twoHandles();
  try {
    const cache = new TokenCache({ ttlMs: 900_000, maxEntries: 100 });
    for (let i = 0; i < 5; i++) await authenticate(cache, h.server, h.audit, 'alice');
    const events = (await readFile(h.auditFile, 'utf8')).split('\n').filter((l) => l !== '');
    assert.equal(events.length, 1);
  } finally {
    await h.close();
  }
});

/** Each change, made through the OTHER handle, must end alice's cached token at once (and leave bob's alone where it is alice's alone). */
const CHANGES: readonly { readonly name: string; readonly apply: (cli: AccountStore) => Promise<void> | void; readonly bobKeeps: boolean }[] = [
  { name: 'password change', apply: (cli) => cli.setPassword('alice', 'Another-Pa55!'), bobKeeps: true },
  { name: 'disable', apply: (cli) => cli.setDisabled('alice', true), bobKeeps: true },
  {
    name: 'lockout',
    apply: (cli) => {
      cli.setLockoutPolicy({ threshold: 2, observationWindowSeconds: 60, durationSeconds: 60 });
      const sid = cli.findUser('alice')!.sid;
      cli.recordFailure(sid, Date.now());
      cli.recordFailure(sid, Date.now());
    },
    bobKeeps: true,
  },
  { name: 'password expired', apply: (cli) => cli.setPasswordFlags('alice', { passwordExpired: true }), bobKeeps: true },
  { name: 'group membership', apply: (cli) => cli.addMember('Editors', 'alice'), bobKeeps: true },
  { name: 'right of the user', apply: (cli) => cli.grantRight('alice', 'SeBatchLogonRight'), bobKeeps: true },
  { name: 'right of a group', apply: (cli) => cli.revokeRight('Users', 'SeNetworkLogonRight'), bobKeeps: false },
  { name: 'right of Everyone', apply: (cli) => cli.revokeRight('Everyone', 'SeNetworkLogonRight'), bobKeeps: false },
  { name: 'group removed', apply: (cli) => cli.removeGroup('Editors'), bobKeeps: false },
  { name: 'user removed', apply: (cli) => cli.removeUser('alice'), bobKeeps: true },
];

const nextIteration = () => new Promise<void>((resolve) => setImmediate(resolve));

for (const change of CHANGES) {
  test(`a ${change.name} made by another process invalidates the cached token at once`, async () => {
    const h = await twoHandles();
    try {
      const cache = new TokenCache({ ttlMs: 900_000, maxEntries: 100 });
      await authenticate(cache, h.server, h.audit, 'alice');
      await authenticate(cache, h.server, h.audit, 'bob');
      assert.equal((await authenticate(cache, h.server, h.audit, 'alice')).hit, true);
      await change.apply(h.cli);
      // Another process's commit and the next request are ordered by the event loop: the request is handled in a
      // later iteration (the store reads its change version once per iteration, see AccountStore.changeVersion).
      await nextIteration();
      const key = cache.key(['Basic', 'TESTBOX', 'alice', PW, 'ClearText', 'realm']);
      assert.equal(cache.get(key, h.server), undefined, 'alice must log on again');
      const bobKey = cache.key(['Basic', 'TESTBOX', 'bob', PW, 'ClearText', 'realm']);
      assert.equal(cache.get(bobKey, h.server) !== undefined, change.bobKeeps, change.bobKeeps ? "a change of alice's own leaves bob's token" : 'a store-wide change ends every token');
    } finally {
      await h.close();
    }
  });
}

test('the old password stops working at once after a change by another process (unlike IIS)', async () => {
  const h = await twoHandles();
  try {
    const cache = new TokenCache({ ttlMs: 900_000, maxEntries: 100 });
    assert.ok((await authenticate(cache, h.server, h.audit, 'alice')).token);
    await h.cli.setPassword('alice', 'Another-Pa55!');
    assert.equal((await authenticate(cache, h.server, h.audit, 'alice')).token, undefined, 'the old password is refused');
    const fresh = await authenticate(cache, h.server, h.audit, 'alice', 'Another-Pa55!');
    assert.ok(fresh.token);
    assert.equal((await authenticate(cache, h.server, h.audit, 'alice', 'Another-Pa55!')).hit, true);
  } finally {
    await h.close();
  }
});

test('a change that lands during the logon leaves a stale entry, because the stamp is read before it', async () => {
  const h = await twoHandles();
  try {
    const cache = new TokenCache({ ttlMs: 900_000, maxEntries: 100 });
    const key = cache.key(['Basic', 'TESTBOX', 'alice', PW, 'ClearText', 'realm']);
    const stamp = h.server.currentStamp(h.server.findUser('alice')!.sid)!;
    const result = await logonUser(h.server, request('alice'), h.audit);
    assert.ok(result.ok);
    h.cli.setDisabled('alice', true); // between the logon and the put
    cache.put(key, result.token, stamp);
    assert.equal(cache.get(key, h.server), undefined);
  } finally {
    await h.close();
  }
});

test('maxEntries: the least recently used entry goes first; clear empties the cache', async () => {
  const h = await twoHandles();
  try {
    const cache = new TokenCache({ ttlMs: 900_000, maxEntries: 2 });
    const result = await logonUser(h.server, request('alice'), h.audit);
    assert.ok(result.ok);
    const stamp = h.server.currentStamp(result.token.user.sid)!;
    const [k1, k2, k3] = ['1', '2', '3'].map((n) => cache.key([n]));
    cache.put(k1!, result.token, stamp);
    cache.put(k2!, result.token, stamp);
    assert.ok(cache.get(k1!, h.server)); // k1 is now the most recently used
    cache.put(k3!, result.token, stamp);
    assert.equal(cache.size, 2);
    assert.equal(cache.get(k2!, h.server), undefined);
    assert.ok(cache.get(k1!, h.server));
    assert.ok(cache.get(k3!, h.server));
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.get(k1!, h.server), undefined);
  } finally {
    await h.close();
  }
});

test('maxEntries, property: the cache never holds more than maxEntries, and an entry used at least every maxEntries/4 operations is never evicted', async () => {
  // A hit moves its entry to the end of the order only when it has not been moved in the last maxEntries/2
  // operations (cheaper than a move per hit); this is the guarantee that keeps.
  const h = await twoHandles();
  try {
    const result = await logonUser(h.server, request('alice'), h.audit);
    assert.ok(result.ok);
    const stamp = h.server.currentStamp(result.token.user.sid)!;
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 64 }), fc.array(fc.nat(1000), { minLength: 1, maxLength: 400 }), (maxEntries, others) => {
        const cache = new TokenCache({ ttlMs: 900_000, maxEntries });
        const hot = cache.key(['hot']);
        cache.put(hot, result.token, stamp);
        const every = Math.floor(maxEntries / 4);
        let sinceHot = 0;
        for (const n of others) {
          // others: new entries (puts) or hits on earlier ones, in any mix
          const k = cache.key([String(n)]);
          if (cache.get(k, h.server) === undefined) cache.put(k, result.token, stamp);
          assert.ok(cache.size <= maxEntries);
          if (++sinceHot >= every) {
            assert.ok(cache.get(hot, h.server), `the hot entry was evicted (maxEntries ${maxEntries})`);
            sinceHot = 0;
          }
        }
      }),
      { numRuns: 200 },
    );
  } finally {
    await h.close();
  }
});
