import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { W3C_FIELDS, type W3cField } from '../../src/config/schema.js';
import { DEFAULT_W3C_FIELDS, W3cLog, w3cFileName, type W3cRecord } from '../../src/logging/w3c.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'persona-w3c-'));
}

function record(overrides: Partial<W3cRecord> = {}): W3cRecord {
  return {
    end: new Date(Date.UTC(2024, 2, 9, 13, 5, 7, 250)),
    siteName: 'W3SVC1',
    computerName: 'WEB01',
    serverIp: '127.0.0.1',
    serverPort: 8080,
    clientIp: '127.0.0.1',
    method: 'GET',
    uriStem: '/index.html',
    uriQuery: 'a=1&b=2',
    username: 'CONTOSO\\alice',
    version: 'HTTP/1.1',
    userAgent: 'curl/8.5.0',
    status: 200,
    substatus: 0,
    win32Status: 0,
    bytesSent: 512,
    bytesReceived: 128,
    timeTakenMs: 15,
    ...overrides,
  };
}

/** A clock the test moves by hand. */
function manualClock(start: Date): { now: () => Date; set: (d: Date) => void } {
  let current = start;
  return { now: () => current, set: (d) => (current = d) };
}

function lines(text: string): string[] {
  assert.ok(text.endsWith('\r\n'), 'file ends with a complete line');
  return text.slice(0, -2).split('\r\n');
}

const DAY = new Date(Date.UTC(2024, 2, 9, 13, 5, 7));

test('a new file starts with the IIS directives and records follow in field order', async () => {
  const dir = await tempDir();
  const clock = manualClock(DAY);
  const log = new W3cLog({ directory: join(dir, 'W3SVC1'), fields: DEFAULT_W3C_FIELDS, period: 'daily', software: 'Persona 0.1.0', now: clock.now });
  log.write(record({ referer: 'http://example.com/start page' }));
  log.write(record({ username: '', uriQuery: '', status: 401, substatus: 2, win32Status: 5, userAgent: undefined }));
  await log.close();

  assert.deepEqual(await readdir(join(dir, 'W3SVC1')), ['u_ex240309.log']);
  const got = lines(await readFile(join(dir, 'W3SVC1', 'u_ex240309.log'), 'utf8'));
  assert.deepEqual(got, [
    '#Software: Persona 0.1.0',
    '#Version: 1.0',
    '#Date: 2024-03-09 13:05:07',
    '#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken',
    '2024-03-09 13:05:07 127.0.0.1 GET /index.html a=1&b=2 8080 CONTOSO\\alice 127.0.0.1 curl/8.5.0 http://example.com/start+page 200 0 0 15',
    '2024-03-09 13:05:07 127.0.0.1 GET /index.html - 8080 - 127.0.0.1 - - 401 2 5 15',
  ]);
  await rm(dir, { recursive: true });
});

test('every field can be selected, in any order, and is written in the order given', async () => {
  const dir = await tempDir();
  const fields: W3cField[] = ['x-trace-id', 'sc-bytes', 'cs-bytes', 'cs-host', 'cs(Cookie)', 'cs-version', 's-computername', 's-sitename', 'time', 'date'];
  const log = new W3cLog({ directory: dir, fields, period: 'daily', software: '#Software: Persona 0.1.0', now: () => DAY });
  log.write(record({ traceId: 'abc-123', host: 'www.example.com:8080', cookie: 'a=b; c=d', timeTakenMs: 0.6 }));
  await log.close();
  const got = lines(await readFile(join(dir, 'u_ex240309.log'), 'utf8'));
  assert.equal(got[0], '#Software: Persona 0.1.0');
  assert.equal(got[3], '#Fields: ' + fields.join(' '));
  assert.equal(got[4], 'abc-123 512 128 www.example.com:8080 a=b;+c=d HTTP/1.1 WEB01 W3SVC1 13:05:07 2024-03-09');
  await rm(dir, { recursive: true });
});

