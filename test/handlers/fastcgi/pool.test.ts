/**
 * Pools of real `php-cgi -b` processes, run as Persona's own account (currentAccountSpawner): requests served,
 * the queue limit (503.4), a crashed process replaced, recycling after instanceMaxRequests, requestTimeout and
 * activityTimeout killing the process, idle processes stopped, close() stopping everything, and through a real
 * HTTP server on 127.0.0.1 the statuses the client sees (200 streamed, POST bodies, HEAD, 500 on time-out, 503.4).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastCgiApplication } from '../../../src/config/compile.js';
import { currentAccountSpawner } from '../../../src/identity/current-account-spawner.js';
import { closeFastCgiPools, fastCgiPool, FastCgiPool, type FastCgiOutcome, type PoolLog } from '../../../src/handlers/fastcgi/pool.js';
import { respondFastCgi } from '../../../src/handlers/fastcgi/respond.js';
import { fastCgiRoot } from '../../../src/handlers/fastcgi/socket-dir.js';
import os from 'node:os';
import { statSync } from 'node:fs';

const PHP_CGI = '/usr/bin/php-cgi';

let dir: string;
const script = (name: string) => path.join(dir, name);
const pools: FastCgiPool[] = [];

const SCRIPTS: Record<string, string> = {
  'hello.php': '<?php header("Content-Type: text/plain"); echo "hello ", getmypid();',
  // Sends its head and a first line at once, then waits: lets a test know the process is busy.
  'slow.php': '<?php header("Content-Type: text/plain"); while (ob_get_level()) ob_end_flush(); echo "started\\n"; flush(); sleep((int)($_GET["s"] ?? 30)); echo "done";',
  'crash.php': '<?php posix_kill(posix_getpid(), 9);',
  'echo.php': '<?php header("Content-Type: text/plain"); echo $_SERVER["REQUEST_METHOD"], " ", file_get_contents("php://input");',
  'stderr.php': '<?php error_log("note for the log"); header("Content-Type: text/plain"); echo "ok";',
  'nohead.php': '<?php echo "just text\\n";',
};

function app(overrides: Partial<FastCgiApplication> = {}): FastCgiApplication {
  return {
    fullPath: PHP_CGI,
    arguments: [],
    maxInstances: 2,
    queueLength: 10,
    requestTimeoutMs: 60_000,
    activityTimeoutMs: 60_000,
    idleTimeoutMs: 60_000,
    instanceMaxRequests: 200,
    environment: {},
    ...overrides,
  };
}

class RecordingLog implements PoolLog {
  readonly lines: string[] = [];
  info(obj: object, msg: string): void {
    this.lines.push(`info ${msg} ${JSON.stringify(obj)}`);
  }
  warn(obj: object, msg: string): void {
    this.lines.push(`warn ${msg} ${JSON.stringify(obj)}`);
  }
}

function newPool(overrides: Partial<FastCgiApplication> = {}, log = new RecordingLog()): FastCgiPool {
  const pool = new FastCgiPool({ app: app(overrides), account: os.userInfo().username, spawner: currentAccountSpawner(), log });
  pools.push(pool);
  return pool;
}

function params(name: string, query = '', method = 'GET', contentLength?: number): Record<string, string> {
  // php-cgi reads STDIN only up to CONTENT_LENGTH, as a CGI program does (execute.ts sets it from the request).
  return { ...(contentLength ? { CONTENT_LENGTH: String(contentLength) } : {}), SCRIPT_FILENAME: script(name), SCRIPT_NAME: `/${name}`, REQUEST_METHOD: method, QUERY_STRING: query, REDIRECT_STATUS: '200', GATEWAY_INTERFACE: 'CGI/1.1', SERVER_PROTOCOL: 'HTTP/1.1' };
}

interface Ran {
  outcome: FastCgiOutcome;
  stdout: string;
  stderr: string;
}

/** One request; `onFirstOutput` runs when the first STDOUT bytes arrive. */
async function run(pool: FastCgiPool, name: string, query = '', onFirstOutput?: () => void, body?: Buffer): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  const request = pool.request(params(name, query, body ? 'POST' : 'GET', body?.length), body, {
    stdout: (chunk) => {
      const first = stdout === '';
      stdout += chunk.toString();
      if (first) onFirstOutput?.();
    },
    stderr: (chunk) => (stderr += chunk.toString()),
  });
  return { outcome: await request.outcome, stdout, stderr };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until `check` holds; the bound only turns a hang into a failure. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'persona-fcgi-test-'));
  for (const [name, text] of Object.entries(SCRIPTS)) await writeFile(script(name), text);
});

