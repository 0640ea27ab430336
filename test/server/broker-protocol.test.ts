/**
 * The launcher's checks of what a worker sends (untrusted: the worker runs as a less privileged account) and the
 * pool policy. Property tests: nothing makes the parser throw; only exactly-shaped, bounded requests are accepted,
 * and they come out as fresh values equal to what was sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BROKER_LIMITS,
  brokerPolicyDecision,
  isSignalName,
  parseSpawnRequest,
  parseWorkerMessage,
  type BrokerPolicy,
} from '../../src/server/broker-protocol.js';
import type { SpawnRequest } from '../../src/identity/spawn.js';

const noNul = (s: string): boolean => !s.includes('\0');
const absolutePath = fc.array(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => noNul(s) && !s.includes('/')), { maxLength: 5 }).map((parts) => `/${parts.join('/')}`);
const accountName = fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,20}$/);
const validRequest: fc.Arbitrary<SpawnRequest> = fc.record({
  account: accountName,
  file: absolutePath,
  args: fc.array(fc.string({ maxLength: 30 }).filter(noNul), { maxLength: 6 }),
  env: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 12 }).filter((k) => noNul(k) && !k.includes('=')),
    fc.string({ maxLength: 30 }).filter(noNul),
    { maxKeys: 6 },
  ),
  cwd: absolutePath,
  purpose: fc.string({ maxLength: 60 }),
});
const spawnMessage = (id: unknown, request: unknown): Record<string, unknown> => ({ persona: 'broker', type: 'spawn', id, request });

test('the parser never throws, and only a tagged message is the broker\'s', () => {
  fc.assert(
    fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }), (value) => {
      const parsed = parseWorkerMessage(value);
      const tagged = typeof value === 'object' && value !== null && (value as { persona?: unknown }).persona === 'broker';
      if (!tagged) assert.equal(parsed.kind, 'not-broker');
      assert.notEqual(parsed.kind, 'spawn');
    }),
    { numRuns: 2000 },
  );
});

test('tagged messages with arbitrary fields are never a spawn unless the request is well formed', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), fc.constantFrom('spawn', 'kill', 'other'), (id, request, type) => {
      const parsed = parseWorkerMessage({ persona: 'broker', type, id, request });
      if (parsed.kind === 'spawn') assert.equal(typeof parseSpawnRequest(request), 'object');
      assert.notEqual(parsed.kind, 'not-broker');
    }),
    { numRuns: 2000 },
  );
});

test('a valid request is accepted and comes out equal, as fresh objects', () => {
  fc.assert(
    fc.property(validRequest, fc.integer({ min: 1, max: BROKER_LIMITS.maxId - 1 }), (request, id) => {
      // Through JSON, as the IPC channel delivers it.
      const sent = JSON.parse(JSON.stringify(spawnMessage(id, request))) as Record<string, unknown>;
      const parsed = parseWorkerMessage(sent);
      assert.equal(parsed.kind, 'spawn');
      if (parsed.kind !== 'spawn') return;
      assert.equal(parsed.id, id);
      const original = sent.request as SpawnRequest;
      assert.deepEqual(parsed.request, original);
      assert.notEqual(parsed.request.env, original.env);
      assert.notEqual(parsed.request.args, original.args);
    }),
    { numRuns: 500 },
  );
});

test('corrupting any one field of a valid request makes it invalid, with the field in the reason', () => {
  const notAString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
  const badPath = fc.oneof(notAString, fc.string().filter((s) => !s.startsWith('/')), absolutePath.map((p) => `${p}\0`));
  const corruption = fc.oneof(
    fc.record({ field: fc.constant('file'), value: badPath }),
    fc.record({ field: fc.constant('cwd'), value: badPath }),
    fc.record({ field: fc.constant('account'), value: fc.oneof(notAString, fc.constantFrom('', '-x', 'a b', 'a:b', '../x', 'x'.repeat(40), 'a\0')) }),
    fc.record({ field: fc.constant('args'), value: fc.oneof(fc.constant(null), fc.string(), fc.array(notAString, { minLength: 1, maxLength: 2 }), fc.constant(['ok', 'bad\0'])) }),
    fc.record({ field: fc.constant('env'), value: fc.oneof(fc.constant(null), fc.array(fc.string()), fc.constant({ 'A=B': 'x' }), fc.constant({ '': 'x' }), fc.constant({ A: 'x\0' }), fc.constant({ 'A\0': 'x' }), fc.constant({ A: 1 })) }),
    fc.record({ field: fc.constant('purpose'), value: fc.oneof(notAString, fc.constant('p'.repeat(BROKER_LIMITS.maxPurposeChars + 1))) }),
  );
  fc.assert(
    fc.property(validRequest, corruption, ({ ...request }, { field, value }) => {
      const parsed = parseWorkerMessage(spawnMessage(1, { ...request, [field]: value }));
      assert.equal(parsed.kind, 'invalid');
      if (parsed.kind === 'invalid') {
        assert.equal(parsed.id, 1);
        assert.match(parsed.reason, new RegExp(`request\\.${field}`));
      }
    }),
    { numRuns: 1000 },
  );
});

test('unexpected fields, bad ids and missing fields are refused', () => {
  const request: SpawnRequest = { account: 'bob', file: '/bin/true', args: [], env: {}, cwd: '/', purpose: 'p' };
  assert.equal(parseWorkerMessage({ ...spawnMessage(1, request), extra: 1 }).kind, 'invalid');
  assert.equal(parseWorkerMessage(spawnMessage(1, { ...request, uid: 0 })).kind, 'invalid');
  for (const id of [0, -1, 1.5, BROKER_LIMITS.maxId, '1', null, undefined, Number.NaN]) {
    const parsed = parseWorkerMessage(spawnMessage(id, request));
    assert.equal(parsed.kind, 'invalid');
    assert.equal(parsed.kind === 'invalid' && parsed.id, undefined);
  }
  for (const key of Object.keys(request)) {
    const partial: Record<string, unknown> = { ...request };
    delete partial[key];
    assert.equal(parseWorkerMessage(spawnMessage(2, partial)).kind, 'invalid', key);
  }
  assert.equal(parseWorkerMessage([{ persona: 'broker' }]).kind, 'not-broker');
});

test('size bounds: one argument, the argument count and the total are limited', () => {
  const base: SpawnRequest = { account: 'bob', file: '/bin/true', args: [], env: {}, cwd: '/', purpose: 'p' };
  const big = 'x'.repeat(BROKER_LIMITS.maxStringBytes + 1);
  assert.match(String(parseSpawnRequest({ ...base, args: [big] })), /longer than/);
  assert.match(String(parseSpawnRequest({ ...base, env: { A: big } })), /longer than/);
  assert.match(String(parseSpawnRequest({ ...base, args: Array(BROKER_LIMITS.maxArgs + 1).fill('a') })), /at most/);
  const chunk = 'y'.repeat(100_000);
  assert.match(String(parseSpawnRequest({ ...base, args: Array(11).fill(chunk) })), /exceed/);
  assert.match(String(parseSpawnRequest({ ...base, file: `/${'d'.repeat(BROKER_LIMITS.maxPathBytes)}` })), /longer than/);
  assert.equal(typeof parseSpawnRequest({ ...base, args: Array(10).fill(chunk) }), 'object');
});

test('an environment variable named __proto__ stays a variable (no prototype change)', () => {
  const sent = JSON.parse('{"persona":"broker","type":"spawn","id":3,"request":{"account":"bob","file":"/bin/env","args":[],"env":{"__proto__":"x","A":"1"},"cwd":"/","purpose":"p"}}') as unknown;
  const parsed = parseWorkerMessage(sent);
  assert.equal(parsed.kind, 'spawn');
  if (parsed.kind !== 'spawn') return;
  assert.deepEqual(Object.keys(parsed.request.env).sort(), ['A', '__proto__']);
  assert.equal(Object.getPrototypeOf(parsed.request.env), Object.prototype);
});

test('kill messages need a known signal name', () => {
  assert.deepEqual(parseWorkerMessage({ persona: 'broker', type: 'kill', id: 4, signal: 'SIGTERM' }), { kind: 'kill', id: 4, signal: 'SIGTERM' });
  for (const signal of ['SIGNOPE', 'sigkill', 9, '', 'constructor', '__proto__', 'toString', null]) {
    assert.equal(parseWorkerMessage({ persona: 'broker', type: 'kill', id: 4, signal }).kind, 'invalid', String(signal));
  }
  assert.equal(isSignalName('SIGKILL'), true);
  fc.assert(fc.property(fc.string(), (s) => assert.equal(isSignalName(s), /^SIG[A-Z0-9]+$/.test(s) && isSignalName(s))));
});

test('policy: without replaceProcessToken only the pool account; with it any account (root is the spawner\'s to refuse)', () => {
  const request = (account: string): SpawnRequest => ({ account, file: '/bin/id', args: [], env: {}, cwd: '/', purpose: 'CGI /cgi-bin/id.cgi' });
  const without: BrokerPolicy = { pool: 'Shop', poolAccount: 'shop', replaceProcessToken: false };
  const withRight: BrokerPolicy = { ...without, replaceProcessToken: true };
  assert.equal(brokerPolicyDecision(without, request('shop')), undefined);
  const refused = brokerPolicyDecision(without, request('bob'));
  assert.equal(refused && `${refused.status}.${refused.substatus}`, '403.19');
  assert.match(refused!.reason, /^application pool Shop is not granted replaceProcessToken \(IIS: Replace a process level token\), so it cannot start CGI as the user: CGI \/cgi-bin\/id\.cgi asked for OS account "bob", the pool runs as "shop"$/);
  assert.equal(brokerPolicyDecision(withRight, request('bob')), undefined);
  fc.assert(
    fc.property(accountName, accountName, fc.boolean(), (pool, asked, right) => {
      const decision = brokerPolicyDecision({ pool: 'P', poolAccount: pool, replaceProcessToken: right }, request(asked));
      assert.equal(decision === undefined, right || pool === asked);
    }),
  );
});
