/**
 * The wire format between a worker and its pool's forker (src/identity/forker-protocol.ts; the protocol's reference is
 * native/persona-forker.c's header comment). A worker checks its requests before sending (parseSpawnRequest), sends
 * them NUL-separated (encodeSpawnRequest), and splits the forker's control stream into messages (ControlParser), which
 * must come out the same however the stream is cut into chunks, and whose failures are only ControlProtocolError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import os from 'node:os';
import fc from 'fast-check';
import {
  ControlParser,
  ControlProtocolError,
  connectionPrefix,
  encodeSpawnRequest,
  isSignalName,
  killLine,
  outputLine,
  parseSpawnRequest,
  SPAWN_LIMITS,
  type ControlMessage,
} from '../../src/identity/forker-protocol.js';
import type { SpawnRequest } from '../../src/identity/spawn.js';

const noNul = (s: string): boolean => !s.includes('\0');
const absolutePath = fc.array(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => noNul(s) && !s.includes('/')), { maxLength: 5 }).map((parts) => `/${parts.join('/')}`);
const accountName = fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,20}$/);
const text = (maxLength: number): fc.Arbitrary<string> => fc.string({ maxLength, unit: 'grapheme' }).filter(noNul);
const validRequest: fc.Arbitrary<SpawnRequest> = fc.record({
  account: accountName,
  file: absolutePath,
  args: fc.array(text(30), { maxLength: 6 }),
  env: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 12 }).filter((k) => noNul(k) && !k.includes('=')),
    text(30),
    { maxKeys: 6 },
  ),
  cwd: absolutePath,
  purpose: text(60),
});

test('parseSpawnRequest never throws, and accepts only exactly-shaped requests', () => {
  fc.assert(
    fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }), (value) => {
      const parsed = parseSpawnRequest(value);
      if (typeof parsed !== 'string') assert.equal(typeof parseSpawnRequest(JSON.parse(JSON.stringify(parsed))), 'object');
    }),
    { numRuns: 2000 },
  );
});

test('a valid request is accepted and comes out equal, as fresh objects', () => {
  fc.assert(
    fc.property(validRequest, (request) => {
      // Through JSON, as a worker's caller might have built it.
      const sent = JSON.parse(JSON.stringify(request)) as SpawnRequest;
      const parsed = parseSpawnRequest(sent);
      assert.equal(typeof parsed, 'object', String(parsed));
      assert.deepEqual(parsed, sent);
      if (typeof parsed === 'string') return;
      assert.notEqual(parsed.env, sent.env);
      assert.notEqual(parsed.args, sent.args);
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
    fc.record({ field: fc.constant('purpose'), value: notAString }),
  );
  fc.assert(
    fc.property(validRequest, corruption, (request, { field, value }) => {
      const parsed = parseSpawnRequest({ ...request, [field]: value });
      assert.equal(typeof parsed, 'string');
      assert.match(parsed as string, new RegExp(`^request\\.${field}: `));
    }),
    { numRuns: 1000 },
  );
});

test("stdin: 'pipe' or 'none' (sent as a PSPN connection or a SPAWN control message), nothing else", () => {
  const request: SpawnRequest = { account: 'bob', file: '/bin/true', args: [], env: { A: '1' }, cwd: '/', purpose: 'pé' };
  assert.equal(encodeSpawnRequest(1, request).toString('latin1', 0, 4), 'PSPN');
  assert.equal(encodeSpawnRequest(1, { ...request, stdin: 'pipe' }).toString('latin1', 0, 4), 'PSPN');
  const none = encodeSpawnRequest(1, { ...request, stdin: 'none' });
  const header = encodeSpawnRequest(1, request).subarray(8);
  // "SPAWN <length in bytes>\n" and the same fields (the purpose's é is two bytes)
  assert.deepEqual(none, Buffer.concat([Buffer.from(`SPAWN ${header.length}\n`), header]));
  assert.deepEqual(parseSpawnRequest({ ...request, stdin: 'none' }), { ...request, stdin: 'none' });
  for (const bad of ['', 'null', 'NONE', 0, null]) assert.equal(parseSpawnRequest({ ...request, stdin: bad }), 'request.stdin: neither "pipe" nor "none"');
});

test('unexpected and missing fields are refused', () => {
  const request: SpawnRequest = { account: 'bob', file: '/bin/true', args: [], env: {}, cwd: '/', purpose: 'p' };
  assert.equal(parseSpawnRequest({ ...request, uid: 0 }), 'request: unexpected field "uid"');
  assert.equal(parseSpawnRequest([request]), 'request: not an object');
  assert.equal(parseSpawnRequest(Object.assign(Object.create({ inherited: true }) as object, request)), 'request: not an object');
  for (const key of Object.keys(request)) {
    const partial: Record<string, unknown> = { ...request };
    delete partial[key];
    assert.match(String(parseSpawnRequest(partial)), new RegExp(`^request\\.${key}: `), key);
  }
});

test('size bounds: one string, the counts and the total are limited (in UTF-8 bytes)', () => {
  const base: SpawnRequest = { account: 'bob', file: '/bin/true', args: [], env: {}, cwd: '/', purpose: 'p' };
  const big = 'x'.repeat(SPAWN_LIMITS.maxStringBytes + 1);
  assert.match(String(parseSpawnRequest({ ...base, args: [big] })), /^request\.args: a string is longer than/);
  assert.match(String(parseSpawnRequest({ ...base, env: { A: big } })), /^request\.env: a string is longer than/);
  // The name counts too: NAME=VALUE is one execve string.
  assert.match(String(parseSpawnRequest({ ...base, env: { AB: 'x'.repeat(SPAWN_LIMITS.maxStringBytes - 2) } })), /^request\.env: AB is longer than/);
  assert.equal(typeof parseSpawnRequest({ ...base, env: { A: 'x'.repeat(SPAWN_LIMITS.maxStringBytes - 2) } }), 'object');
  // Bytes, not characters: "é" is two.
  assert.match(String(parseSpawnRequest({ ...base, args: ['é'.repeat(SPAWN_LIMITS.maxStringBytes / 2 + 1)] })), /longer than/);
  assert.match(String(parseSpawnRequest({ ...base, args: Array(SPAWN_LIMITS.maxArgs + 1).fill('a') })), /^request\.args: not an array of at most/);
  assert.match(String(parseSpawnRequest({ ...base, env: Object.fromEntries(Array.from({ length: SPAWN_LIMITS.maxEnvEntries + 1 }, (_, i) => [`V${i}`, ''])) })), /^request\.env: more than/);
  const chunk = 'y'.repeat(100_000);
  assert.match(String(parseSpawnRequest({ ...base, args: Array(11).fill(chunk) })), /^request: arguments and environment exceed/);
  assert.equal(typeof parseSpawnRequest({ ...base, args: Array(10).fill(chunk) }), 'object');
  assert.match(String(parseSpawnRequest({ ...base, file: `/${'d'.repeat(SPAWN_LIMITS.maxPathBytes)}` })), /^request\.file: longer than/);
  assert.match(String(parseSpawnRequest({ ...base, cwd: `/${'é'.repeat(SPAWN_LIMITS.maxPathBytes / 2)}` })), /^request\.cwd: longer than/);
});

test('the purpose is only for logs: NUL and excess length are mended, not refused', () => {
  const base: SpawnRequest = { account: 'bob', file: '/bin/true', args: [], env: {}, cwd: '/', purpose: 'p' };
  const nul = parseSpawnRequest({ ...base, purpose: 'a\0b' });
  assert.equal(typeof nul === 'object' && nul.purpose, 'a b');
  fc.assert(
    fc.property(fc.string({ minLength: SPAWN_LIMITS.maxPurposeBytes - 10, maxLength: 3000, unit: 'grapheme' }), (purpose) => {
      const parsed = parseSpawnRequest({ ...base, purpose });
      assert.equal(typeof parsed, 'object');
      if (typeof parsed === 'string') return;
      assert.ok(Buffer.byteLength(parsed.purpose) <= SPAWN_LIMITS.maxPurposeBytes);
      assert.ok(purpose.replaceAll('\0', ' ').startsWith(parsed.purpose));
    }),
    { numRuns: 200 },
  );
});

test('an environment variable named __proto__ stays a variable (no prototype change)', () => {
  const sent = JSON.parse('{"account":"bob","file":"/usr/bin/env","args":[],"env":{"__proto__":"x","A":"1"},"cwd":"/","purpose":"p"}') as unknown;
  const parsed = parseSpawnRequest(sent);
  assert.equal(typeof parsed, 'object');
  if (typeof parsed === 'string') return;
  assert.deepEqual(Object.keys(parsed.env).sort(), ['A', '__proto__']);
  assert.equal(Object.getPrototypeOf(parsed.env), Object.prototype);
  assert.match(encodeSpawnRequest(1, parsed).toString(), /\0__proto__=x\0/);
});

test('encodeSpawnRequest: "PSPN", the header length (uint32 BE), then id, account, file, cwd, purpose, argc, args, envc, env', () => {
  const fixed = encodeSpawnRequest(42, { account: 'bob', file: '/bin/echo', args: ['a b', ''], env: { X: '1=2' }, cwd: '/tmp', purpose: 'CGI é' });
  const header = Buffer.from(['42', 'bob', '/bin/echo', '/tmp', 'CGI é', '2', 'a b', '', '1', 'X=1=2'].join('\0'));
  assert.deepEqual(fixed, Buffer.concat([Buffer.from('PSPN'), Buffer.from([0, 0, 0, header.length]), header]));
  fc.assert(
    fc.property(validRequest, fc.integer({ min: 1, max: SPAWN_LIMITS.maxId - 1 }), (request, id) => {
      const bytes = encodeSpawnRequest(id, request);
      assert.equal(bytes.toString('latin1', 0, 4), 'PSPN');
      assert.equal(bytes.readUInt32BE(4), bytes.length - 8);
      // Read back the way the forker does (split on NUL, counts first).
      const fields = bytes.subarray(8).toString('utf8').split('\0');
      const [sentId, account, file, cwd, purpose, argc, ...rest] = fields;
      assert.deepEqual([Number(sentId), account, file, cwd, purpose], [id, request.account, request.file, request.cwd, request.purpose]);
      const args = rest.splice(0, Number(argc));
      assert.deepEqual(args, request.args);
      const [envc, ...env] = rest;
      assert.equal(Number(envc), env.length);
      assert.deepEqual(Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])), { ...request.env });
    }),
    { numRuns: 500 },
  );
});

test('connection prefixes and kill lines', () => {
  assert.deepEqual(connectionPrefix('PCTL', 0), Buffer.from('PCTL\0\0\0\0', 'latin1'));
  assert.deepEqual(connectionPrefix('PSIN', 0x01020304), Buffer.from([0x50, 0x53, 0x49, 0x4e, 1, 2, 3, 4]));
  assert.equal(killLine(7, 'SIGTERM'), 'KILL 7 SIGTERM\n');
  assert.equal(outputLine('PAUSE', 7), 'PAUSE 7\n');
  assert.equal(outputLine('RESUME', 7), 'RESUME 7\n');
  assert.equal(outputLine('DROP', 2 ** 31 - 1), 'DROP 2147483647\n');
  assert.equal(isSignalName('SIGKILL'), true);
  for (const s of ['SIGNOPE', 'sigkill', 9, '', 'constructor', '__proto__', 'toString', null]) assert.equal(isSignalName(s), false, String(s));
  fc.assert(fc.property(fc.string(), (s) => assert.equal(isSignalName(s), Object.hasOwn(os.constants.signals, s) && /^SIG[A-Z0-9]+$/.test(s))));
});

/** The forker's escape(): whitespace, controls, DEL and "%" as %XX of each byte; other bytes (UTF-8) as they are. */
function escape(value: string): Buffer {
  const out: number[] = [];
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte <= 0x20 || byte === 0x25 || byte === 0x7f) out.push(...Buffer.from(`%${byte.toString(16).toUpperCase().padStart(2, '0')}`));
    else out.push(byte);
  }
  return Buffer.from(out);
}

