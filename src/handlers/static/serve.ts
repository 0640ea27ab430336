/**
 * executeRequestHandler, static part: send a mapped file, with validators, conditional requests
 * (RFC 9110 §13) and byte ranges (§14), or return the HttpError the pipeline renders (405, 412, 416).
 *
 * Small files come from the cache's memory with one res.end(buffer). Larger ones are opened per request
 * and streamed; the open file is checked against the cached description, so a file replaced since it was
 * cached is described by what is actually sent.
 */
import { randomBytes } from 'node:crypto';
import { close, createReadStream, fstat, open, read } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Settings } from '../../config/schema.js';
import { httpError, isHttpError, Win32, type HttpError } from '../../pipeline/errors.js';
import { fileInfo, fsFailure, notRegular, OPEN_FLAGS, opensPath, type FileInfo } from './file-cache.js';
import type { StaticMapping } from './map.js';
import { evaluatePreconditions, ifRangeAllows, type Validators } from './preconditions.js';
import { contentRange, parseRange, type ByteRange } from './range.js';

export type FileMapping = Extract<StaticMapping, { kind: 'file' }>;

type StaticContent = Settings['staticContent'];

// Node has no sendfile: every byte is copied through user space, so fewer, larger reads cost less CPU per
// byte (measured on loopback: 64 KiB chunks ≈ 1.6 ms of CPU per MiB sent, 256 KiB ≈ 1.2 ms). The price is up to
// this much memory per response in flight.
const READ_CHUNK = 256 * 1024;

const METHOD_NOT_ALLOWED = httpError(405, 0, 'Static files and folder listings answer only GET and HEAD.', Win32.SUCCESS, { Allow: 'GET, HEAD' });

export function methodNotAllowed(method: string | undefined): HttpError | null {
  return method === 'GET' || method === 'HEAD' ? null : METHOD_NOT_ALLOWED;
}

export async function serveFile(req: IncomingMessage, res: ServerResponse, mapping: FileMapping, settings: Settings): Promise<HttpError | null> {
  const method = req.method;
  if (method !== 'GET' && method !== 'HEAD') return METHOD_NOT_ALLOWED;
  const staticContent = settings.staticContent;
  const headers = req.headers;

  // The common case: a cached small file, no condition, no range.
  if (
    mapping.file.content !== undefined &&
    headers['if-none-match'] === undefined &&
    headers['if-modified-since'] === undefined &&
    headers['if-match'] === undefined &&
    headers['if-unmodified-since'] === undefined &&
    (headers.range === undefined || method === 'HEAD')
  ) {
    res.writeHead(200, fullHeaders(mapping, staticContent));
    if (method === 'HEAD') res.end();
    else res.end(mapping.file.content);
    return null;
  }

  let current = mapping;
  let plan = planResponse(req, current.file, staticContent);
  let openFile: OpenFile | undefined;
  // A large file is opened only when its bytes are to be sent. What is opened may be newer than the
  // cached description: the answer is then decided again for the file actually there.
  if ((plan.kind === 'whole' || plan.kind === 'ranges') && method === 'GET' && current.file.content === undefined) {
    const opened = await openCurrent(current.file);
    if (isHttpError(opened)) return opened;
    openFile = opened;
    if (opened.file !== current.file) {
      current = { kind: 'file', file: opened.file, contentType: mapping.contentType };
      plan = planResponse(req, current.file, staticContent);
    }
  }
  try {
    return await respond(method, res, current, staticContent, plan, openFile);
  } finally {
    if (openFile) await release(openFile);
  }
}

type Plan =
  | { readonly kind: 'refuse'; readonly error: HttpError }
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'whole' }
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteRange[] };

const WHOLE: Plan = { kind: 'whole' };
const NOT_MODIFIED: Plan = { kind: 'not-modified' };

/** RFC 9110 §13.2.2: preconditions first, then Range (GET only, and only if If-Range allows it). */
function planResponse(req: IncomingMessage, file: FileInfo, staticContent: StaticContent): Plan {
  const headers = req.headers;
  const validators: Validators = { etag: staticContent.enableETag ? file.etag : undefined, lastModifiedSeconds: Math.floor(file.mtimeMs / 1000) };
  const outcome = evaluatePreconditions(headers, validators);
  if (outcome === 'failed') {
    return { kind: 'refuse', error: httpError(412, 0, `A precondition (If-Match or If-Unmodified-Since) does not hold for '${file.physicalPath}'.`, Win32.SUCCESS) };
  }
  if (outcome === 'not-modified') return NOT_MODIFIED;
  const range = headers.range;
  if (range === undefined || req.method !== 'GET' || !ifRangeAllows(single(headers['if-range']), validators, Date.now())) return WHOLE;
  const parsed = parseRange(range, file.size);
  if (parsed.kind === 'ignore') return WHOLE;
  if (parsed.kind === 'ranges') return { kind: 'ranges', ranges: parsed.ranges };
  const reason = `No range of '${range}' lies within the ${file.size} bytes of '${file.physicalPath}'.`;
  return { kind: 'refuse', error: httpError(416, 0, reason, Win32.SUCCESS, { 'Content-Range': contentRange(file.size) }) };
}

