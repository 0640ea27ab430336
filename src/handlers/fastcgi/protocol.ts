/**
 * FastCGI 1.0 records (the FastCGI specification, Open Market 1996), the part a web server needs to talk to a
 * Responder: BEGIN_REQUEST, PARAMS, STDIN and ABORT_REQUEST out; STDOUT, STDERR and END_REQUEST in.
 *
 * Our own code: no maintained npm FastCGI client exists (fastcgi-client's README says it is no longer developed).
 * The application runs as whichever OS account the request maps to, so every byte it sends back is untrusted: the
 * decoder checks every length, never throws, and keeps at most one record (≤ 8 + 65535 + 255 bytes) buffered.
 *
 * Record layout (§3.3): version (1), type, requestId (2, big-endian), contentLength (2), paddingLength, reserved,
 * then content and padding. Name-value pairs (§3.4): each length in 1 byte (< 128) or 4 bytes with the high bit set.
 */

export const FCGI_VERSION_1 = 1;
export const HEADER_LENGTH = 8;
/** The largest content one record carries: contentLength is 16 bits. */
export const MAX_CONTENT_LENGTH = 0xffff;
/** A name or value length in a name-value pair is 31 bits. */
export const MAX_PAIR_LENGTH = 0x7fffffff;

export const RecordType = {
  BeginRequest: 1,
  AbortRequest: 2,
  EndRequest: 3,
  Params: 4,
  Stdin: 5,
  Stdout: 6,
  Stderr: 7,
  Data: 8,
  GetValues: 9,
  GetValuesResult: 10,
  UnknownType: 11,
} as const;
export type RecordTypeValue = (typeof RecordType)[keyof typeof RecordType];

export const Role = { Responder: 1, Authorizer: 2, Filter: 3 } as const;
/** BEGIN_REQUEST flags: keep the connection open after the request (else the application closes it). */
export const FCGI_KEEP_CONN = 1;

export const ProtocolStatus = { RequestComplete: 0, CantMpxConn: 1, Overloaded: 2, UnknownRole: 3 } as const;

export interface FastCgiRecord {
  readonly type: number;
  readonly requestId: number;
  readonly content: Buffer;
}

export interface EndRequestBody {
  readonly appStatus: number;
  readonly protocolStatus: number;
}

export interface ProtocolError {
  readonly kind: 'protocol-error';
  readonly reason: string;
}

function header(type: number, requestId: number, contentLength: number, paddingLength: number): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH);
  h[0] = FCGI_VERSION_1;
  h[1] = type;
  h.writeUInt16BE(requestId, 2);
  h.writeUInt16BE(contentLength, 4);
  h[6] = paddingLength;
  return h;
}

/**
 * `content` as one or more records of `type` (content over 65535 bytes is split), each padded to a multiple of 8
 * bytes as the specification recommends. Empty content gives one empty record: for a stream type, its end.
 */
export function encodeRecords(type: number, requestId: number, content: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  do {
    const part = content.subarray(offset, offset + MAX_CONTENT_LENGTH);
    const padding = (8 - (part.length % 8)) % 8;
    out.push(header(type, requestId, part.length, padding), part);
    if (padding > 0) out.push(Buffer.alloc(padding));
    offset += part.length;
  } while (offset < content.length);
  return out;
}

export function encodeBeginRequest(requestId: number, role: number = Role.Responder, flags: number = FCGI_KEEP_CONN): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(role, 0);
  body[2] = flags;
  return Buffer.concat(encodeRecords(RecordType.BeginRequest, requestId, body));
}

export function encodeAbortRequest(requestId: number): Buffer {
  return Buffer.concat(encodeRecords(RecordType.AbortRequest, requestId, Buffer.alloc(0)));
}

function pairLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((length | 0x80000000) >>> 0);
  return b;
}

/**
 * Name-value pairs (UTF-8). A length beyond 31 bits is a ProtocolError value; Node strings cannot reach it in
 * practice, but the check costs nothing.
 */
export function encodeNameValuePairs(pairs: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>): Buffer | ProtocolError {
  const entries = Array.isArray(pairs) ? (pairs as ReadonlyArray<readonly [string, string]>) : Object.entries(pairs);
  const parts: Buffer[] = [];
  for (const [name, value] of entries) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    if (n.length > MAX_PAIR_LENGTH || v.length > MAX_PAIR_LENGTH) return { kind: 'protocol-error', reason: `the parameter ${name.slice(0, 64)} is too long for FastCGI` };
    parts.push(pairLength(n.length), pairLength(v.length), n, v);
  }
  return Buffer.concat(parts);
}

