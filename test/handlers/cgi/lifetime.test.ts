/**
 * How long a CGI's processes live: the time-out kills the whole process group (502.1, or a cut connection once the
 * body has begun), a client that goes away gets the group killed, and nothing a script leaves behind survives it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { eventually, liveGroupMembers, makeFixturesExecutable, request, startCgiServer, type CgiTestServer } from './fixtures/server.js';

let server: CgiTestServer;
// Long enough for any script here to print its first line on a loaded machine; short enough for the test.
const TIMEOUT_MS = 1500;

before(async () => {
  makeFixturesExecutable();
  server = await startCgiServer({ timeoutMs: TIMEOUT_MS });
});

after(() => server.close());

/** The pid (= process group) of the next script started, once it has started. */
async function nextSpawned(count: number): Promise<number> {
  assert.ok(await eventually(() => server.spawned.length > count), 'the script was started');
  return server.spawned[count]!.pid;
}

/** All of them have children: they are waited for, so that "none left" is not checked before they exist. */
async function waitForMembers(pgid: number, atLeast: number): Promise<void> {
  assert.ok(await eventually(() => liveGroupMembers(pgid).length >= atLeast), `at least ${atLeast} processes in group ${pgid}`);
}

test('time-out before any output → 502.1, and every process of the group is killed', async () => {
  const count = server.spawned.length;
  const response = request(`${server.url}/cgi-bin/hang-children.cgi`);
  const pgid = await nextSpawned(count);
  await waitForMembers(pgid, 3);
  const res = await response;
  assert.equal(res.status, 502);
  assert.ok(res.body.toString().includes('HTTP Error 502.1'));
  assert.ok(res.body.toString().includes('time-out'));
  assert.ok(await eventually(() => liveGroupMembers(pgid).length === 0), `left alive: ${liveGroupMembers(pgid).join(' ')}`);
  assert.equal(server.results.at(-1)?.substatus, 1);
});

test('time-out while the body streams: the connection is cut (the response must not look complete), the group killed', async () => {
  const count = server.spawned.length;
  let firstPart = '';
  const outcome = new Promise<string>((resolve) => {
    const req = http.get(`${server.url}/cgi-bin/slow-body.cgi`, { agent: false }, (res) => {
      res.on('data', (c: Buffer) => (firstPart += c.toString()));
      res.on('end', () => resolve('complete'));
      res.on('error', () => resolve('cut'));
      res.on('aborted', () => resolve('cut'));
    });
    req.on('error', () => resolve('cut'));
  });
  const pgid = await nextSpawned(count);
  await waitForMembers(pgid, 2);
  assert.equal(await outcome, 'cut');
  assert.equal(firstPart, 'first part\n');
  assert.ok(await eventually(() => liveGroupMembers(pgid).length === 0), `left alive: ${liveGroupMembers(pgid).join(' ')}`);
});

test('time-out of an nph script that has begun its response: the connection is cut, the group killed', async () => {
  const count = server.spawned.length;
  const received = new Promise<string>((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1', () => socket.write('GET /cgi-bin/nph-slow.cgi HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
  const pgid = await nextSpawned(count);
  await waitForMembers(pgid, 2);
  assert.equal(await received, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstarted\n', 'what was sent, then the connection closed');
  assert.ok(await eventually(() => liveGroupMembers(pgid).length === 0), `left alive: ${liveGroupMembers(pgid).join(' ')}`);
  assert.ok(await eventually(() => server.results.at(-1)?.substatus === 1));
});

test('a client that disconnects mid-response gets the script and its children killed', async () => {
  const slow = await startCgiServer({ timeoutMs: 600_000 });
  try {
    const count = slow.spawned.length;
    const gotFirstPart = new Promise<http.ClientRequest>((resolve) => {
      const req = http.get(`${slow.url}/cgi-bin/slow-body.cgi`, { agent: false }, (res) => {
        res.once('data', () => resolve(req));
        res.on('error', () => undefined);
      });
      req.on('error', () => undefined);
    });
    const req = await gotFirstPart;
    const pgid = slow.spawned[count]!.pid;
    await waitForMembers(pgid, 2);
    req.destroy();
    assert.ok(await eventually(() => liveGroupMembers(pgid).length === 0), `left alive: ${liveGroupMembers(pgid).join(' ')}`);
    assert.ok(await eventually(() => slow.results.length > 0));
    assert.equal(slow.results[0], null);
  } finally {
    await slow.close();
  }
});

test('a client that disconnects before the head gets the script killed too', async () => {
  const slow = await startCgiServer({ timeoutMs: 600_000 });
  try {
    const req = http.get(`${slow.url}/cgi-bin/hang-children.cgi`, { agent: false });
    req.on('error', () => undefined);
    const pgid = await (async () => {
      assert.ok(await eventually(() => slow.spawned.length > 0));
      return slow.spawned[0]!.pid;
    })();
    await waitForMembers(pgid, 3);
    req.destroy();
    assert.ok(await eventually(() => liveGroupMembers(pgid).length === 0), `left alive: ${liveGroupMembers(pgid).join(' ')}`);
  } finally {
    await slow.close();
  }
});

test('what a script leaves running after it answered and exited is killed with its group', async () => {
  const count = server.spawned.length;
  const res = await request(`${server.url}/cgi-bin/leaves-child.cgi`);
  assert.equal(res.status, 200);
  const child = Number(/^child (\d+)\n$/.exec(res.body.toString())?.[1]);
  assert.ok(child > 0, res.body.toString());
  const pgid = server.spawned[count]!.pid;
  // The child existed (the script printed its pid after starting it); it must be gone now, with the rest.
  assert.ok(await eventually(() => !liveGroupMembers(pgid).includes(child) && liveGroupMembers(pgid).length === 0), `left alive: ${liveGroupMembers(pgid).join(' ')}`);
});