after(async () => {
  for (const pool of pools) pool.close();
  await rm(dir, { recursive: true, force: true });
});

describe('FastCGI pool with real php-cgi', () => {
  test('php-cgi has the posix extension the identity tests rely on', async () => {
    const pool = newPool();
    const ran = await run(pool, 'hello.php');
    assert.equal(ran.outcome.kind, 'complete');
    assert.match(ran.stdout, /Content-type: text\/plain/i);
    const pid = Number(/hello (\d+)/.exec(ran.stdout)![1]);
    assert.deepEqual(pool.pids, [pid], 'the process that answered is the pool\'s one process');
    const again = await run(pool, 'hello.php');
    assert.match(again.stdout, new RegExp(`hello ${pid}$`), 'an idle process is reused');
  });

  test('the socket is in a folder of its own: the account owns it, only Persona\'s group may pass', async () => {
    const pool = newPool();
    await run(pool, 'hello.php');
    const root = statSync(fastCgiRoot());
    assert.equal(root.mode & 0o7777, 0o3733, 'setgid, sticky, listable by Persona only');
    const [socket] = pool.sockets;
    assert.equal(path.dirname(path.dirname(socket!)), fastCgiRoot());
    const dir = statSync(path.dirname(socket!));
    assert.equal(dir.mode & 0o777, 0o730);
    assert.equal(dir.uid, process.getuid!());
    assert.equal(dir.gid, root.gid);
    assert.ok(statSync(socket!).isSocket());
  });

  test('maxInstances 1 and queueLength 0: a second request while the first runs gets 503.4', async () => {
    const pool = newPool({ maxInstances: 1, queueLength: 0 });
    let second: Promise<Ran> | undefined;
    const first = run(pool, 'slow.php', 's=2', () => {
      second = run(pool, 'hello.php');
    });
    const firstDone = await first;
    assert.equal(firstDone.outcome.kind, 'complete');
    assert.match(firstDone.stdout, /started\ndone$/);
    const refused = (await second!).outcome;
    assert.equal(refused.kind, 'refused');
    assert.ok(refused.kind === 'refused');
    assert.equal(refused.status, 503);
    assert.equal(refused.substatus, 4);
    assert.match(refused.reason, /FastCGI queue full/);
  });

  test('a queued request waits for the busy process and is then served by it', async () => {
    const pool = newPool({ maxInstances: 1, queueLength: 5 });
    let second: Promise<Ran> | undefined;
    const first = await run(pool, 'slow.php', 's=1', () => {
      second = run(pool, 'hello.php');
    });
    const queued = await second!;
    assert.equal(queued.outcome.kind, 'complete');
    assert.match(first.stdout, /done$/);
    assert.equal(pool.pids.length, 1);
    assert.match(queued.stdout, new RegExp(`hello ${pool.pids[0]}$`));
  });

  test('a process that crashes fails its request with the reason, is logged, and is replaced on demand', async () => {
    const log = new RecordingLog();
    const pool = newPool({ maxInstances: 1 }, log);
    const before = await run(pool, 'hello.php');
    const oldPid = Number(/hello (\d+)/.exec(before.stdout)![1]);
    const crashed = await run(pool, 'crash.php');
    assert.equal(crashed.outcome.kind, 'failed');
    assert.ok(crashed.outcome.kind === 'failed');
    assert.match(crashed.outcome.reason, /closed the connection before completing the request/);
    await eventually(() => log.lines.some((l) => /exited on its own \(ended by SIGKILL\)/.test(l)), 'the log says the process died');
    const after = await run(pool, 'hello.php');
    assert.equal(after.outcome.kind, 'complete');
    const newPid = Number(/hello (\d+)/.exec(after.stdout)![1]);
    assert.notEqual(newPid, oldPid);
    assert.equal(alive(oldPid), false);
  });

  test('instanceMaxRequests 2: the third request is served by a new process', async () => {
    const log = new RecordingLog();
    const pool = newPool({ maxInstances: 1, instanceMaxRequests: 2 }, log);
    const pids: number[] = [];
    for (let i = 0; i < 3; i++) pids.push(Number(/hello (\d+)/.exec((await run(pool, 'hello.php')).stdout)![1]));
    assert.equal(pids[0], pids[1]);
    assert.notEqual(pids[1], pids[2]);
    assert.ok(log.lines.some((l) => /instanceMaxRequests \(2\)/.test(l)));
    await eventually(() => !alive(pids[0]!), 'the recycled process is gone');
  });

  test('requestTimeout: the process is killed and the request fails with the reason', async () => {
    const pool = newPool({ requestTimeoutMs: 300 });
    let pid = 0;
    const ran = await run(pool, 'slow.php', 's=30', () => (pid = pool.pids[0]!));
    assert.equal(ran.outcome.kind, 'failed');
    assert.ok(ran.outcome.kind === 'failed');
    assert.equal(ran.outcome.timedOut, true);
    assert.match(ran.outcome.reason, /requestTimeout \(300 ms\); the process was killed/);
    assert.ok(pid > 0);
    await eventually(() => !alive(pid), 'the timed-out process is gone');
    assert.deepEqual(pool.pids, []);
  });

  test('activityTimeout: a process silent for too long is killed', async () => {
    const pool = newPool({ activityTimeoutMs: 300 });
    const ran = await run(pool, 'slow.php', 's=30');
    assert.ok(ran.outcome.kind === 'failed');
    assert.match(ran.outcome.reason, /activityTimeout \(300 ms\)/);
    assert.match(ran.stdout, /started/);
  });

  test('idleTimeout: an idle process is stopped, and the log says why', async () => {
    const log = new RecordingLog();
    const pool = newPool({ idleTimeoutMs: 100 }, log);
    const ran = await run(pool, 'hello.php');
    const pid = Number(/hello (\d+)/.exec(ran.stdout)![1]);
    await eventually(() => pool.pids.length === 0 && !alive(pid), 'the idle process is stopped');
    assert.ok(log.lines.some((l) => /idle for idleTimeout \(100 ms\)/.test(l)));
  });

  test('POST bodies reach php://input; STDERR is kept apart from the output', async () => {
    const pool = newPool();
    const posted = await run(pool, 'echo.php', '', undefined, Buffer.from('a=1&b=2'));
    assert.match(posted.stdout, /POST a=1&b=2$/);
    const noted = await run(pool, 'stderr.php');
    assert.match(noted.stderr, /note for the log/);
    assert.doesNotMatch(noted.stdout, /note for the log/);
  });

  test('closeFastCgiPools stops every process of a generation; its pools refuse afterwards', async () => {
    const generation = {};
    const log = new RecordingLog();
    const pool = fastCgiPool(generation, app(), os.userInfo().username, currentAccountSpawner(), log);
    assert.equal(fastCgiPool(generation, app(), os.userInfo().username, currentAccountSpawner(), log), pool, 'one pool per application and account');
    const ran = await run(pool, 'hello.php');
    const pid = Number(/hello (\d+)/.exec(ran.stdout)![1]);
    closeFastCgiPools(generation);
    await eventually(() => !alive(pid), 'the process is stopped');
    const refused = await run(pool, 'hello.php');
    assert.ok(refused.outcome.kind === 'refused');
    assert.equal(refused.outcome.status, 503);
  });

  test('a spawner that cannot run as the account: the refusal (403.19) is the outcome', async () => {
    const pool = new FastCgiPool({ app: app(), account: 'nobody', spawner: currentAccountSpawner(), log: new RecordingLog() });
    pools.push(pool);
    const ran = await run(pool, 'hello.php');
    if (os.userInfo().username === 'nobody') return assert.equal(ran.outcome.kind, 'complete');
    assert.ok(ran.outcome.kind === 'refused');
    assert.equal(`${ran.outcome.status}.${ran.outcome.substatus}`, '403.19');
  });
});