/** The PARAMS stream: the pairs in records, then the empty record that ends it. */
export function encodeParams(requestId: number, pairs: Readonly<Record<string, string>>): Buffer | ProtocolError {
  const body = encodeNameValuePairs(pairs);
  if (!Buffer.isBuffer(body)) return body;
  const records = body.length > 0 ? encodeRecords(RecordType.Params, requestId, body) : [];
  return Buffer.concat([...records, ...encodeRecords(RecordType.Params, requestId, Buffer.alloc(0))]);
}

/** One piece of a stream (STDIN): nothing for an empty piece, which would end the stream. */
export function encodeStreamChunk(type: number, requestId: number, chunk: Buffer): Buffer {
  return chunk.length === 0 ? Buffer.alloc(0) : Buffer.concat(encodeRecords(type, requestId, chunk));
}

export function encodeStreamEnd(type: number, requestId: number): Buffer {
  return Buffer.concat(encodeRecords(type, requestId, Buffer.alloc(0)));
}

function readPairLength(buf: Buffer, offset: number): { length: number; next: number } | undefined {
  if (offset >= buf.length) return undefined;
  const first = buf[offset]!;
  if ((first & 0x80) === 0) return { length: first, next: offset + 1 };
  if (offset + 4 > buf.length) return undefined;
  return { length: buf.readUInt32BE(offset) & MAX_PAIR_LENGTH, next: offset + 4 };
}

/** Name-value pairs from a whole PARAMS (or GET_VALUES_RESULT) stream body; names and values decoded as UTF-8. */
export function decodeNameValuePairs(buf: Buffer): Array<[string, string]> | ProtocolError {
  const pairs: Array<[string, string]> = [];
  let offset = 0;
  while (offset < buf.length) {
    const n = readPairLength(buf, offset);
    if (!n) return { kind: 'protocol-error', reason: `truncated name length at byte ${offset}` };
    const v = readPairLength(buf, n.next);
    if (!v) return { kind: 'protocol-error', reason: `truncated value length at byte ${n.next}` };
    const end = v.next + n.length + v.length;
    if (end > buf.length) return { kind: 'protocol-error', reason: `a name-value pair at byte ${offset} claims ${n.length + v.length} bytes, only ${buf.length - v.next} remain` };
    pairs.push([buf.toString('utf8', v.next, v.next + n.length), buf.toString('utf8', v.next + n.length, end)]);
    offset = end;
  }
  return pairs;
}

export function decodeEndRequest(content: Buffer): EndRequestBody | ProtocolError {
  if (content.length !== 8) return { kind: 'protocol-error', reason: `END_REQUEST body of ${content.length} bytes (8 expected)` };
  return { appStatus: content.readUInt32BE(0), protocolStatus: content[4]! };
}

/**
 * Incremental decoder: bytes in, whole records out, in any chunking. A version other than 1 is a ProtocolError,
 * after which the decoder stays failed (the stream cannot be resynchronised).
 */
export class RecordDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private failed: ProtocolError | undefined;

  push(chunk: Buffer): FastCgiRecord[] | ProtocolError {
    if (this.failed) return this.failed;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const records: FastCgiRecord[] = [];
    let offset = 0;
    while (this.pending.length - offset >= HEADER_LENGTH) {
      const version = this.pending[offset]!;
      if (version !== FCGI_VERSION_1) {
        this.failed = { kind: 'protocol-error', reason: `record with FastCGI version ${version} (1 expected)` };
        this.pending = Buffer.alloc(0);
        return this.failed;
      }
      const contentLength = this.pending.readUInt16BE(offset + 4);
      const total = HEADER_LENGTH + contentLength + this.pending[offset + 6]!;
      if (this.pending.length - offset < total) break;
      records.push({
        type: this.pending[offset + 1]!,
        requestId: this.pending.readUInt16BE(offset + 2),
        // A copy: the record must not keep the whole chunk it came in alive.
        content: Buffer.from(this.pending.subarray(offset + HEADER_LENGTH, offset + HEADER_LENGTH + contentLength)),
      });
      offset += total;
    }
    this.pending = offset === 0 ? this.pending : Buffer.from(this.pending.subarray(offset));
    return records;
  }

  /** Bytes of an incomplete record still waiting for the rest. */
  get buffered(): number {
    return this.pending.length;
  }
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'protocol-error';
}
