import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { AuditLog, formatAuditEvent, MAX_FIELD_CHARS, parseAuditLine, tailAudit, type AuditEvent } from '../../src/security/audit.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'persona-audit-'));
}

const failure = (account: string, extra: Partial<AuditEvent> = {}): Omit<AuditEvent, 'time'> => ({
  eventId: 4625,
  account,
  domain: 'TESTBOX',
  logonType: 8,
  package: 'Basic',
  clientAddress: '127.0.0.1',
  status: 'STATUS_LOGON_FAILURE',
  subStatus: 'STATUS_WRONG_PASSWORD',
  statusCode: '0xC000006D',
  subStatusCode: '0xC000006A',
  reason: 'wrong password',
  ...extra,
});

async function collect(source: AsyncGenerator<AuditEvent>): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const e of source) out.push(e);
  return out;
}

function lines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('AuditLog appends one JSON line per event, owner-only, with time first and only the known fields', async () => {
  const dir = await tempDir();
  const file = join(dir, 'nested', 'audit.log');
  const log = new AuditLog(file);
  // A caller's object may carry more than an event (a request's credentials spread into it by mistake).
  log.write({ ...failure('alice'), password: 'Sw0rdfish-Secret!' } as Omit<AuditEvent, 'time'>);
  log.write({ eventId: 4624, account: 'bob', domain: 'TESTBOX', sid: 'S-1-5-21-1-2-3-1001', logonType: 3, package: 'Basic', clientAddress: '::1', logonId: '0xabc' });
  await log.close();
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const text = await readFile(file, 'utf8');
  assert.ok(!text.includes('Sw0rdfish-Secret!'), 'an unknown field (here a password) is never written');
  const [first, second] = lines(text);
  assert.deepEqual(Object.keys(first!), ['time', 'eventId', 'account', 'domain', 'logonType', 'package', 'clientAddress', 'status', 'subStatus', 'statusCode', 'subStatusCode', 'reason']);
  assert.match(String(first!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(first!.eventId, 4625);
  assert.equal(first!.subStatusCode, '0xC000006A');
  assert.equal(second!.account, 'bob');
  assert.equal(second!.sid, 'S-1-5-21-1-2-3-1001');
  assert.equal(second!.logonId, '0xabc');
});

test('AuditLog appends to an existing file and narrows its mode to 0600', async () => {
  const dir = await tempDir();
  const file = join(dir, 'audit.log');
  writeFileSync(file, JSON.stringify({ time: 't0', eventId: 4624, account: 'old', domain: 'D' }) + '\n');
  chmodSync(file, 0o644);
  const log = new AuditLog(file);
  log.write(failure('new'));
  await log.close();
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(lines(await readFile(file, 'utf8')).map((e) => e.account), ['old', 'new']);
});

test('AuditLog bounds client-supplied values and keeps control characters inside one JSON line', async () => {
  const dir = await tempDir();
  const file = join(dir, 'audit.log');
  const log = new AuditLog(file);
  log.write(failure('x'.repeat(100_000) + '\n{"eventId":4624,"account":"forged"}'));
  await log.close();
  const parsed = lines(await readFile(file, 'utf8'));
  assert.equal(parsed.length, 1);
  assert.equal(String(parsed[0]!.account).length, MAX_FIELD_CHARS + 1);
});

test('writing after close is dropped with a warning, not a crash', async () => {
  const dir = await tempDir();
  const file = join(dir, 'audit.log');
  const log = new AuditLog(file);
  await log.close();
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  log.write(failure('late'));
  await new Promise((r) => setImmediate(r));
  process.removeListener('warning', onWarning);
  assert.equal(await readFile(file, 'utf8'), '');
  assert.ok(warnings.some((w) => w.includes('closed')));
});

test('tailAudit -n gives the last N events in order, skipping lines that are not events', async () => {
  const dir = await tempDir();
  const file = join(dir, 'audit.log');
  const log = new AuditLog(file);
  for (let i = 0; i < 10; i++) log.write(failure(`user${i}`));
  await log.close();
  appendFileSync(file, 'not json\n{"eventId":1234,"time":"t","account":"a","domain":"d"}\n\n');
  const last3 = await collect(tailAudit(file, { lines: 3, follow: false }));
  assert.deepEqual(last3.map((e) => e.account), ['user7', 'user8', 'user9']);
  assert.deepEqual((await collect(tailAudit(file, { lines: 0, follow: false }))).length, 0);
  assert.deepEqual((await collect(tailAudit(file, { lines: 100, follow: false }))).map((e) => e.account), Array.from({ length: 10 }, (_, i) => `user${i}`));
});

test('tailAudit reads across chunk boundaries and takes an unterminated last line when not following', async () => {
  const dir = await tempDir();
  const file = join(dir, 'audit.log');
  const log = new AuditLog(file);
  // ~1 KiB per event: 300 events cross several 64 KiB chunks, with lines split between chunks.
  for (let i = 0; i < 300; i++) log.write(failure(`user${i}`, { reason: 'r'.repeat(900 + (i % 7)) }));
  await log.close();
  appendFileSync(file, JSON.stringify({ time: 't', eventId: 4624, account: 'unterminated', domain: 'D' }));
  const events = await collect(tailAudit(file, { lines: 250, follow: false }));
  assert.equal(events.length, 250);
  assert.deepEqual(events.map((e) => e.account), [...Array.from({ length: 249 }, (_, i) => `user${i + 51}`), 'unterminated']);
});

test('tailAudit on a missing file without follow yields nothing', async () => {
  const dir = await tempDir();
  assert.deepEqual(await collect(tailAudit(join(dir, 'none.log'), { lines: 10, follow: false })), []);
});

/** Pulls events from a following tail until `count` arrived (bounded: the test fails rather than hangs). */
async function take(iterator: AsyncIterator<AuditEvent>, count: number): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  while (out.length < count) {
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`waited 10 s for audit event ${out.length + 1} of ${count}`)), 10_000))),
    ]).finally(() => clearTimeout(timer));
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

