import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { createOperationalLog, flushOperationalLog, type Logger } from '../../src/logging/operational.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'persona-oplog-'));
}

function parseLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

type Shape = (log: Logger, name: string, value: string) => void;

// Every way a secret header reached a log call in practice: request objects, nested header maps, raw header
// arrays, pairs, errors, messages, printf arguments, child bindings, Maps and fetch Headers.
const SHAPES: readonly Shape[] = [
  (l, n, v) => l.info({ req: { method: 'GET', url: '/a', headers: { [n]: v, 'x-keep': 'kept' } } }, 'req object'),
  (l, n, v) => l.info({ headers: { [n]: v } }, 'top headers'),
  (l, n, v) => l.info({ deep: { a: [{ b: { headers: { [n]: v } } }] } }, 'deep headers'),
  (l, n, v) => l.info({ rawHeaders: ['Host', 'example', n, v] }, 'raw headers'),
  (l, n, v) => l.info({ ctx: { lines: [['Host', 'example'], [n, v]] } }, 'pairs'),
  (l, n, v) => l.info({ ctx: { list: [{ name: n, value: v }] } }, 'name/value objects'),
  (l, n, v) => l.info({ ctx: { [n]: [v, v] } }, 'array value'),
  (l, n, v) => l.error(new Error(`rejected header ${n}: ${v}`)),
  (l, n, v) => l.warn({ err: Object.assign(new Error('with props'), { headers: { [n]: v } }) }, 'error props'),
  (l, n, v) => l.warn({ failure: new Error('outer', { cause: new Error(`inner ${n}: ${v}`) }) }, 'nested cause'),
  (l, n, v) => l.info(`echo ${n}: ${v}`),
  (l, n, v) => l.info({ text: `${n}=${v}` }, 'assignment in text'),
  (l, n, v) => l.info({ headers: new Map([[n, v]]) }, 'map'),
  (l, n, v) => l.info({ h: new Headers([[n, v]]) }, 'fetch headers'),
  (l, n, v) => l.child({ headers: { [n]: v } }).info('child bindings'),
  (l, n, v) => l.info('%o', { headers: { [n]: v } }),
  (l, n, v) => l.info('%s and %j', `${n}: ${v}`, { [n]: v }),
];

function randomCase(name: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((bits) => [...name].map((c, i) => (bits[i] ? c.toUpperCase() : c)).join(''));
}

const secretHeaderName = fc.constantFrom('authorization', 'proxy-authorization', 'cookie', 'set-cookie').chain(randomCase);
const schemeName = fc.constantFrom('Basic', 'NTLM', 'Negotiate', 'Bearer').chain((s) => randomCase(s.toLowerCase()));
// A recognisable secret, then printable header-value noise around it (quotes, backslashes, ':' included).
const secret = fc.stringMatching(/^[A-Za-z0-9]{10,24}$/).map((s) => 'Zq9' + s);
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 12 });

async function readNew(file: string, from: number): Promise<{ text: string; size: number }> {
  const all = await readFile(file);
  return { text: all.subarray(from).toString('utf8'), size: all.length };
}

test('secret headers never appear in fixed shapes, and the rest of each entry is kept', async () => {
  const dir = await tempDir();
  const file = join(dir, 'nested', 'folder', 'persona.log');
  const log = createOperationalLog({ level: 'info', file });
  const secrets = ['Zq9basicSecret', 'Zq9cookieSecret', 'Zq9proxySecret', 'Zq9setCookieSecret'];
  for (const shape of SHAPES) {
    shape(log, 'Authorization', `Basic ${secrets[0]}`);
    shape(log, 'COOKIE', `sid=${secrets[1]}; theme=dark`);
    shape(log, 'proxy-Authorization', `Negotiate ${secrets[2]}`);
    shape(log, 'Set-Cookie', `${secrets[3]}=1; HttpOnly`);
  }
  log.debug({ note: 'below the level' }, 'not written');
  await flushOperationalLog(log);
  const text = await readFile(file, 'utf8');
  for (const s of secrets) assert.ok(!text.includes(s), `secret ${s} leaked`);
  const entries = parseLines(text);
  assert.equal(entries.length, SHAPES.length * 4);
  assert.ok(!text.includes('below the level'));
  const first = entries[0] as { req: { method: string; url: string; headers: Record<string, string> }; msg: string };
  assert.deepEqual(first.req, { method: 'GET', url: '/a', headers: { Authorization: '[Redacted]', 'x-keep': 'kept' } });
  assert.equal(first.msg, 'req object');
  const raw = entries[3 * 4] as { rawHeaders: string[] };
  assert.deepEqual(raw.rawHeaders, ['Host', 'example', 'Authorization', '[Redacted]']);
  const err = entries[7 * 4] as { err: { type: string; message: string }; msg: string };
  assert.equal(err.err.type, 'Error');
  assert.equal(err.err.message, 'rejected header Authorization: [Redacted]');
  assert.equal(err.msg, 'rejected header Authorization: [Redacted]');
  await rm(dir, { recursive: true });
});