const signalNumbers = [...new Set(Object.values(os.constants.signals))];
/** The name the parser gives a signal number (which name that is, is the last test's subject). */
const signalName = (n: number): NodeJS.Signals => (new ControlParser().push(Buffer.from(`EXIT 1 - ${n}\n`))[0] as { signal: NodeJS.Signals }).signal;
const id = fc.integer({ min: 1, max: SPAWN_LIMITS.maxId - 1 });
const message: fc.Arbitrary<{ bytes: Buffer; message: ControlMessage }> = fc.oneof(
  text(20).map((pool) => ({ bytes: Buffer.concat([Buffer.from('HELLO '), escape(pool), Buffer.from('\n')]), message: { type: 'hello', pool } as const })),
  fc
    .record({ id, pid: fc.integer({ min: 1, max: 2 ** 22 }), uid: fc.nat(2 ** 31), gid: fc.nat(2 ** 31), groups: fc.array(fc.nat(2 ** 31), { minLength: 1, maxLength: 5 }), name: text(20), home: text(20) })
    .map((m) => ({
      bytes: Buffer.concat([Buffer.from(`STARTED ${m.id} ${m.pid} ${m.uid} ${m.gid} ${m.groups.join(',')} `), escape(m.name), Buffer.from(' '), escape(m.home), Buffer.from('\n')]),
      message: { type: 'started', id: m.id, pid: m.pid, account: { uid: m.uid, gid: m.gid, groups: m.groups, name: m.name, home: m.home } } as const,
    })),
  fc.record({ id, status: fc.integer({ min: 100, max: 599 }), substatus: fc.nat(99), reason: text(80) }).map((m) => ({
    bytes: Buffer.concat([Buffer.from(`REFUSED ${m.id} ${m.status} ${m.substatus} `), escape(m.reason), Buffer.from('\n')]),
    message: { type: 'refused', ...m } as const,
  })),
  fc.record({ id, data: fc.uint8Array({ minLength: 1, maxLength: 300 }) }).map((m) => ({
    bytes: Buffer.concat([Buffer.from(`STDERR ${m.id} ${m.data.length}\n`), Buffer.from(m.data)]),
    message: { type: 'stderr', id: m.id, data: Buffer.from(m.data) } as const,
  })),
  id.map((i) => ({ bytes: Buffer.from(`STDERREND ${i}\n`), message: { type: 'stderr-end', id: i } as const })),
  fc.record({ id, data: fc.uint8Array({ minLength: 1, maxLength: 300 }) }).map((m) => ({
    bytes: Buffer.concat([Buffer.from(`STDOUT ${m.id} ${m.data.length}\n`), Buffer.from(m.data)]),
    message: { type: 'stdout', id: m.id, data: Buffer.from(m.data) } as const,
  })),
  id.map((i) => ({ bytes: Buffer.from(`STDOUTEND ${i}\n`), message: { type: 'stdout-end', id: i } as const })),
  fc.record({ id, code: fc.nat(255) }).map((m) => ({ bytes: Buffer.from(`EXIT ${m.id} ${m.code} -\n`), message: { type: 'exit', id: m.id, code: m.code, signal: null } as const })),
  fc.record({ id, signal: fc.constantFrom(...signalNumbers) }).map((m) => ({
    bytes: Buffer.from(`EXIT ${m.id} - ${m.signal}\n`),
    message: { type: 'exit', id: m.id, code: null, signal: signalName(m.signal) } as const,
  })),
);