test('values are escaped so that a record is always one line of space-separated values', async () => {
  const dir = await tempDir();
  const fields: W3cField[] = ['cs(User-Agent)', 'cs-uri-stem', 'cs-username', 'time-taken'];
  const log = new W3cLog({ directory: dir, fields, period: 'daily', software: 'Persona 0.1.0', now: () => DAY });
  log.write(record({ userAgent: 'Evil\r\n2024-03-09 00:00:00 forged line', uriStem: '/caf\u00e9/\u{1F600}', username: 'say "hi"\tnow', timeTakenMs: 12.4 }));
  log.write(record({ userAgent: '#Fields: date', uriStem: '/\ud800x', username: '\x00\x7f', timeTakenMs: NaN }));
  await log.close();
  const got = lines(await readFile(join(dir, 'u_ex240309.log'), 'utf8'));
  assert.equal(got.length, 6);
  assert.equal(got[4], 'Evil%0D%0A2024-03-09+00:00:00+forged+line /caf%C3%A9/%F0%9F%98%80 say+%22hi%22%09now 12');
  // A leading '#' would make the record read as a directive; a lone surrogate becomes U+FFFD.
  assert.equal(got[5], '%23Fields:+date /%EF%BF%BDx %00%7F -');
  await rm(dir, { recursive: true });
});

test('the log rolls over to a new file when the UTC day changes', async () => {
  const dir = await tempDir();
  const clock = manualClock(new Date(Date.UTC(2024, 11, 31, 23, 59, 59)));
  const log = new W3cLog({ directory: dir, fields: ['date', 'time', 'cs-uri-stem'], period: 'daily', software: 'Persona 0.1.0', now: clock.now });
  log.write(record({ end: clock.now(), uriStem: '/old' }));
  clock.set(new Date(Date.UTC(2025, 0, 1, 0, 0, 1)));
  log.write(record({ end: clock.now(), uriStem: '/new' }));
  await log.close();

  assert.deepEqual((await readdir(dir)).sort(), ['u_ex241231.log', 'u_ex250101.log']);
  const old = lines(await readFile(join(dir, 'u_ex241231.log'), 'utf8'));
  const fresh = lines(await readFile(join(dir, 'u_ex250101.log'), 'utf8'));
  assert.deepEqual(old.slice(2), ['#Date: 2024-12-31 23:59:59', '#Fields: date time cs-uri-stem', '2024-12-31 23:59:59 /old']);
  assert.deepEqual(fresh.slice(0, 2), ['#Software: Persona 0.1.0', '#Version: 1.0']);
  assert.deepEqual(fresh.slice(2), ['#Date: 2025-01-01 00:00:01', '#Fields: date time cs-uri-stem', '2025-01-01 00:00:01 /new']);
  await rm(dir, { recursive: true });
});

test('hourly files are named u_exYYMMDDHH.log and roll over each hour', async () => {
  assert.equal(w3cFileName(new Date(Date.UTC(2024, 2, 9, 7, 30)), 'hourly'), 'u_ex24030907.log');
  assert.equal(w3cFileName(new Date(Date.UTC(2024, 2, 9, 7, 30)), 'daily'), 'u_ex240309.log');
  const dir = await tempDir();
  const clock = manualClock(new Date(Date.UTC(2024, 2, 9, 7, 59, 59, 999)));
  const log = new W3cLog({ directory: dir, fields: ['cs-uri-stem'], period: 'hourly', software: 'Persona 0.1.0', now: clock.now });
  log.write(record({ uriStem: '/a' }));
  clock.set(new Date(Date.UTC(2024, 2, 9, 8, 0, 0)));
  log.write(record({ uriStem: '/b' }));
  log.write(record({ uriStem: '/c' }));
  await log.close();
  assert.deepEqual((await readdir(dir)).sort(), ['u_ex24030907.log', 'u_ex24030908.log']);
  assert.deepEqual(lines(await readFile(join(dir, 'u_ex24030908.log'), 'utf8')).slice(4), ['/b', '/c']);
  await rm(dir, { recursive: true });
});