test('credential blobs are removed from any string, with or without a header name', async () => {
  const dir = await tempDir();
  const file = join(dir, 'persona.log');
  const log = createOperationalLog({ level: 'info', file });
  const ntlm = 'TlRMTVNTUAADAAAAGAAYAEgAAAAYABgAYAAAAA==';
  const spnego = 'YIIFzwYGKwYBBQUCoIIFwzCCBb+gMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICHgYKKwYBBAGCNwICCg==';
  log.info({ challenge: `NTLM ${ntlm}`, bare: ntlm, token: spnego, bearer: 'bearer Zq9bearerSecret' }, 'blobs');
  log.info(`client sent Negotiate ${spnego} and basic Zq9basicSecret`);
  log.info({ wwwAuthenticate: 'Negotiate, NTLM', realm: 'Basic realm="Persona"' }, 'challenge offered');
  await flushOperationalLog(log);
  const text = await readFile(file, 'utf8');
  for (const s of [ntlm.slice(0, 20), spnego.slice(0, 20), 'Zq9bearerSecret', 'Zq9basicSecret']) assert.ok(!text.includes(s), s);
  const entries = parseLines(text);
  assert.equal(entries.length, 3);
  // Scheme lists and challenge parameters are not credentials and stay readable.
  assert.equal(entries[2]!['wwwAuthenticate'], 'Negotiate, NTLM');
  assert.equal(entries[2]!['realm'], 'Basic realm="Persona"');
  await rm(dir, { recursive: true });
});

