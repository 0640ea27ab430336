/**
 * The per-request trace's parts that need no server: recording, the lines made from decisions (reasons verbatim,
 * challenge names only), the stored form and its parser (untrusted bytes: property tests), the bounded store and
 * the per-site files, and the diagnostic endpoint's pure decisions — which client it answers (exhaustively over
 * IPv4's first octet and the IPv6 spellings of loopback) and which page a path asks for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { challengeNames, isTraceId, parseTraceLine, Trace, type TraceDocument } from '../../src/pipeline/trace.js';
import { findTrace, recentTraces, traceDirectory, traceFileName, TraceFileWriter } from '../../src/pipeline/trace-files.js';
import { traceAccess, traceAuthenticated, traceRefusal } from '../../src/pipeline/trace-lines.js';
import { TraceStore } from '../../src/server/generation.js';
import { diagnosticClient, diagnosticRoute } from '../../src/server/diagnostics.js';
import { formatTrace, formatTraceSummary } from '../../src/cli/trace.js';
import { httpError, Win32 } from '../../src/pipeline/errors.js';
import { buildToken } from '../../src/security/token.js';
import { WellKnownSid } from '../../src/security/sid.js';
import type { AccessDecision } from '../../src/security/acl-types.js';

function doc(id: string, time: string, siteId = 1, extra: Partial<TraceDocument> = {}): TraceDocument {
  return {
    id,
    time,
    siteId,
    site: `Site${siteId}`,
    method: 'GET',
    url: '/traced/',
    clientIp: '127.0.0.1',
    user: '',
    status: 200,
    substatus: 0,
    win32Status: 0,
    timeTakenMs: 1,
    entries: [{ atMs: 0.1, stage: 'beginRequest', decision: 'site "Site"', reason: 'binding' }],
    ...extra,
  };
}

test('a trace records each decision with its stage, reason and a time that never goes back', () => {
  const trace = new Trace(process.hrtime.bigint());
  trace.record('beginRequest', 'site "Default"', 'binding http://127.0.0.1:80');
  trace.record('authorizeRequest', 'ACL: allowed', 'Users may read');
  assert.deepEqual(
    trace.entries.map((e) => [e.stage, e.decision, e.reason]),
    [
      ['beginRequest', 'site "Default"', 'binding http://127.0.0.1:80'],
      ['authorizeRequest', 'ACL: allowed', 'Users may read'],
    ],
  );
  assert.ok(trace.entries[0]!.atMs >= 0 && trace.entries[1]!.atMs >= trace.entries[0]!.atMs);
});

test('a 401 in the trace names the schemes offered, never their parameters (a Digest nonce stays out)', () => {
  const trace = new Trace(process.hrtime.bigint());
  const error = httpError(401, 2, 'anonymous access is disabled', Win32.ACCESS_DENIED, {
    'WWW-Authenticate': ['NTLM', 'Digest realm="r", nonce="SECRETNONCE", qop="auth"', 'Basic realm="r", charset="UTF-8"'],
  });
  traceRefusal(trace, 'authenticateRequest', error);
  assert.deepEqual(trace.entries.map((e) => e.decision), ['refused 401.2', 'challenges offered: NTLM, Digest, Basic']);
  assert.equal(trace.entries[0]!.reason, 'anonymous access is disabled');
  assert.ok(!JSON.stringify(trace.entries).includes('SECRETNONCE'));
  const none = new Trace(process.hrtime.bigint());
  traceRefusal(none, 'authorizeRequest', httpError(401, 3, 'denied'));
  assert.equal(none.entries[1]!.decision, 'no challenge offered');
});

test('challengeNames keeps the first token of each line and nothing with = or a quote in it', () => {
  assert.deepEqual(challengeNames('Negotiate'), ['Negotiate']);
  assert.deepEqual(challengeNames(undefined), []);
  fc.assert(
    fc.property(fc.array(fc.string()), (lines) => {
      for (const name of challengeNames(lines)) assert.ok(name.length > 0 && !/[\s,]/.test(name));
    }),
  );
});

test('authentication and ACL lines carry the decision values: package, logon type, delegation, deciding ACE', () => {
  const token = buildToken({
    user: { sid: 'S-1-5-21-1-2-3-1001' as never, name: 'BOX\\bob' },
    accountGroups: [],
    privileges: [],
    logonType: 'Network',
    authPackage: 'Basic',
    delegation: { kind: 'password', reason: 'a Basic logon has the password' },
    osAccount: undefined,
    logonId: '0x1',
    issuedAt: 0,
  });
  const trace = new Trace(process.hrtime.bigint());
  traceAuthenticated(trace, token, 'Basic logon of BOX\\bob (Network)');
  const acl: AccessDecision = {
    allowed: false,
    desired: 0x120089,
    granted: 0,
    decidingAce: { type: 'deny', sid: token.user.sid, mask: 0x120089, flags: { objectInherit: true, containerInherit: true, inheritOnly: false, noPropagate: false, inherited: false } },
    decidingAcePath: '/srv/www/denied',
    reason: 'an ACE denies BOX\\bob read',
  };
  traceAccess(trace, { allowed: true, reason: 'read is granted' }, acl, (sid) => (sid === token.user.sid ? 'BOX\\bob' : sid));
  const lines = trace.entries.map((e) => `${e.decision} | ${e.reason}`);
  assert.equal(lines[0], 'BOX\\bob (Basic, logon type Network) | Basic logon of BOX\\bob (Network)');
  assert.equal(lines[1], 'delegable credentials: yes (password) | a Basic logon has the password');
  assert.equal(lines[2], 'access flags: allowed | read is granted');
  assert.match(lines[3]!, /^ACL: denied \(desired 0x120089, granted 0x0\) \| an ACE denies BOX\\bob read; deciding ACE BOX\\bob:.* on \/srv\/www\/denied$/);
  const anonymous = new Trace(process.hrtime.bigint());
  traceAuthenticated(anonymous, buildToken({ user: { sid: WellKnownSid.Iusr, name: 'NT AUTHORITY\\IUSR' }, accountGroups: [], privileges: [], logonType: 'Network', authPackage: 'Anonymous', delegation: { kind: 'none', reason: 'anonymous' }, osAccount: undefined, logonId: '0x2', issuedAt: 0 }), 'anonymous as IUSR');
  assert.equal(anonymous.entries[1]!.decision, 'delegable credentials: no');
});

test('trace ids: what the pipeline makes, and nothing that could be a path', () => {
  assert.ok(isTraceId('3f2a9c1e-1k'));
  for (const bad of ['', '../etc', '3f2a9c1e', '3F2A9C1E-1', '3f2a9c1e-1/x', '3f2a9c1e-', 'x'.repeat(8) + '-1']) assert.ok(!isTraceId(bad), bad);
  fc.assert(fc.property(fc.string(), (s) => !isTraceId(s) || /^[0-9a-f-]+[0-9a-z]+$/.test(s)));
});

test('parseTraceLine: a stored document round-trips; any other bytes are undefined, never an exception', () => {
  const d = doc('0a0b0c0d-1', '2026-01-02T03:04:05.000Z');
  assert.deepEqual(parseTraceLine(JSON.stringify(d)), d);
  assert.equal(parseTraceLine(JSON.stringify({ ...d, id: '../x' })), undefined);
  assert.equal(parseTraceLine(JSON.stringify(d).slice(0, 40)), undefined, 'a torn last line');
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array().map((b) => Buffer.from(b).toString('latin1'))), (line) => {
      const parsed = parseTraceLine(line);
      if (parsed) assert.ok(isTraceId(parsed.id) && Array.isArray(parsed.entries));
    }),
  );
});

test('the store keeps the most recent traces only, and hands each to the file writer', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'persona-tracestore-'));
  try {
    const errors: string[] = [];
    const store = new TraceStore(new TraceFileWriter(dir, (file) => errors.push(file)), 3);
    for (let i = 1; i <= 5; i++) store.add(doc(`0a0b0c0d-${i}`, `2026-01-02T03:04:0${i}.000Z`));
    assert.equal(store.get('0a0b0c0d-1'), undefined);
    assert.equal(store.get('0a0b0c0d-5')?.id, '0a0b0c0d-5');
    assert.deepEqual(store.recent(2).map((d) => d.id), ['0a0b0c0d-4', '0a0b0c0d-5']);
    assert.deepEqual(store.recent(0), []);
    await store.flush();
    const file = path.join(traceDirectory(dir, 1), 'trace-20260102.jsonl');
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 5, 'every trace is on disk, not only those kept in memory');
    assert.deepEqual(errors, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('trace files: one per site and UTC day; list the last N across them, find one by id, skip junk lines', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'persona-tracefiles-'));
  try {
    assert.equal(traceFileName(new Date('2026-03-04T23:59:59.999Z')), 'trace-20260304.jsonl');
    const writer = new TraceFileWriter(dir, (file, err) => assert.fail(`${file}: ${err.message}`));
    writer.write(doc('0a0b0c0d-1', '2026-03-03T10:00:00.000Z', 1));
    writer.write(doc('0a0b0c0d-2', '2026-03-04T10:00:00.000Z', 2));
    writer.write(doc('0a0b0c0d-3', '2026-03-04T11:00:00.000Z', 1));
    await writer.flush();
    assert.deepEqual((await readdir(traceDirectory(dir, 1))).sort(), ['trace-20260303.jsonl', 'trace-20260304.jsonl']);
    // A torn line and a foreign file are passed over.
    await writeFile(path.join(traceDirectory(dir, 1), 'trace-20260304.jsonl'), '{"id":"torn', { flag: 'a' });
    await mkdir(path.join(dir, 'trace', 'other'), { recursive: true });
    await writeFile(path.join(traceDirectory(dir, 2), 'notes.txt'), JSON.stringify(doc('0a0b0c0d-9', '2026-03-05T00:00:00.000Z')));
    assert.deepEqual((await recentTraces(dir, { last: 10 })).map((d) => d.id), ['0a0b0c0d-1', '0a0b0c0d-2', '0a0b0c0d-3']);
    assert.deepEqual((await recentTraces(dir, { last: 2 })).map((d) => d.id), ['0a0b0c0d-2', '0a0b0c0d-3']);
    assert.deepEqual((await recentTraces(dir, { last: 10, sites: [2] })).map((d) => d.id), ['0a0b0c0d-2']);
    assert.deepEqual(await recentTraces(dir, { last: 0 }), []);
    assert.equal((await findTrace(dir, '0a0b0c0d-1'))?.siteId, 1);
    assert.equal(await findTrace(dir, '0a0b0c0d-9'), undefined);
    assert.deepEqual(await recentTraces(path.join(dir, 'missing'), { last: 5 }), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file that cannot be written is reported once, not once per trace', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'persona-tracefail-'));
  try {
    // A file where the trace folder should be: mkdir fails for every trace of every site.
    await writeFile(path.join(dir, 'trace'), 'not a folder');
    const errors: string[] = [];
    const writer = new TraceFileWriter(dir, (file) => errors.push(file));
    writer.write(doc('0a0b0c0d-1', '2026-03-03T10:00:00.000Z'));
    writer.write(doc('0a0b0c0d-2', '2026-03-03T10:00:01.000Z'));
    await writer.flush();
    assert.equal(errors.length, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('diagnostic clients: every 127.0.0.0/8 address and ::1 in any spelling; no other IPv4 first octet', () => {
  for (let first = 0; first <= 255; first++) {
    fc.assert(
      fc.property(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)), ([a, b, c]) => {
        const address = `${first}.${a}.${b}.${c}`;
        assert.equal(diagnosticClient(address).allowed, first === 127, address);
        assert.equal(diagnosticClient(`::ffff:${address}`).allowed, first === 127, `::ffff:${address}`);
      }),
      { numRuns: 20 },
    );
  }
  for (const address of ['::1', '0:0:0:0:0:0:0:1', '0000:0000:0000:0000:0000:0000:0000:0001', '::0:1', '::ffff:7f00:1', '::ffff:7fff:ffff']) {
    assert.equal(diagnosticClient(address).allowed, true, address);
  }
  for (const address of ['::', '::2', 'fe80::1', '::127.0.0.1', '64:ff9b::127.0.0.1', '2001:db8::1', '::ffff:8000:1', 'localhost', '', '127.0.0.1 ', '127.1', '0177.0.0.1', '127.0.0.1%lo', '-']) {
    const decision = diagnosticClient(address);
    assert.equal(decision.allowed, false, address);
    assert.ok(decision.reason.length > 0);
  }
  fc.assert(
    fc.property(fc.ipV6(), (address) => {
      const lower = address.toLowerCase();
      const expanded = lower === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(lower);
      if (expanded) assert.equal(diagnosticClient(address).allowed, true);
      if (!diagnosticClient(address).allowed) assert.match(diagnosticClient(address).reason, /loopback clients only/);
    }),
  );
});

test('diagnostic routes: traces, trace/<id>, anything else under the prefix, and nothing outside it', () => {
  const prefix = '/_persona/';
  assert.deepEqual(diagnosticRoute('/_persona/traces', prefix), { kind: 'traces' });
  assert.deepEqual(diagnosticRoute('/_Persona/Traces', prefix), { kind: 'traces' });
  assert.deepEqual(diagnosticRoute('/_persona/trace/0a0b0c0d-1z', prefix), { kind: 'trace', id: '0a0b0c0d-1z' });
  assert.deepEqual(diagnosticRoute('/_persona/trace/../../etc', prefix), { kind: 'unknown' });
  assert.deepEqual(diagnosticRoute('/_persona/', prefix), { kind: 'unknown' });
  assert.deepEqual(diagnosticRoute('/_persona', prefix), { kind: 'unknown' });
  assert.equal(diagnosticRoute('/_personal/traces', prefix), undefined);
  assert.equal(diagnosticRoute('/', prefix), undefined);
  assert.equal(diagnosticRoute('/x/_persona/traces', prefix), undefined);
  fc.assert(
    fc.property(fc.string(), (tail) => {
      const route = diagnosticRoute(`/${tail}`, prefix);
      if (!`/${tail}`.toLowerCase().startsWith('/_persona')) assert.equal(route, undefined);
      if (route?.kind === 'trace') assert.ok(isTraceId(route.id));
    }),
  );
});

test('persona trace output: one line per field whatever a client put in a path or a user name (no terminal escapes)', () => {
  const hostile = doc('0a0b0c0d-7', '2026-03-03T10:00:00.000Z', 1, {
    url: '/a\u001b[2J\nforged',
    user: 'bob\r\u009b31m',
    entries: [{ atMs: 1, stage: 'authenticateRequest', decision: 'refused 401.1', reason: 'Basic logon failed for "x\u001b]0;pwned\u0007"' }],
  });
  assert.match(formatTraceSummary(hostile), /^2026-03-03T10:00:00.000Z 0a0b0c0d-7 Site1 GET \/a\\u001b\[2J\\u000aforged 200\.0 bob\\u000d\\u009b31m 1 ms$/);
  const text = formatTrace(hostile);
  assert.equal(text.split('\n').length, 4, 'two head lines, then decision and reason');
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  assert.match(text, /because Basic logon failed for "x\\u001b\]0;pwned\\u0007"/);
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (url, reason) => {
      const out = formatTrace(doc('0a0b0c0d-8', '2026-03-03T10:00:00.000Z', 1, { url, entries: [{ atMs: 0, stage: 'beginRequest', decision: url, reason }] }));
      assert.equal(out.split('\n').length, 4);
      assert.equal(formatTraceSummary(doc('0a0b0c0d-8', '2026-03-03T10:00:00.000Z', 1, { url })).split('\n').length, 1);
    }),
  );
});