async function respond(
  method: string,
  res: ServerResponse,
  mapping: FileMapping,
  staticContent: StaticContent,
  plan: Plan,
  open: OpenFile | undefined,
): Promise<HttpError | null> {
  const file = mapping.file;
  switch (plan.kind) {
    case 'refuse':
      return plan.error;
    case 'not-modified':
      res.writeHead(304, notModifiedHeaders(file, staticContent));
      res.end();
      return null;
    case 'whole':
      res.writeHead(200, fullHeaders(mapping, staticContent));
      if (method === 'HEAD') res.end();
      else if (file.content !== undefined) res.end(file.content);
      else if (open !== undefined && file.size > 0) await sendRange(open, 0, file.size - 1, res);
      else res.end();
      return null;
    case 'ranges':
      break;
  }
  const ranges = plan.ranges;
  if (ranges.length === 1) {
    const range = ranges[0]!;
    const length = range.end - range.start + 1;
    res.writeHead(206, { ...partialHeaders(mapping, staticContent), 'Content-Range': contentRange(file.size, range), 'Content-Length': length });
    if (file.content !== undefined) res.end(file.content.subarray(range.start, range.end + 1));
    else if (open !== undefined) await sendRange(open, range.start, range.end, res);
    else res.destroy();
    return null;
  }
  const multipart = multipartLayout(ranges, mapping.contentType, file.size);
  res.writeHead(206, {
    ...partialHeaders(mapping, staticContent),
    'Content-Type': `multipart/byteranges; boundary=${multipart.boundary}`,
    'Content-Length': multipart.length,
  });
  if (file.content !== undefined) res.end(multipartBuffer(multipart, file.content));
  else if (open !== undefined) await sendMultipart(multipartStream(multipart, open), multipart.length, res);
  else res.destroy();
  return null;
}

// Node joins repeated unknown fields into one string; an array only appears for set-cookie.
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The headers of a whole 200 response: they depend only on the file, its type and the static-content
 * settings, so they are built once per cached FileInfo and reused (writeHead only reads them).
 */
const fullHeaderCache = new WeakMap<FileInfo, { staticContent: StaticContent; contentType: string; headers: OutgoingHttpHeaders }>();

function fullHeaders(mapping: FileMapping, staticContent: StaticContent): OutgoingHttpHeaders {
  const cached = fullHeaderCache.get(mapping.file);
  if (cached !== undefined && cached.staticContent === staticContent && cached.contentType === mapping.contentType) return cached.headers;
  const headers: OutgoingHttpHeaders = { ...partialHeaders(mapping, staticContent), 'Content-Length': mapping.file.size };
  fullHeaderCache.set(mapping.file, { staticContent, contentType: mapping.contentType, headers });
  return headers;
}

function partialHeaders(mapping: FileMapping, staticContent: StaticContent): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'Content-Type': mapping.contentType,
    'Last-Modified': mapping.file.lastModified,
    'Accept-Ranges': 'bytes',
    'X-Content-Type-Options': 'nosniff',
  };
  if (staticContent.enableETag) headers['ETag'] = mapping.file.etag;
  if (staticContent.clientCacheMaxAge > 0) headers['Cache-Control'] = `max-age=${staticContent.clientCacheMaxAge}`;
  return headers;
}

// RFC 9110 §15.4.5: what a 200 would have carried for caches (ETag, Cache-Control); Last-Modified only
// when there is no ETag, since it then is the validator the cache needs.
function notModifiedHeaders(file: FileInfo, staticContent: StaticContent): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  if (staticContent.enableETag) headers['ETag'] = file.etag;
  else headers['Last-Modified'] = file.lastModified;
  if (staticContent.clientCacheMaxAge > 0) headers['Cache-Control'] = `max-age=${staticContent.clientCacheMaxAge}`;
  return headers;
}

const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const closeAsync = promisify(close);
const readAsync = promisify(read);

/**
 * An open descriptor of a large file. Exactly one party closes it: serveFile, unless it was handed to a
 * ReadStream (`owned` false), which closes it itself when it ends or is destroyed.
 */
interface OpenFile {
  readonly fd: number;
  readonly file: FileInfo;
  owned: boolean;
  /** A read in flight: closing first could let the number be reused by another open under it. */
  pending?: Promise<unknown>;
}