test('real requests and responses from node:http are logged without their secrets', async () => {
  const dir = await tempDir();
  const file = join(dir, 'persona.log');
  const log = createOperationalLog({ level: 'info', file });
  const basic = Buffer.from('alice:Zq9password').toString('base64');
  const server = createServer((req, res) => {
    log.info({ req, rawHeaders: req.rawHeaders, socket: req.socket }, 'incoming');
    res.setHeader('Set-Cookie', ['session=Zq9session; HttpOnly', 'other=Zq9other']);
    res.end('ok');
    log.info({ res, request: req }, 'done');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: '/x?y=1', timeout: 5000,
      headers: { Authorization: `Basic ${basic}`, Cookie: 'sid=Zq9cookie', 'Proxy-Authorization': 'NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==' },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 200);
  server.close();
  await once(server, 'close');
  await flushOperationalLog(log);
  const text = await readFile(file, 'utf8');
  for (const s of [basic, 'Zq9password', 'Zq9cookie', 'Zq9session', 'Zq9other', 'TlRMTVNTUA']) assert.ok(!text.includes(s), s);
  const [incoming, done] = parseLines(text) as [Record<string, any>, Record<string, any>];
  assert.equal(incoming['req'].method, 'GET');
  assert.equal(incoming['req'].url, '/x?y=1');
  assert.equal(incoming['req'].headers.host, `127.0.0.1:${port}`);
  assert.equal(incoming['req'].headers.authorization, '[Redacted]');
  assert.equal(incoming['req'].headers.cookie, '[Redacted]');
  assert.equal(incoming['req'].remoteAddress, '127.0.0.1');
  assert.equal(incoming['socket'], '[Socket]');
  assert.equal(done['res'].statusCode, 200);
  assert.equal(done['res'].headers['set-cookie'], '[Redacted]');
  assert.equal(done['request'].headers['proxy-authorization'], '[Redacted]');
  await rm(dir, { recursive: true });
});

test('property: whatever the header-name casing and value, the secret never reaches the file', async () => {
  const dir = await tempDir();
  const file = join(dir, 'persona.log');
  const log = createOperationalLog({ level: 'info', file });
  let offset = 0;
  await fc.assert(
    fc.asyncProperty(secretHeaderName, printable, secret, printable, schemeName, async (name, before, hidden, after, scheme) => {
      const value = before + hidden + after;
      for (const shape of SHAPES) shape(log, name, value);
      // Blobs after a scheme word, anywhere in any value, even without a header name.
      log.info({ detail: `client used ${scheme} ${hidden} here`, blob: 'TlRMTVNTUAAB' + hidden }, 'scheme');
      await flushOperationalLog(log);
      const { text, size } = await readNew(file, offset);
      offset = size;
      assert.ok(!text.includes(hidden), `leaked ${hidden} in ${text}`);
      assert.equal(parseLines(text).length, SHAPES.length + 1); // every entry written, every line still JSON
    }),
    { numRuns: 150 },
  );
  await rm(dir, { recursive: true });
});

test('an unwritable file is reported through onError and logging never throws', async () => {
  const dir = await tempDir();
  const blocker = join(dir, 'file');
  await writeFile(blocker, 'x');
  const errors: Error[] = [];
  const log = createOperationalLog({ level: 'info', file: join(blocker, 'sub', 'persona.log'), stdout: false, onError: (e) => errors.push(e) });
  log.info({ headers: { cookie: 'x' } }, 'first');
  log.error(new Error('second'));
  await flushOperationalLog(log);
  assert.equal(errors.length, 1);
  assert.ok(['ENOTDIR', 'EEXIST'].includes((errors[0] as NodeJS.ErrnoException).code ?? ''));
  await rm(dir, { recursive: true });
});

test('an unknown level falls back to info and is reported', async () => {
  const dir = await tempDir();
  const file = join(dir, 'persona.log');
  const errors: Error[] = [];
  const log = createOperationalLog({ level: 'chatty', file, onError: (e) => errors.push(e) });
  assert.equal(log.level, 'info');
  assert.equal(errors.length, 1);
  log.info('written');
  log.debug('not written');
  const child = log.child({ component: 'auth' });
  child.info('from child');
  await flushOperationalLog(child); // a child shares its parent's destination
  const entries = parseLines(await readFile(file, 'utf8'));
  assert.deepEqual(entries.map((e) => e['msg']), ['written', 'from child']);
  assert.equal(entries[1]!['component'], 'auth');
  await rm(dir, { recursive: true });
});

test('stdout and a file together: both redacted, and a runtime level change reaches both', async () => {
  const dir = await tempDir();
  const file = join(dir, 'persona.log');
  const moduleUrl = new URL('../../src/logging/operational.js', import.meta.url).href;
  const script = `
    const { createOperationalLog, flushOperationalLog } = await import(${JSON.stringify(moduleUrl)});
    const log = createOperationalLog({ level: 'info', file: ${JSON.stringify(file)}, stdout: true });
    log.info({ headers: { Authorization: 'Basic Zq9stdoutSecret' } }, 'hello');
    log.debug('hidden at info');
    log.level = 'debug';
    log.debug('shown at debug');
    await flushOperationalLog(log);
    // A file that cannot be opened falls back to stdout (stdout not set explicitly).
    const errors = [];
    const fallback = createOperationalLog({ level: 'info', file: ${JSON.stringify(join(file, 'under-a-file.log'))}, onError: (e) => errors.push(e.code) });
    fallback.info({ cookie: 'Zq9stdoutSecret' }, 'fallback ' + errors.join());
    await flushOperationalLog(fallback);
  `;
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20000, cwd: fileURLToPath(new URL('.', import.meta.url)) }, (error, out) =>
      error ? reject(error) : resolve(out));
  });
  const fromFile = await readFile(file, 'utf8');
  for (const text of [stdout, fromFile]) assert.ok(!text.includes('Zq9stdoutSecret'));
  assert.deepEqual(parseLines(fromFile).map((e) => e['msg']), ['hello', 'shown at debug']);
  const messages = parseLines(stdout).map((e) => e['msg']);
  assert.deepEqual(messages.slice(0, 2), ['hello', 'shown at debug']);
  assert.match(String(messages[2]), /^fallback (ENOTDIR|EEXIST)$/);
  assert.equal(messages.length, 3);
  await rm(dir, { recursive: true });
});