describe('FastCGI responses over HTTP (127.0.0.1)', () => {
  let server: http.Server;
  let port = 0;
  let pool: FastCgiPool;
  let timeoutPool: FastCgiPool;
  let tinyPool: FastCgiPool;

  before(async () => {
    pool = newPool();
    timeoutPool = newPool({ requestTimeoutMs: 300 });
    tinyPool = newPool({ maxInstances: 1, queueLength: 0 });
    server = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const name = url.pathname.slice(1);
      const which = url.searchParams.has('timeout') ? timeoutPool : url.searchParams.has('tiny') ? tinyPool : pool;
      void respondFastCgi({ req, res, pool: which, params: params(name, url.search.slice(1), req.method, Number(req.headers['content-length'] ?? 0)), purpose: `FastCGI /${name}` }).then((error) => {
        if (!error || res.headersSent || res.destroyed) return;
        res.writeHead(error.status, { 'x-substatus': String(error.substatus) }).end(error.reason);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  function request(p: string, method = 'GET', body?: string): Promise<{ status: number; substatus: string | undefined; text: string; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: p, method, agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, substatus: res.headers['x-substatus'] as string | undefined, text, headers: res.headers }));
        res.on('error', reject);
      });
      req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  }

  test('a page is served with the head php-cgi wrote', async () => {
    const r = await request('/hello.php');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type']!, /text\/plain/);
    assert.match(r.text, /^hello \d+$/);
  });

  test('a POST body is streamed to the script', async () => {
    const r = await request('/echo.php', 'POST', 'x'.repeat(200_000));
    assert.equal(r.status, 200);
    assert.equal(r.text, `POST ${'x'.repeat(200_000)}`);
  });

  test('HEAD gets the head and no body', async () => {
    const r = await request('/hello.php', 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
  });

  test('a page without header() calls gets the Content-type php-cgi adds', async () => {
    const r = await request('/nohead.php');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type']!, /^text\/html/);
    assert.equal(r.text, 'just text\n');
  });

  test('requestTimeout before any output → 500 with the reason', async () => {
    await writeFile(script('silent.php'), '<?php sleep(30);');
    const r = await request('/silent.php?timeout');
    assert.equal(r.status, 500);
    assert.match(r.text, /requestTimeout/);
  });

  test('requestTimeout after the head was sent → the connection is cut', async () => {
    await assert.rejects(request('/slow.php?timeout&s=30'));
  });

  test('queue full → 503.4', async () => {
    // The slow request's head arrives once it runs in the only process (it flushes before sleeping).
    const slow = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/slow.php?tiny&s=2', agent: false }, resolve).on('error', reject);
    });
    const r = await request('/hello.php?tiny');
    assert.equal(r.status, 503);
    assert.equal(r.substatus, '4');
    assert.match(r.text, /FastCGI queue full/);
    assert.equal(slow.statusCode, 200);
    let rest = '';
    for await (const chunk of slow) rest += String(chunk);
    assert.equal(rest, 'started\ndone');
  });
});