test('ControlParser: any chunking of a valid message stream gives the same messages', () => {
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, cuts) => {
      const stream = Buffer.concat(messages.map((m) => m.bytes));
      const expected = messages.map((m) => m.message);
      assert.deepEqual(new ControlParser().push(stream), expected);
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const parser = new ControlParser();
      const seen: ControlMessage[] = [];
      let from = 0;
      for (const point of [...points, stream.length]) {
        seen.push(...parser.push(stream.subarray(from, point)));
        from = point;
      }
      assert.deepEqual(seen, expected);
    }),
    { numRuns: 1000 },
  );
});

test('ControlParser: arbitrary bytes never throw anything but ControlProtocolError', () => {
  const junkLine = fc
    .tuple(fc.constantFrom('HELLO', 'STARTED', 'REFUSED', 'STDERR', 'STDERREND', 'STDOUT', 'STDOUTEND', 'EXIT', 'KILL', ''), fc.array(fc.oneof(fc.constantFrom('-', '0', '1', '01', '2147483648', '4294967296', '%', '%zz', '1048577', ',', '1,,2', ''), fc.string({ maxLength: 8 })), { maxLength: 9 }))
    .map(([verb, fields]) => Buffer.from(`${[verb, ...fields].join(' ')}\n`, 'latin1'));
  const chunk = fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), junkLine, message.map((m) => m.bytes));
  fc.assert(
    fc.property(fc.array(chunk, { minLength: 1, maxLength: 8 }), (chunks) => {
      const parser = new ControlParser();
      try {
        for (const c of chunks) parser.push(c);
      } catch (error) {
        assert.ok(error instanceof ControlProtocolError, `threw ${String(error)}`);
      }
    }),
    { numRuns: 3000 },
  );
});

