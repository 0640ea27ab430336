/**
 * Proves what target.ts assumes about Node 20's HTTP/1 parser: which request-line bytes reach `req.url`, and
 * that they arrive undecoded. A real server on 127.0.0.1 and a raw socket, so nothing in between rewrites bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { isHttpError } from '../../src/pipeline/errors.js';
import { parseRequestTarget } from '../../src/filtering/target.js';

async function withServer(run: (port: number, seen: string[]) => Promise<void>): Promise<void> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.setHeader('connection', 'close');
    res.end(Buffer.from(req.url ?? '', 'latin1').toString('hex'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run((server.address() as AddressInfo).port, seen);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Sends one raw request and returns the status code and body; bounded by a socket timeout. */
function rawRequest(port: number, requestLine: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('timed out')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    socket.end(Buffer.concat([Buffer.from('GET '), requestLine, Buffer.from(' HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n')]));
  });
}

test('Node hands req.url over byte for byte, undecoded', async () => {
  await withServer(async (port, seen) => {
    const target = '/caf%C3%A9/%2F/%00/%u002e/%252e/a+b/\\x?q=%20';
    const response = await rawRequest(port, Buffer.from(target, 'latin1'));
    assert.equal(response.status, 200);
    assert.deepEqual(seen, [target]);
    assert.equal(Buffer.from(response.body, 'hex').toString('latin1'), target);
  });
});

test('only bytes 0x21-0x7E reach req.url; the rest is refused with 400 before any handler', async () => {
  await withServer(async (port, seen) => {
    const reached: number[] = [];
    for (let byte = 0; byte < 256; byte++) {
      // Space ends the target, so it is tested as the target's last byte before " HTTP/1.1": a double space.
      const response = await rawRequest(port, Buffer.from([0x2f, 0x61, byte, 0x7a]));
      if (response.status === 200) {
        reached.push(byte);
        assert.equal(seen.at(-1), `/a${String.fromCharCode(byte)}z`, `byte 0x${byte.toString(16)} arrives as itself`);
      } else {
        assert.equal(response.status, 400, `byte 0x${byte.toString(16)}`);
      }
    }
    const printable = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => 0x21 + i);
    assert.deepEqual(reached, printable);
    assert.equal(seen.length, printable.length, 'the handler never saw a refused request');
  });
});

test('what the parser makes of what Node delivers', async () => {
  await withServer(async (port, seen) => {
    for (const target of ['/caf%C3%A9', '/%2e%2e/x', '/%c0%af', 'http://test/a%20b?x']) {
      await rawRequest(port, Buffer.from(target));
    }
    const results = seen.map((url) => {
      const parsed = parseRequestTarget(url);
      return isHttpError(parsed) ? parsed.status : parsed.path;
    });
    assert.deepEqual(results, ['/café', 400, 400, '/a b']);
  });
});