test('tailAudit -f follows appended events, survives truncation, and ends when aborted', async () => {
  const dir = await tempDir();
  const file = join(dir, 'audit.log');
  const log = new AuditLog(file);
  log.write(failure('before1'));
  log.write(failure('before2'));
  const abort = new AbortController();
  const tail = tailAudit(file, { lines: 1, follow: true, signal: abort.signal });
  assert.deepEqual((await take(tail, 1)).map((e) => e.account), ['before2']);
  log.write(failure('after1'));
  log.write(failure('after2'));
  assert.deepEqual((await take(tail, 2)).map((e) => e.account), ['after1', 'after2']);
  // A line written in two pieces is delivered once, whole.
  const line = JSON.stringify({ time: 't', eventId: 4624, account: 'pieces', domain: 'D' }) + '\n';
  appendFileSync(file, line.slice(0, 20));
  const pending = take(tail, 1);
  await new Promise((r) => setTimeout(r, 300));
  appendFileSync(file, line.slice(20));
  assert.deepEqual((await pending).map((e) => e.account), ['pieces']);
  // Rotation by truncation: the new content is read from its start.
  await log.close();
  truncateSync(file, 0);
  const again = new AuditLog(file);
  again.write(failure('afterTruncate'));
  await again.close();
  assert.deepEqual((await take(tail, 1)).map((e) => e.account), ['afterTruncate']);
  abort.abort();
  assert.equal((await take(tail, 1)).length, 0, 'the generator ends after abort');
});

test('tailAudit -f waits for a file that does not exist yet', async () => {
  const dir = await tempDir();
  const file = join(dir, 'later.log');
  const abort = new AbortController();
  const tail = tailAudit(file, { lines: 10, follow: true, signal: abort.signal });
  const first = take(tail, 1);
  await new Promise((r) => setTimeout(r, 300));
  const log = new AuditLog(file);
  log.write(failure('first'));
  await log.close();
  assert.deepEqual((await first).map((e) => e.account), ['first']);
  abort.abort();
  await take(tail, 1);
});

