/**
 * A bare HTTP/1.1 client connection for the Node load generator (bench/node-load.ts): one socket, one request in
 * flight, requests written as prepared bytes and responses cut by Content-Length. node:http's client would spend
 * more CPU per request than the server it measures; this one does the least a correct keep-alive client does, so
 * the generator stays far from being the bottleneck (docs/BENCHMARKS.md gives the measured check against wrk).
 *
 * It is a benchmark client, not a general one: no chunked bodies (the bench's servers send Content-Length for
 * every file and error page; a chunked answer is an error, not a guess), no pipelining, no 1xx.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** The header block as received (latin1), status line included; read it with `header()`. */
  head: string;
  body: Buffer;
  /** Bytes on the wire: head, blank line and body. */
  bytes: number;
  /** The server said Connection: close: it ends the connection after this response. */
  close: boolean;
}

/** A header's values in a response head, case-insensitive, in the order sent. */
export function header(head: string, name: string): string[] {
  const out: string[] = [];
  const want = `\r\n${name.toLowerCase()}:`;
  const lower = head.toLowerCase();
  for (let at = lower.indexOf(want); at >= 0; at = lower.indexOf(want, at + want.length)) {
    const end = head.indexOf('\r\n', at + want.length);
    out.push(head.slice(at + want.length, end < 0 ? head.length : end).trim());
  }
  return out;
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(?:\r\n|$)/i;
const CHUNKED = /\r\ntransfer-encoding:[^\r]*chunked/i;
const CONNECTION_CLOSE = /\r\nconnection:[^\r]*\bclose\b/i;
/** Bigger than any head the bench's servers send; a longer one is a broken server, not a slow one. */
const MAX_HEAD = 64 * 1024;

/** Parses one complete response at the start of `buf`: the response and its length, 'more' for incomplete, or an error. */
export function parseResponse(buf: Buffer): { response: RawResponse; used: number } | 'more' | Error {
  const end = buf.indexOf(CRLFCRLF);
  if (end < 0) return buf.length > MAX_HEAD ? new Error(`no end of the response head in ${buf.length} bytes`) : 'more';
  const head = buf.toString('latin1', 0, end);
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!m) return new Error(`not an HTTP/1.x status line: ${JSON.stringify(head.slice(0, 40))}`);
  if (CHUNKED.test(head)) return new Error('a chunked response: the bench client reads Content-Length bodies only');
  const cl = CONTENT_LENGTH.exec(head);
  if (!cl) return new Error(`HTTP ${m[1]} without Content-Length`);
  const length = Number(cl[1]);
  const used = end + 4 + length;
  if (buf.length < used) return 'more';
  return {
    response: { status: Number(m[1]), head, body: buf.subarray(end + 4, used), bytes: used, close: CONNECTION_CLOSE.test(head) },
    used,
  };
}

export class Http1Connection {
  private buffered: Buffer | null = null;
  private waiting: { resolve: (r: RawResponse) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  /** The socket closed (by either side); no request can be sent any more. */
  closed = false;
  private readonly closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        this.fail(new Error('the server closed the connection'));
        resolve();
      });
    });
  }

  static open(host: string, port: number, timeoutMs = 10_000): Promise<Http1Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => socket.destroy(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
      const failed = (e: Error): void => {
        clearTimeout(timer);
        reject(e);
      };
      socket.once('error', failed);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', failed);
        resolve(new Http1Connection(socket));
      });
    });
  }

  /** Writes a request and resolves with its response; rejects when the connection fails or closes first. */
  request(bytes: Buffer | string): Promise<RawResponse> {
    if (this.waiting) return Promise.reject(new Error('a request is already in flight on this connection'));
    if (this.failure || this.closed) return Promise.reject(this.failure ?? new Error('the connection is closed'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(bytes);
    });
  }

  /** Resolves once the socket has closed (after a Connection: close response, the server's FIN). */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const buf = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    const parsed = parseResponse(buf);
    if (parsed === 'more') {
      this.buffered = buf;
      return;
    }
    this.buffered = null;
    if (parsed instanceof Error) {
      this.fail(parsed);
      this.socket.destroy();
      return;
    }
    if (parsed.used !== buf.length) {
      this.fail(new Error(`${buf.length - parsed.used} bytes after the response that no request asked for`));
      this.socket.destroy();
      return;
    }
    const w = this.waiting;
    this.waiting = null;
    if (w) w.resolve(parsed.response);
    else {
      this.fail(new Error('a response arrived with no request in flight'));
      this.socket.destroy();
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }
}

/** A GET as wrk writes it (request line, Host, the extra headers, blank line). */
export function getRequest(path: string, host: string, headers: Record<string, string> = {}): Buffer {
  const lines = [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
  return Buffer.from(lines.join('\r\n'), 'latin1');
}