test('ControlParser: malformed lines, an oversized line and bad STDERR and STDOUT lengths are ControlProtocolError', () => {
  const bad = [
    'HELLO\n',
    'HELLO a b\n',
    'STARTED 1 2 3 4 5 name\n',
    'STARTED 0 2 3 4 5 name /home\n',
    'STARTED 1 2 3 4 5,x name /home\n',
    'REFUSED 1 403 19\n',
    'REFUSED 2147483648 403 19 x\n',
    'REFUSED 01 403 19 x\n',
    'STDERR 1 0\n',
    `STDERR 1 ${1024 * 1024 + 1}\n`,
    'STDERREND x\n',
    'STDOUT 1 0\n',
    `STDOUT 1 ${1024 * 1024 + 1}\n`,
    'STDOUT 0 5\n',
    'STDOUTEND 1 2\n',
    'EXIT 1 - 999\n',
    'EXIT 1 x -\n',
    'EXIT 1 -\n',
    'KILL 1 SIGKILL\n',
    '\n',
  ];
  for (const line of bad) assert.throws(() => new ControlParser().push(Buffer.from(line)), ControlProtocolError, JSON.stringify(line));
  assert.throws(() => new ControlParser().push(Buffer.alloc(64 * 1024 + 1, 0x41)), ControlProtocolError);
  // A STDERR payload may hold newlines and anything else: it is counted, not parsed.
  assert.deepEqual(new ControlParser().push(Buffer.from('STDERR 3 4\nA\nB\nSTDERREND 3\n')), [
    { type: 'stderr', id: 3, data: Buffer.from('A\nB\n') },
    { type: 'stderr-end', id: 3 },
  ]);
});