/** Opens a large file for streaming and describes what was opened, which may be newer than the cache. */
async function openCurrent(file: FileInfo): Promise<OpenFile | HttpError> {
  let fd: number;
  try {
    fd = await openAsync(file.realPath, OPEN_FLAGS);
  } catch (error) {
    return fsFailure(error, file.physicalPath) ?? gone(file);
  }
  const opened: OpenFile = { fd, file, owned: true };
  try {
    const [samePath, stats] = await Promise.all([opensPath(fd, file.realPath), fstatAsync(fd)]);
    if (!samePath) {
      await release(opened);
      return gone(file);
    }
    if (!stats.isFile()) {
      await release(opened);
      return notRegular(file.physicalPath);
    }
    if (stats.size === file.size && stats.mtimeMs === file.mtimeMs) return opened;
    return { fd, file: fileInfo(file.physicalPath, file.realPath, stats, false), owned: true };
  } catch (error) {
    await release(opened);
    return fsFailure(error, file.physicalPath) ?? gone(file);
  }
}

async function release(open: OpenFile): Promise<void> {
  if (!open.owned) return;
  open.owned = false;
  await open.pending?.catch(() => undefined);
  await closeAsync(open.fd).catch(() => undefined);
}

function gone(file: FileInfo): HttpError {
  return httpError(404, 0, `'${file.physicalPath}' was removed or replaced while being served.`, Win32.FILE_NOT_FOUND);
}

/**
 * Streams bytes start..end with a plain ReadStream piped into the response: the leanest path Node has.
 * Settles once the body is sent or the transfer failed. A client that goes away destroys the response and
 * the stream with it; there is nobody left to tell, so that is not an error here. A file that shrank under
 * us would leave the client waiting for bytes that never come: the response is cut instead.
 */
function sendRange(open: OpenFile, start: number, end: number, res: ServerResponse): Promise<void> {
  // The client may have left while the file was being opened: 'close' has then already been emitted.
  if (res.destroyed) return Promise.resolve();
  open.owned = false;
  const stream = createReadStream('', { fd: open.fd, start, end, autoClose: true, highWaterMark: READ_CHUNK });
  const expected = end - start + 1;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      // Closes the descriptor if the stream did not get to its end; settle only once it is closed.
      if (stream.closed) resolve();
      else {
        stream.once('close', () => resolve());
        stream.destroy();
      }
    };
    stream.on('error', () => {
      res.destroy();
      settle();
    });
    stream.on('end', () => {
      if (stream.bytesRead === expected) res.end();
      else res.destroy();
    });
    res.on('close', settle);
    stream.pipe(res, { end: false });
  });
}

/** The multipart path (rare): an async generator is simpler than a chain of streams and fast enough. */
async function sendMultipart(source: AsyncIterable<Buffer>, length: number, res: ServerResponse): Promise<void> {
  try {
    await pipeline(exactly(source, length), res);
  } catch {
    res.destroy();
  }
}

async function* exactly(source: AsyncIterable<Buffer>, length: number): AsyncGenerator<Buffer> {
  let sent = 0;
  for await (const chunk of source) {
    sent += chunk.length;
    yield chunk;
  }
  if (sent !== length) throw new Error(`the file changed size while being sent (${sent} of ${length} bytes)`);
}

/**
 * Bytes start..end (inclusive) of an open file, read directly: a ReadStream closes its descriptor when it
 * ends or is destroyed, and one descriptor serves every part of a multipart body.
 */
async function* fileRange(open: OpenFile, start: number, end: number): AsyncGenerator<Buffer> {
  let position = start;
  while (position <= end) {
    const length = Math.min(READ_CHUNK, end - position + 1);
    const buffer = Buffer.allocUnsafe(length);
    const reading = readAsync(open.fd, buffer, 0, length, position);
    open.pending = reading;
    const { bytesRead } = await reading;
    if (bytesRead === 0) return;
    position += bytesRead;
    yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
  }
}

interface MultipartLayout {
  readonly boundary: string;
  readonly parts: readonly { readonly head: Buffer; readonly range: ByteRange }[];
  readonly tail: Buffer;
  readonly length: number;
}

/** multipart/byteranges (RFC 9110 §14.6): part headers are built first so Content-Length is exact. */
function multipartLayout(ranges: readonly ByteRange[], contentType: string, size: number): MultipartLayout {
  const boundary = randomBytes(12).toString('hex');
  let length = 0;
  const parts = ranges.map((range, index) => {
    const head = Buffer.from(`${index === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: ${contentRange(size, range)}\r\n\r\n`, 'latin1');
    length += head.length + range.end - range.start + 1;
    return { head, range };
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  return { boundary, parts, tail, length: length + tail.length };
}

function multipartBuffer(layout: MultipartLayout, content: Buffer): Buffer {
  const chunks: Buffer[] = [];
  for (const { head, range } of layout.parts) chunks.push(head, content.subarray(range.start, range.end + 1));
  chunks.push(layout.tail);
  return Buffer.concat(chunks, layout.length);
}

async function* multipartStream(layout: MultipartLayout, open: OpenFile): AsyncGenerator<Buffer> {
  for (const { head, range } of layout.parts) {
    yield head;
    yield* fileRange(open, range.start, range.end);
  }
  yield layout.tail;
}