const eventArb: fc.Arbitrary<Omit<AuditEvent, 'time'>> = fc.record(
  {
    eventId: fc.constantFrom(4624 as const, 4625 as const, 4656 as const),
    account: fc.string({ maxLength: 40, unit: 'binary' }),
    domain: fc.string({ maxLength: 20, unit: 'grapheme' }),
    sid: fc.string({ maxLength: 40 }),
    logonType: fc.integer({ min: 0, max: 13 }),
    package: fc.constantFrom('Basic', 'Anonymous', 'NTLM'),
    clientAddress: fc.string({ maxLength: 40 }),
    status: fc.string({ maxLength: 30 }),
    subStatus: fc.string({ maxLength: 30 }),
    statusCode: fc.string({ maxLength: 12 }),
    subStatusCode: fc.string({ maxLength: 12 }),
    logonId: fc.string({ maxLength: 20 }),
    object: fc.string({ maxLength: 60, unit: 'binary' }),
    desiredAccess: fc.string({ maxLength: 12 }),
    reason: fc.string({ maxLength: 80, unit: 'binary' }),
    traceId: fc.string({ maxLength: 20 }),
  },
  { requiredKeys: ['eventId', 'account', 'domain'] },
);

test('property: what AuditLog writes, tailAudit reads back unchanged', async () => {
  const dir = await tempDir();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(eventArb, { minLength: 1, maxLength: 8 }), async (events) => {
      const file = join(dir, `round-${n++}.log`);
      const log = new AuditLog(file);
      for (const e of events) log.write(e);
      await log.close();
      const read = await collect(tailAudit(file, { lines: events.length, follow: false }));
      assert.equal(read.length, events.length);
      read.forEach((r, i) => {
        const { time, ...rest } = r;
        assert.equal(typeof time, 'string');
        // Lone surrogates cannot survive UTF-8; everything else must come back exactly.
        const expected = JSON.parse(JSON.stringify(events[i])) as Record<string, unknown>;
        for (const [k, v] of Object.entries(expected)) if (typeof v === 'string') expected[k] = Buffer.from(v, 'utf8').toString('utf8');
        assert.deepEqual(rest, expected);
      });
    }),
    { numRuns: 60 },
  );
});

test('property: parseAuditLine never throws and accepts only well-typed events', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ eventId: 4625, time: 't', account: 'a', domain: 'd', reason: v }))), (line) => {
      const event = parseAuditLine(line);
      if (event === undefined) return;
      assert.ok([4624, 4625, 4656].includes(event.eventId));
      for (const k of ['time', 'account', 'domain'] as const) assert.equal(typeof event[k], 'string');
      if (event.reason !== undefined) assert.equal(typeof event.reason, 'string');
    }),
    { numRuns: 500 },
  );
});

test('property: tailAudit never throws on arbitrary file bytes and yields only events', async () => {
  const dir = await tempDir();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.array(eventArb, { maxLength: 3 }), fc.nat({ max: 20 }), async (garbage, events, count) => {
      const file = join(dir, `garbage-${n++}.log`);
      await writeFile(file, garbage);
      const log = new AuditLog(file);
      for (const e of events) log.write(e);
      await log.close();
      const read = await collect(tailAudit(file, { lines: count, follow: false }));
      assert.ok(read.length <= count);
      for (const e of read) assert.ok([4624, 4625, 4656].includes(e.eventId));
    }),
    { numRuns: 100 },
  );
});

