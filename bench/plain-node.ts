/**
 * The baseline: the least a node:http static file server does, with what a production one would not skip
 * (correct headers, an access log). Persona's overhead is measured against this, so it must stay lean and
 * honest: no in-memory body cache (every request opens and streams the file), only a short stat cache.
 *
 * With --memory it also keeps files up to 256 KiB in memory (read once per stat-cache period), as Persona's file
 * cache does: the difference between the two baselines is the cost of opening and streaming, and Persona measured
 * against the memory one is the honest cost of Persona's pipeline.
 *
 * usage: node plain-node.js --root DIR --port N [--host 127.0.0.1] --log FILE [--memory]
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { pipeline } from 'node:stream';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    log: { type: 'string' },
    memory: { type: 'boolean', default: false },
  },
});
if (!values.root || !values.port || !values.log) {
  console.error('usage: plain-node --root DIR --port N [--host ADDR] --log FILE');
  process.exit(2);
}
const root = values.root;
const accessLog = createWriteStream(values.log, { flags: 'a' });

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.htm': 'text/html',
  '.txt': 'text/plain',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

// One stat per path per second: what a real server's open-file cache buys, without caching contents.
const STAT_TTL_MS = 1000;
const MEMORY_MAX_BYTES = 256 * 1024;
const statCache = new Map<string, { at: number; st: Stats | null; body?: Buffer }>();

async function cachedStat(file: string): Promise<{ st: Stats | null; body?: Buffer }> {
  const now = Date.now();
  const hit = statCache.get(file);
  if (hit && now - hit.at < STAT_TTL_MS) return hit;
  let st: Stats | null = null;
  let body: Buffer | undefined;
  try {
    st = await stat(file);
    if (values.memory && st.isFile() && st.size <= MEMORY_MAX_BYTES) body = await readFile(file);
  } catch {
    st = null;
  }
  const entry = { at: now, st, body };
  statCache.set(file, entry);
  return entry;
}

function resolvePath(url: string): string | null {
  const q = url.indexOf('?');
  let path: string;
  try {
    path = decodeURIComponent(q < 0 ? url : url.slice(0, q));
  } catch {
    return null;
  }
  if (!path.startsWith('/') || path.includes('\0') || path.split('/').includes('..')) return null;
  const file = join(root, path);
  return file === root || file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : null;
}

function log(req: IncomingMessage, res: ServerResponse, bytes: number): void {
  const t = new Date().toISOString();
  accessLog.write(`${req.socket.remoteAddress ?? '-'} - - [${t}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode} ${bytes} "-" "${req.headers['user-agent'] ?? '-'}"\n`);
}

function fail(req: IncomingMessage, res: ServerResponse, status: number): void {
  const body = `${status}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
  log(req, res, body.length);
}

const server = createServer((req, res) => {
  void (async () => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(req, res, 405);
    const file = resolvePath(req.url ?? '/');
    if (!file) return fail(req, res, 400);
    const { st, body } = await cachedStat(file);
    if (!st || !st.isFile()) return fail(req, res, 404);
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
      'Last-Modified': st.mtime.toUTCString(),
    });
    if (req.method === 'HEAD') {
      res.end();
      log(req, res, 0);
      return;
    }
    if (body) {
      res.end(body);
      log(req, res, st.size);
      return;
    }
    res.on('finish', () => log(req, res, st.size));
    // pipeline closes the file when the client goes away mid-body; on a read error (the file vanished between
    // stat and open) the status line is already sent, so destroying the response drops the connection.
    pipeline(createReadStream(file), res, () => {});
  })();
});

server.listen(Number(values.port), values.host, () => {
  console.log(`plain-node listening on http://${values.host}:${values.port}/ serving ${root}`);
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    accessLog.end(() => process.exit(0));
  });
}