test('ControlParser: %XX fields are unescaped as UTF-8 (names, homes, reasons)', () => {
  const [started] = new ControlParser().push(Buffer.from('STARTED 5 100 1001 1002 1002,1003 pst-%C3%BCser%20x /home/%E2%82%AC%25\n'));
  assert.deepEqual(started, { type: 'started', id: 5, pid: 100, account: { uid: 1001, gid: 1002, groups: [1002, 1003], name: 'pst-üser x', home: '/home/€%' } });
  // Raw UTF-8 bytes (the forker escapes only whitespace, controls and "%") come out as the same text.
  const [refused] = new ControlParser().push(Buffer.concat([Buffer.from('REFUSED 6 403 19 '), Buffer.from('ünïcode%0Aline%09tab'), Buffer.from('\n')]));
  assert.deepEqual(refused, { type: 'refused', id: 6, status: 403, substatus: 19, reason: 'ünïcode\nline\ttab' });
  fc.assert(
    fc.property(text(40), (reason) => {
      const [m] = new ControlParser().push(Buffer.concat([Buffer.from('REFUSED 1 500 0 '), escape(reason), Buffer.from('\n')]));
      assert.deepEqual(m, { type: 'refused', id: 1, status: 500, substatus: 0, reason });
    }),
    { numRuns: 500 },
  );
});

test('ControlParser: EXIT signal numbers get the names Node itself gives a child killed by them', async () => {
  // Those whose default action ends the process (STOP, TSTP… stop it; CHLD, URG, WINCH, CONT are ignored).
  const ending = Object.entries(os.constants.signals).filter(([name]) => !['SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGCHLD', 'SIGURG', 'SIGWINCH', 'SIGCONT'].includes(name));
  const numbers = [...new Set(ending.map(([, n]) => n))];
  for (const n of numbers) {
    const nodeName = await new Promise<NodeJS.Signals | null>((resolve) => {
      const child = spawn('/bin/sh', ['-c', `ulimit -c 0; kill -${n} $$`], { stdio: 'ignore', cwd: os.tmpdir() });
      child.on('exit', (_code, signal) => resolve(signal));
    });
    const [exit] = new ControlParser().push(Buffer.from(`EXIT 1 - ${n}\n`));
    assert.deepEqual(exit, { type: 'exit', id: 1, code: null, signal: nodeName }, `signal ${n}`);
  }
});