test('formatAuditEvent: one readable line with the logon type name, package, client and status names', () => {
  const line = formatAuditEvent({ time: '2025-01-01T00:00:00.000Z', ...failure('alice') });
  assert.equal(
    line,
    '2025-01-01T00:00:00.000Z 4625 logon failure · TESTBOX\\alice · logon type 8 NetworkCleartext · package Basic · client 127.0.0.1 · ' +
      'status STATUS_LOGON_FAILURE (0xC000006D) · sub-status STATUS_WRONG_PASSWORD (0xC000006A) · reason: wrong password',
  );
  const denied = formatAuditEvent({ time: 't', eventId: 4656, account: 'IUSR', domain: 'NT AUTHORITY', object: '/srv/secure/a.txt', desiredAccess: '0x120089', reason: 'no ACE grants IUSR', traceId: 'abc' });
  assert.match(denied, /^t 4656 access denied · NT AUTHORITY\\IUSR · object \/srv\/secure\/a.txt · desired access 0x120089 · trace abc · reason: no ACE grants IUSR$/);
});

test('property: formatAuditEvent is always exactly one line without terminal control characters', () => {
  fc.assert(
    fc.property(eventArb, fc.string({ unit: 'binary' }), (event, time) => {
      const line = formatAuditEvent({ ...event, time });
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    }),
    { numRuns: 500 },
  );
});

const AUDIT_CLI = fileURLToPath(new URL('../../src/cli/audit.js', import.meta.url));

/** Runs auditTailCommand in a real child process (its own stdout, signals and exit code). */
function runTail(opts: { home: string; config?: string }, args: { lines: number; follow: boolean; json: boolean }): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; stop: () => void; stdout: () => string } {
  const script = `import(${JSON.stringify(AUDIT_CLI)}).then(async (m) => { process.exitCode = await m.auditTailCommand(${JSON.stringify(opts)}, ${JSON.stringify(args)}); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { done, stop: () => child.kill('SIGINT'), stdout: () => stdout };
}

test('persona audit tail: the default <home>/logs/audit.log, -n, --json', async () => {
  const home = await tempDir();
  const log = new AuditLog(join(home, 'logs', 'audit.log'));
  for (const name of ['a', 'b', 'c']) log.write(failure(name));
  await log.close();
  const human = await runTail({ home }, { lines: 2, follow: false, json: false }).done;
  assert.equal(human.code, 0, human.stderr);
  const out = human.stdout.trim().split('\n');
  assert.equal(out.length, 2);
  assert.match(out[0]!, /4625 logon failure · TESTBOX\\b · logon type 8 NetworkCleartext/);
  assert.match(out[1]!, /TESTBOX\\c/);
  const json = await runTail({ home }, { lines: 5, follow: false, json: true }).done;
  assert.deepEqual(lines(json.stdout).map((e) => e.account), ['a', 'b', 'c']);
});

test('persona audit tail: the file named by server.security.auditLog; -f until interrupted', async () => {
  const home = await tempDir();
  await mkdir(join(home, 'www'));
  await writeFile(
    join(home, 'persona.yaml'),
    'server:\n  security:\n    auditLog: elsewhere/security.jsonl\nsites:\n  - name: T\n    bindings: [{ protocol: http, ip: 127.0.0.1, port: 18080 }]\n    physicalPath: www\n',
  );
  const log = new AuditLog(join(home, 'elsewhere', 'security.jsonl'));
  log.write(failure('configured'));
  const tail = runTail({ home }, { lines: 10, follow: true, json: true });
  const deadline = Date.now() + 15_000;
  while (!tail.stdout().includes('configured') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  log.write(failure('followed'));
  while (!tail.stdout().includes('followed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await log.close();
  tail.stop();
  const result = await tail.done;
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(lines(result.stdout).map((e) => e.account), ['configured', 'followed']);
});

test('persona audit tail: an invalid configuration is reported, not guessed around; a bad -n is a usage error', async () => {
  const home = await tempDir();
  await writeFile(join(home, 'persona.yaml'), 'sites: 3\n');
  const bad = await runTail({ home }, { lines: 5, follow: false, json: false }).done;
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /cannot tell where the audit log is/);
  const usage = await runTail({ home }, { lines: -1, follow: false, json: false }).done;
  assert.equal(usage.code, 2);
  const empty = await tempDir();
  const none = await runTail({ home: empty }, { lines: 5, follow: false, json: false }).done;
  assert.equal(none.code, 0);
  assert.match(none.stderr, /no audit log yet/);
});
