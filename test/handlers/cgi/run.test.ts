import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import http from 'node:http';
import { eventually, FIXTURES, makeFixturesExecutable, request, startCgiServer, type CgiTestServer } from './fixtures/server.js';
import { MISBEHAVED } from '../../../src/handlers/cgi/run.js';

let server: CgiTestServer;
let refusing: CgiTestServer;

before(async () => {
  makeFixturesExecutable();
  server = await startCgiServer({ authType: 'Basic', userName: 'MACHINE\\bob' });
  refusing = await startCgiServer({ account: 'nobody' });
});

after(async () => {
  await server.close();
  await refusing.close();
});

function envOf(body: Buffer): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of body.toString('utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

test('the script sees the CGI environment, and nothing of the server process', async () => {
  process.env['PERSONA_CGI_TEST_LEAK'] = 'must-not-reach-scripts';
  try {
    const res = await request(`${server.url}/cgi-bin/env.cgi/extra/info?x=1&y=%20`, {
      headers: { Authorization: 'Basic Ym9iOnNlY3JldA==', Proxy: 'http://evil.test:3128', 'X-Test': 'hello', Cookie: 'c=1' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain');
    const env = envOf(res.body);
    const expected: Record<string, string> = {
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '/cgi-bin/env.cgi',
      PATH_INFO: '/extra/info',
      QUERY_STRING: 'x=1&y=%20',
      REQUEST_URI: '/cgi-bin/env.cgi/extra/info?x=1&y=%20',
      AUTH_TYPE: 'Basic',
      REMOTE_USER: 'MACHINE\\bob',
      AUTH_USER: 'MACHINE\\bob',
      LOGON_USER: 'MACHINE\\bob',
      REMOTE_ADDR: '127.0.0.1',
      REMOTE_HOST: '127.0.0.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_PORT: String(server.port),
      SERVER_SOFTWARE: 'Persona/test',
      HTTPS: 'off',
      REDIRECT_STATUS: '200',
      HTTP_X_TEST: 'hello',
      HTTP_COOKIE: 'c=1',
      PATH: '/usr/local/bin:/usr/bin:/bin',
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(env.get(name), value, name);
    for (const absent of ['HTTP_AUTHORIZATION', 'HTTP_PROXY', 'CONTENT_LENGTH', 'PERSONA_CGI_TEST_LEAK', 'HOME', 'NODE_OPTIONS']) {
      assert.equal(env.has(absent), false, `${absent} must not be set`);
    }
    assert.equal(res.body.includes('Ym9iOnNlY3JldA=='), false, 'credentials never reach the script');
    assert.equal(res.body.includes('must-not-reach-scripts'), false);
  } finally {
    delete process.env['PERSONA_CGI_TEST_LEAK'];
  }
});

test('a 5 MiB POST body is streamed to stdin and back', async () => {
  const body = randomBytes(5 * 1024 * 1024);
  const res = await request(`${server.url}/cgi-bin/echo.cgi`, { method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(res.status, 200);
  assert.equal(res.body.length, body.length);
  assert.ok(res.body.equals(body));
});

test('a chunked POST body (no Content-Length) reaches stdin too', async () => {
  const body = randomBytes(300_000);
  const res = await new Promise<Buffer>((resolve, reject) => {
    const req = http.request(`${server.url}/cgi-bin/echo.cgi`, { method: 'POST', agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve(Buffer.concat(chunks)));
    });
    req.on('error', reject);
    req.write(body.subarray(0, 1000));
    req.end(body.subarray(1000));
  });
  assert.ok(res.equals(body));
});

test('a script that does not read its body: no error, and the connection serves the next request', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const ask = (method: string, body?: Buffer) =>
      new Promise<{ status: number; port: number; body: string }>((resolve, reject) => {
        const req = http.request(`${server.url}/cgi-bin/hello.cgi`, { method, agent }, (res) => {
          const port = res.socket.localPort!;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, port, body: Buffer.concat(chunks).toString() }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const first = await ask('POST', Buffer.alloc(3 * 1024 * 1024, 0x61));
    const second = await ask('GET');
    assert.deepEqual([first.status, first.body], [200, 'Hello, world\n']);
    assert.deepEqual([second.status, second.body], [200, 'Hello, world\n']);
    assert.equal(second.port, first.port, 'the same connection');
  } finally {
    agent.destroy();
  }
});

test('Status with a reason, repeated fields kept, hop-by-hop fields dropped', async () => {
  const res = await request(`${server.url}/cgi-bin/headers.cgi`);
  assert.equal(res.status, 201);
  assert.equal(res.statusMessage, 'Made It');
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(res.headers['x-custom'], 'spaced value');
  assert.equal(res.headers['keep-alive'], undefined, "the script's Keep-Alive is not sent");
  assert.equal(res.rawHeaders.filter((h) => /^transfer-encoding$/i.test(h)).length, 1, "Node's own chunked encoding, not the script's field");
  assert.equal(res.body.toString(), 'created');
});

test('Status alone; Location: absolute → 302, local path → 302 (local redirects are answered as client ones)', async () => {
  const notFound = await request(`${server.url}/cgi-bin/not-found.cgi`);
  assert.equal(notFound.status, 404);
  assert.equal(notFound.body.toString(), 'no such thing\n');
  const absolute = await request(`${server.url}/cgi-bin/redirect.cgi`);
  assert.equal(absolute.status, 302);
  assert.equal(absolute.headers.location, 'http://example.test/moved?x=1');
  const local = await request(`${server.url}/cgi-bin/redirect.cgi?local`);
  assert.equal(local.status, 302);
  assert.equal(local.headers.location, '/elsewhere/page.html');
});

test('headers forgotten → 502.2 with IIS text and what the script printed, HTML-escaped, for the local client', async () => {
  const before = server.results.length;
  const res = await request(`${server.url}/cgi-bin/garbage.cgi`);
  assert.equal(res.status, 502);
  const page = res.body.toString();
  assert.ok(page.includes('HTTP Error 502.2'), page);
  assert.ok(page.includes(MISBEHAVED.replace(/'/g, '&#39;')), page);
  assert.ok(page.includes('hello world\n&lt;script&gt;alert(1)&lt;/script&gt;'), page);
  assert.equal(page.includes('<script>alert'), false);
  await eventually(() => server.results.length > before);
  assert.equal(server.results.at(-1)?.substatus, 2);
});

test('a head without Content-Type, Location or Status → 502.2', async () => {
  const res = await request(`${server.url}/cgi-bin/no-cgi-fields.cgi`);
  assert.equal(res.status, 502);
  assert.ok(res.body.toString().includes('X-Only: 1'));
  assert.ok(res.body.toString().includes('none of Content-Type, Location and Status'));
});

test('exit before the head is complete → 502.2, with the exit code in the reason', async () => {
  const res = await request(`${server.url}/cgi-bin/premature.cgi`);
  assert.equal(res.status, 502);
  const page = res.body.toString();
  assert.ok(page.includes('HTTP Error 502.2'));
  assert.ok(page.includes('Content-Type: text/plain\nX-Half:'), page);
  assert.ok(page.includes('exited with code 3'), page);
});

test('a body shorter than the declared Content-Length: the connection is cut, not left waiting', async () => {
  await assert.rejects(request(`${server.url}/cgi-bin/short-length.cgi`));
});

test('a body longer than the declared Content-Length is cut to it; the connection stays in step', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const get = (script: string) =>
      new Promise<{ body: string; port: number }>((resolve, reject) => {
        http
          .get(`${server.url}/cgi-bin/${script}`, { agent }, (res) => {
            const port = res.socket.localPort!;
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ body: Buffer.concat(chunks).toString(), port }));
          })
          .on('error', reject);
      });
    const long = await get('long-length.cgi');
    assert.equal(long.body, 'hello');
    const next = await get('hello.cgi');
    assert.equal(next.body, 'Hello, world\n', 'the extra bytes were not read as the next response');
    assert.equal(next.port, long.port);
  } finally {
    agent.destroy();
  }
});

test('HEAD: the script runs, the head is sent, no body', async () => {
  const res = await request(`${server.url}/cgi-bin/headers.cgi`, { method: 'HEAD' });
  assert.equal(res.status, 201);
  assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(res.body.length, 0);
});

test('stderr goes to the log callback, never to the client', async () => {
  const res = await request(`${server.url}/cgi-bin/stderr.cgi`);
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'visible\n');
  assert.ok(await eventually(() => server.stderr.some((t) => t.includes('diagnostic for the log only'))));
});

test('stderr is kept up to 8 KiB, and a script writing more is not blocked by it', async () => {
  const res = await request(`${server.url}/cgi-bin/noisy-stderr.cgi`);
  assert.equal(res.body.toString(), 'done\n');
  assert.ok(await eventually(() => server.stderr.some((t) => t.startsWith('eeee'))));
  const kept = server.stderr.find((t) => t.startsWith('eeee'))!;
  assert.ok(kept.startsWith('e'.repeat(8192) + '…'), kept.slice(8180, 8240));
  assert.ok(kept.includes(`(${100_000 - 8192} more bytes not kept)`));
});

test('nph- scripts: the output is the response, byte for byte, and the connection closes after it', async () => {
  const script = readFileSync(path.join(FIXTURES, 'nph-raw.cgi'), 'utf8');
  const expected = /printf '([^']*)'/.exec(script)![1]!.replace(/\\r/g, '\r').replace(/\\n/g, '\n');
  const received = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1', () => {
      socket.write('GET /cgi-bin/nph-raw.cgi HTTP/1.1\r\nHost: localhost\r\n\r\n');
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
  assert.equal(received, expected);
  assert.ok(received.startsWith('HTTP/1.1 299 Raw Deal\r\n'));
});

test('a script the spawner refuses to run as the asked account → 403.19, nothing started', async () => {
  const res = await request(`${refusing.url}/cgi-bin/hello.cgi`);
  assert.equal(res.status, 403);
  assert.ok(res.body.toString().includes('HTTP Error 403.19'));
  assert.ok(res.body.toString().includes('nobody'));
  assert.equal(refusing.spawned.length, 0);
  await eventually(() => refusing.results.length > 0);
  assert.equal(refusing.results[0]?.substatus, 19);
});

test('50 MiB of output is streamed with back-pressure: a client that stops reading stops the script', async () => {
  const total = 50 * 1024 * 1024;
  const spawnedBefore = server.spawned.length;
  let received = 0;
  let response: http.IncomingMessage | undefined;
  const done = new Promise<void>((resolve, reject) => {
    const req = http.get(`${server.url}/cgi-bin/big.cgi`, { agent: false }, (res) => {
      response = res;
      res.on('data', (c: Buffer) => {
        received += c.length;
      });
      res.pause();
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  assert.ok(await eventually(() => response !== undefined && server.spawned.length > spawnedBefore));
  const pid = server.spawned.at(-1)!.pid;
  // `head` (exec'd by the script) ends up blocked writing to its stdout (a socketpair, in Node): the server stopped
  // reading from it. Seen from outside: it is alive, and the bytes it wrote stop growing, far below the 50 MiB.
  const wrote = (): number => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
  let last = -1;
  const stalled = await eventually(() => {
    const now = wrote();
    const same = now === last && now > 0;
    last = now;
    return same;
  }, 20_000, 250);
  assert.ok(stalled, 'the script stops producing while the client does not read');
  const written = wrote();
  assert.ok(written < 16 * 1024 * 1024, `only what the socket buffers hold was produced (${written} bytes)`);
  assert.ok(received < total);
  response!.resume();
  await done;
  assert.equal(received, total);
});
