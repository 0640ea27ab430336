/**
 * The pipeline end to end on a real server: site selection, request filtering, access flags, static files,
 * error pages, keep-alive, W3C and operational logs. Clients: node:http, raw sockets and curl.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { freePort, get, rawRequest, startPersona, tempDir, type RunningPersona } from '../helpers/persona.js';

describe('serving a site', () => {
  let server: RunningPersona;
  let port: number;
  let root: string;
  let secret: string;
  const base = () => `http://127.0.0.1:${port}`;

  before(async () => {
    const dir = await tempDir('serve');
    root = path.join(dir, 'www');
    secret = `outside-secret-${Date.now()}`;
    await mkdir(path.join(root, 'docs'), { recursive: true });
    await mkdir(path.join(root, 'listed', 'sub'), { recursive: true });
    await mkdir(path.join(root, 'noread'), { recursive: true });
    await mkdir(path.join(root, '.git'), { recursive: true });
    await writeFile(path.join(dir, 'outside.txt'), secret);
    await writeFile(path.join(root, 'index.html'), '<h1>home</h1>');
    await writeFile(path.join(root, 'docs', 'default.htm'), 'docs default');
    await writeFile(path.join(root, 'listed', 'a.txt'), 'a');
    await writeFile(path.join(root, 'noread', 'n.txt'), 'n');
    await writeFile(path.join(root, '.git', 'config'), 'git');
    await writeFile(path.join(root, 'data.bin'), Buffer.alloc(100_000, 7));
    await writeFile(path.join(root, 'file.unknownext'), 'x');
    await writeFile(path.join(root, 'a b+c.txt'), 'spaces and plus');
    await symlink(path.join(dir, 'outside.txt'), path.join(root, 'escape.txt'));
    await writeFile(path.join(dir, 'custom404.html'), 'my custom not found page');
    port = await freePort();
    server = await startPersona(`
server:
  logging: { level: debug }
sites:
  - name: Test
    bindings:
      - { protocol: http, ip: 127.0.0.1, port: ${port} }
    physicalPath: ${JSON.stringify(root)}
    settings:
      staticContent: { mimeMap: { ".bin": application/octet-stream } }
    locations:
      - path: /listed
        settings: { accessFlags: [read, browse] }
      - path: /noread
        settings: { accessFlags: [] }
      - path: /small
        settings:
          requestFiltering: { maxAllowedContentLength: 1000 }
      - path: /custom
        settings:
          httpErrors: { errorMode: Custom, pages: { "404": ${JSON.stringify(path.join(dir, 'custom404.html'))} } }
`, { publicRoots: [root] });
  });
  after(async () => server?.stop());

  test('default document, folder redirect, HEAD and keep-alive on one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const r = await get(`${base()}/`, { agent });
      assert.equal(r.status, 200);
      assert.equal(r.text, '<h1>home</h1>');
    }
    const sockets = await new Promise<number>((resolve) => {
      const req = http.get(`${base()}/`, { agent }, (res) => {
        ports.add(res.socket.localPort ?? 0);
        res.resume();
        res.on('end', () => resolve(ports.size));
      });
    });
    assert.equal(sockets, 1);
    agent.destroy();
    const redirect = await get(`${base()}/docs?x=1`);
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/docs/?x=1');
    const doc = await get(`${base()}/docs/`);
    assert.equal(doc.text, 'docs default');
    const head = await get(`${base()}/data.bin`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '100000');
    assert.equal(head.body.length, 0);
  });

  test('curl keeps the connection alive and gets Range and conditional answers right', () => {
    const curl = spawnSync('curl', ['-sv', `${base()}/index.html`, `${base()}/index.html`], { encoding: 'utf8' });
    assert.equal(curl.status, 0, curl.stderr);
    assert.match(curl.stderr, /Re-using existing connection|Reusing existing connection/);
    const range = spawnSync('curl', ['-s', '-r', '10-19', '-o', '-', '-w', '%{http_code}', `${base()}/data.bin`]);
    assert.equal(range.stdout.subarray(-3).toString(), '206');
    assert.equal(range.stdout.length - 3, 10);
    const etag = spawnSync('curl', ['-sI', `${base()}/index.html`], { encoding: 'utf8' }).stdout.match(/etag: (.*)\r/i)?.[1];
    assert.ok(etag);
    const notModified = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `If-None-Match: ${etag}`, `${base()}/index.html`], { encoding: 'utf8' });
    assert.equal(notModified.stdout, '304');
  });

  test('request filtering answers with IIS substatus codes', async () => {
    const cases: [string, number, string][] = [
      ['/.git/config', 404, '404.8'],
      ['/a%252e%252e/', 404, '404.11'],
      ['/file.txt::$DATA', 404, '404.5'],
      ['/index.html.', 404, '404.5'],
      ['/%2e%2e/outside.txt', 400, '400'],
      ['/a/..%2f..%2foutside.txt', 400, '400'],
      ['/file.unknownext', 404, '404.3'],
      [`/${'x'.repeat(5000)}`, 404, '404.14'],
      [`/?${'q'.repeat(3000)}`, 404, '404.15'],
    ];
    for (const [url, status, label] of cases) {
      const raw = await rawRequest(port, `GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      const text = raw.toString('latin1');
      assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), `${url} → ${text.slice(0, 80)}`);
      if (label !== '400') assert.match(text, new RegExp(label.replace('.', '\\.')), `${url} shows ${label}`);
    }
  });

  test('a symlink that leaves the web root is not served, and its target never leaks', async () => {
    const r = await get(`${base()}/escape.txt`);
    assert.equal(r.status, 404);
    assert.doesNotMatch(r.text, new RegExp(secret));
  });

  test('access flags: read enforced (403.2), listing only with browse (403.14)', async () => {
    assert.equal((await get(`${base()}/noread/n.txt`)).status, 403);
    assert.match((await get(`${base()}/noread/n.txt`)).text, /403\.2/);
    const denied = await get(`${base()}/docs/../noread/`);
    assert.equal(denied.status, 403);
    await writeFile(path.join(root, 'nodefault.txt'), 'x');
    const folder = await get(`${base()}/listed/sub/`);
    assert.equal(folder.status, 200, 'browse is inherited by sub-folders');
    const listing = await get(`${base()}/listed/`);
    assert.equal(listing.status, 200);
    assert.match(listing.text, /a\.txt/);
    await mkdir(path.join(root, 'plain'), { recursive: true });
    const noListing = await get(`${base()}/plain/`);
    assert.equal(noListing.status, 403);
    assert.match(noListing.text, /403\.14/);
  });

  test('errors: detailed for loopback, custom page when configured, body limit 413.1, header limit 431', async () => {
    const detailed = await get(`${base()}/missing.html`);
    assert.equal(detailed.status, 404);
    assert.match(detailed.text, /Detailed error information/);
    assert.match(detailed.text, /Trace id/);
    const custom = await get(`${base()}/custom/missing.html`);
    assert.equal(custom.status, 404);
    assert.equal(custom.text, 'my custom not found page');
    const big = await rawRequest(port, `POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 40000000\r\n\r\n`);
    assert.match(big.toString('latin1'), /^HTTP\/1\.1 413 [\s\S]*413\.1/);
    const headers = await rawRequest(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`);
    assert.match(headers.toString('latin1'), /^HTTP\/1\.1 431 /);
    const method = await get(`${base()}/index.html`, { method: 'DELETE' });
    assert.equal(method.status, 405);
    assert.equal(method.headers.allow, 'GET, HEAD');
  });

  test('a chunked body over the limit is refused with 413.1 and the connection closed; under it the file is served', async () => {
    await mkdir(path.join(root, 'small'), { recursive: true });
    await writeFile(path.join(root, 'small', 'f.txt'), 'small file');
    const chunk = (n: number) => `${n.toString(16)}\r\n${'b'.repeat(n)}\r\n`;
    const over = await rawRequest(port, `GET /small/f.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(800)}${chunk(800)}`);
    assert.match(over.toString('latin1'), /^HTTP\/1\.1 413 [\s\S]*[Cc]onnection: close[\s\S]*413\.1/);
    const under = await rawRequest(port, `GET /small/f.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk(500)}0\r\n\r\n`);
    assert.match(under.toString('latin1'), /^HTTP\/1\.1 200 [\s\S]*small file$/);
  });

  test('malformed requests get 400 before the pipeline and the server keeps serving', async () => {
    for (const bad of [
      'GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
      'GET / HTTP/1.1\r\n\r\n',
      'GARBAGE\r\n\r\n',
      'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
    ]) {
      const reply = (await rawRequest(port, bad)).toString('latin1');
      assert.match(reply, /^HTTP\/1\.1 (400|505) /, JSON.stringify(bad));
    }
    assert.equal((await get(`${base()}/`)).status, 200);
  });

  test('the W3C log has IIS fields with substatus, and the operational log never prints credentials', async () => {
    await get(`${base()}/a%20b+c.txt?q=1`, { headers: { 'user-agent': 'Test Agent/1.0', authorization: 'Basic c2VjcmV0OnNlY3JldA==' } });
    await get(`${base()}/.git/config`);
    await new Promise((r) => setTimeout(r, 1500)); // the W3C writer batches; its flush interval is 1 s or less
    const log = await server.w3cLog(1);
    assert.match(log, /^#Software: Persona/m);
    assert.match(log, /^#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs\(User-Agent\) cs\(Referer\) sc-status sc-substatus sc-win32-status time-taken/m);
    assert.match(log, / GET \/a\+b\+c\.txt q=1 \d+ - 127\.0\.0\.1 Test\+Agent\/1\.0 - 200 0 0 \d+$/m);
    assert.match(log, / GET \/\.git\/config - \d+ - 127\.0\.0\.1 .* 404 8 \d+ \d+$/m);
    const ops = await readFile(path.join(server.home, 'logs', 'persona.log'), 'utf8');
    assert.doesNotMatch(ops + server.output, /c2VjcmV0OnNlY3JldA==/);
  });
});