test('a process that reopens an existing file appends a new directive block', async () => {
  const dir = await tempDir();
  const options = { directory: dir, fields: ['cs-uri-stem'] as const, period: 'daily' as const, software: 'Persona 0.1.0', now: () => DAY };
  const first = new W3cLog(options);
  first.write(record({ uriStem: '/first' }));
  await first.close();
  const second = new W3cLog(options);
  second.write(record({ uriStem: '/second' }));
  await second.close();
  const got = lines(await readFile(join(dir, 'u_ex240309.log'), 'utf8'));
  assert.deepEqual(got, [
    '#Software: Persona 0.1.0', '#Version: 1.0', '#Date: 2024-03-09 13:05:07', '#Fields: cs-uri-stem', '/first',
    '#Software: Persona 0.1.0', '#Version: 1.0', '#Date: 2024-03-09 13:05:07', '#Fields: cs-uri-stem', '/second',
  ]);
  await rm(dir, { recursive: true });
});

test('a field list change (reload) writes a new #Fields directive in the same file', async () => {
  const dir = await tempDir();
  const log = new W3cLog({ directory: dir, fields: ['cs-uri-stem'], period: 'daily', software: 'Persona 0.1.0', now: () => DAY });
  log.write(record({ uriStem: '/before' }));
  await log.flush();
  log.setFields(['cs-uri-stem']); // unchanged: no new block
  log.write(record({ uriStem: '/same' }));
  log.setFields(['sc-status', 'cs-uri-stem']);
  log.write(record({ uriStem: '/after' }));
  await log.close();
  const got = lines(await readFile(join(dir, 'u_ex240309.log'), 'utf8'));
  assert.deepEqual(got.slice(4), [
    '/before', '/same',
    '#Software: Persona 0.1.0', '#Version: 1.0', '#Date: 2024-03-09 13:05:07', '#Fields: sc-status cs-uri-stem', '200 /after',
  ]);
  await rm(dir, { recursive: true });
});

test('when the log folder is removed, logging resumes in a recreated file with directives', async () => {
  const dir = await tempDir();
  const logDir = join(dir, 'W3SVC1');
  const errors: Error[] = [];
  const log = new W3cLog({ directory: logDir, fields: ['cs-uri-stem'], period: 'daily', software: 'Persona 0.1.0', now: () => DAY, onError: (e) => errors.push(e) });
  log.write(record({ uriStem: '/one' }));
  await log.flush();
  await rm(logDir, { recursive: true });
  log.write(record({ uriStem: '/two' }));
  await log.close();
  const got = lines(await readFile(join(logDir, 'u_ex240309.log'), 'utf8'));
  assert.deepEqual(got, ['#Software: Persona 0.1.0', '#Version: 1.0', '#Date: 2024-03-09 13:05:07', '#Fields: cs-uri-stem', '/two']);
  assert.deepEqual(errors, []);
  assert.equal(log.dropped, 0);
  await rm(dir, { recursive: true });
});

test('a write failure goes to onError, counts the lines as dropped and never throws', async () => {
  const dir = await tempDir();
  const blocker = join(dir, 'not-a-folder');
  await writeFile(blocker, 'x');
  const errors: Error[] = [];
  const log = new W3cLog({ directory: join(blocker, 'W3SVC1'), fields: ['cs-uri-stem'], period: 'daily', software: 'Persona 0.1.0', onError: (e) => errors.push(e) });
  log.write(record());
  log.write(record());
  await log.flush();
  assert.equal(log.dropped, 2);
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as NodeJS.ErrnoException).code, 'ENOTDIR');
  // A throwing callback is contained too.
  const rude = new W3cLog({ directory: join(blocker, 'W3SVC2'), fields: ['cs-uri-stem'], period: 'daily', software: 'P', onError: () => { throw new Error('boom'); } });
  rude.write(record());
  await rude.close();
  assert.equal(rude.dropped, 1);
  await log.close();
  log.write(record()); // after close: ignored, counted
  assert.equal(log.dropped, 3);
  await rm(dir, { recursive: true });
});

test('the in-memory buffer is bounded: beyond it lines are dropped and counted, reported once', async () => {
  const dir = await tempDir();
  const errors: Error[] = [];
  const log = new W3cLog({ directory: dir, fields: ['cs-uri-stem'], period: 'daily', software: 'Persona 0.1.0', now: () => DAY, maxBufferedBytes: 100, onError: (e) => errors.push(e) });
  // Each line is '/0123456789\r\n' = 13 bytes: 7 fit in 100 bytes, all written before any disk write can run.
  for (let i = 0; i < 20; i++) log.write(record({ uriStem: '/0123456789' }));
  assert.equal(log.dropped, 13);
  assert.equal(errors.length, 1);
  await log.flush();
  log.write(record({ uriStem: '/later' })); // room again once the disk caught up
  await log.close();
  const got = lines(await readFile(join(dir, 'u_ex240309.log'), 'utf8'));
  assert.deepEqual(got.slice(4), [...Array.from({ length: 7 }, () => '/0123456789'), '/later']);
  assert.equal(log.dropped, 13);
  await rm(dir, { recursive: true });
});

test('large volumes are written in batches and all arrive in order', async () => {
  const dir = await tempDir();
  const log = new W3cLog({ directory: dir, fields: ['cs-uri-query'], period: 'daily', software: 'Persona 0.1.0', now: () => DAY });
  for (let i = 0; i < 20000; i++) log.write(record({ uriQuery: 'n=' + i }));
  await log.close();
  const got = lines(await readFile(join(dir, 'u_ex240309.log'), 'utf8'));
  assert.equal(got.length, 4 + 20000);
  assert.equal(got.filter((l) => l.startsWith('#')).length, 4, 'one directive block');
  assert.ok(got.slice(4).every((l, i) => l === 'n=' + i));
  assert.equal(log.dropped, 0);
  await rm(dir, { recursive: true });
});

const anyText = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom(' ', '\r', '\n', '"', '#', '\t', '\x00', '\u2028', '\ud800', '\udc00', '-', '+', '%', 'a', '\u00e9') }),
);
const anyNumber = fc.oneof(fc.integer(), fc.double(), fc.constant(Number.NaN));

const anyRecord: fc.Arbitrary<W3cRecord> = fc.record({
  end: fc.date({ noInvalidDate: false }),
  siteName: anyText, computerName: anyText, serverIp: anyText, serverPort: anyNumber, clientIp: anyText,
  method: anyText, uriStem: anyText, uriQuery: anyText, username: anyText, version: anyText,
  userAgent: fc.option(anyText, { nil: undefined }), cookie: fc.option(anyText, { nil: undefined }),
  referer: fc.option(anyText, { nil: undefined }), host: fc.option(anyText, { nil: undefined }),
  status: anyNumber, substatus: anyNumber, win32Status: anyNumber, bytesSent: anyNumber, bytesReceived: anyNumber,
  timeTakenMs: anyNumber, traceId: fc.option(anyText, { nil: undefined }),
});
const anyFields = fc.uniqueArray(fc.constantFrom(...W3C_FIELDS), { minLength: 1, maxLength: W3C_FIELDS.length });

test('property: any record is exactly one line with exactly fields.length non-empty printable values', async () => {
  const dir = await tempDir();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(anyFields, fc.array(anyRecord, { minLength: 1, maxLength: 5 }), async (fields, records) => {
      const directory = join(dir, String(n++));
      const log = new W3cLog({ directory, fields, period: 'daily', software: 'Persona 0.1.0', now: () => DAY });
      for (const r of records) log.write(r);
      await log.close();
      assert.equal(log.dropped, 0);
      const got = lines(await readFile(join(directory, 'u_ex240309.log'), 'utf8'));
      assert.equal(got.length, 4 + records.length);
      assert.equal(got[3], '#Fields: ' + fields.join(' '));
      for (const line of got.slice(4)) {
        assert.match(line, /^[\x20-\x7e]+$/);
        assert.notEqual(line[0], '#');
        const values = line.split(' ');
        assert.equal(values.length, fields.length);
        assert.ok(values.every((v) => v.length > 0 && !v.includes('"')));
      }
    }),
    { numRuns: 200 },
  );
  await rm(dir, { recursive: true });
});
