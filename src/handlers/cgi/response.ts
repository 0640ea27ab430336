/**
 * The head of a CGI response (RFC 3875 §6): header lines, each ended by LF or CRLF, then a blank line; the body is
 * what follows. Parsed incrementally from the script's stdout, without trusting a byte of it: the script runs as
 * whichever account the request maps to, so its output is as untrusted as a client's request.
 *
 * - `Status: 404 Not Found` sets the status (200–599; a script has no business sending 1xx interim responses).
 * - `Location`: an absolute URI is a client redirect (302 unless Status says otherwise). A local path (`/x`) is,
 *   in RFC 3875 §6.2.2, a local redirect the server should follow internally as a new request; Persona answers it
 *   as a 302 to that path for now (the client makes the new request itself: same result, one round trip more, and
 *   the new request goes through authentication and authorization again, which an internal one would also need).
 * - Other fields pass through, except hop-by-hop ones (Connection, Keep-Alive, Transfer-Encoding, …): the
 *   connection is the server's to manage, and a script-chosen Transfer-Encoding would desynchronise the client.
 * - A field name must be a token and a value free of control characters (CR, LF and NUL included): what Node
 *   would refuse to write, and what would let a script split the response.
 * - No Content-Type, Location or Status, a line that is not a field, a repeated CGI field, or a head larger than
 *   MAX_HEAD_BYTES: "bad headers" (IIS's 502.2), carrying what the script printed, for the error page.
 *
 * Bytes are read as latin1 (one char per byte) so that any value round-trips exactly to the client: Node writes
 * header strings as latin1.
 */

export const MAX_HEAD_BYTES = 64 * 1024;

export interface CgiHead {
  readonly kind: 'head';
  readonly status: number;
  /** The reason phrase the script gave with Status; undefined lets the server use the standard one. */
  readonly reason: string | undefined;
  /** The fields to send, in the script's order and spelling; repeated names (Set-Cookie) stay separate. */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>;
  /** The Content-Length the script declared: the runner holds the body to it. */
  readonly contentLength: number | undefined;
  /** Which kind of Location the script sent (RFC 3875 §6.2.2, §6.2.3). */
  readonly redirect: 'client' | 'local' | undefined;
  /** The bytes after the blank line that were read with the head: the start of the body. */
  readonly bodyStart: Buffer;
}

export interface CgiBadHead {
  readonly kind: 'bad';
  /** What is wrong, for the operator. */
  readonly problem: string;
  /** What the script printed, up to MAX_HEAD_BYTES, decoded for display (UTF-8, invalid bytes as U+FFFD). */
  readonly text: string;
}

export type CgiHeadResult = CgiHead | CgiBadHead;

/** Never forwarded: they describe the connection between two hops, which the server owns (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate']);

/** Fields whose repetition makes the head ambiguous. */
const SINGLE = new Set(['status', 'content-type', 'location', 'content-length']);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What Node's header-value check accepts: HTAB, visible ASCII and space, and obs-text.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const STATUS = /^([0-9]{3})(?:[ \t]+(.*))?$/;
const CONTENT_LENGTH = /^[0-9]{1,15}$/;
const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

export class CgiHeadParser {
  /** The head so far, when it did not fit in one chunk (at most MAX_HEAD_BYTES). */
  private retained: Buffer = EMPTY;
  private used = 0;
  /** Offset of the first line not parsed yet, and how far LFs were searched. */
  private lineStart = 0;
  private lineNumber = 0;
  private readonly fields: Array<readonly [string, string]> = [];
  private readonly seen = new Set<string>();
  private status: number | undefined;
  private reason: string | undefined;
  private location: string | undefined;
  private contentLength: number | undefined;
  private result: CgiHeadResult | undefined;

  /** Feeds stdout bytes; returns the result once the head is complete or known to be bad, undefined until then. */
  push(chunk: Buffer): CgiHeadResult | undefined {
    if (this.result) return this.result;
    if (chunk.length === 0) return undefined;
    let window: Buffer;
    let overflow: Buffer = EMPTY;
    if (this.used === 0) {
      // The common case: the whole head arrives in the first chunk and is parsed in place, without a copy.
      window = chunk;
    } else {
      const take = Math.min(chunk.length, MAX_HEAD_BYTES - this.used);
      this.reserve(this.used + take);
      chunk.copy(this.retained, this.used, 0, take);
      this.used += take;
      window = this.retained.subarray(0, this.used);
      overflow = chunk.subarray(take);
    }
    const outcome = this.scan(window);
    if (outcome === 'more') {
      if (window.length >= MAX_HEAD_BYTES) return this.finish(bad(`the headers are longer than ${MAX_HEAD_BYTES} bytes`, window.subarray(0, MAX_HEAD_BYTES)));
      if (this.used === 0) {
        this.reserve(window.length);
        window.copy(this.retained, 0);
        this.used = window.length;
      }
      return undefined;
    }
    if (outcome.kind === 'bad') return this.finish(outcome);
    const bodyStart = overflow.length === 0 ? window.subarray(outcome.bodyOffset) : Buffer.concat([window.subarray(outcome.bodyOffset), overflow]);
    return this.finish(this.complete(bodyStart, window.subarray(0, outcome.bodyOffset)));
  }

  /** The output ended: a head still incomplete is bad. */
  end(): CgiHeadResult {
    if (this.result) return this.result;
    const problem = this.used === 0 ? 'the script wrote nothing to its standard output' : 'the output ended before the blank line that ends the headers';
    return this.finish(bad(problem, this.retained.subarray(0, this.used)));
  }

  private finish(result: CgiHeadResult): CgiHeadResult {
    this.result = result;
    this.retained = EMPTY;
    return result;
  }

  private reserve(size: number): void {
    if (this.retained.length >= size) return;
    let capacity = Math.max(4096, this.retained.length * 2);
    while (capacity < size) capacity *= 2;
    const grown = Buffer.allocUnsafe(Math.min(capacity, MAX_HEAD_BYTES));
    this.retained.copy(grown, 0, 0, this.used);
    this.retained = grown;
  }

  /** Parses the complete lines of `window` from lineStart on. */
  private scan(window: Buffer): 'more' | CgiBadHead | { readonly kind: 'end'; readonly bodyOffset: number } {
    for (;;) {
      const lf = window.indexOf(LF, this.lineStart);
      if (lf === -1) return 'more';
      // The head, up to and including this LF, must fit in MAX_HEAD_BYTES.
      if (lf >= MAX_HEAD_BYTES) return bad(`the headers are longer than ${MAX_HEAD_BYTES} bytes`, window.subarray(0, MAX_HEAD_BYTES));
      const end = lf > this.lineStart && window[lf - 1] === CR ? lf - 1 : lf;
      const start = this.lineStart;
      this.lineStart = lf + 1;
      this.lineNumber++;
      if (end === start) return { kind: 'end', bodyOffset: lf + 1 };
      const problem = this.field(window.toString('latin1', start, end));
      if (problem) return bad(problem, window.subarray(0, Math.min(window.length, MAX_HEAD_BYTES)));
    }
  }

  /** Records one header line; returns what is wrong with it, if anything. */
  private field(line: string): string | undefined {
    const colon = line.indexOf(':');
    const shown = JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
    if (colon <= 0) return `line ${this.lineNumber} is not a header field: ${shown}`;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return `line ${this.lineNumber} has an invalid field name: ${shown}`;
    const value = trimOws(line.slice(colon + 1));
    if (!FIELD_VALUE.test(value)) return `the value of ${name} (line ${this.lineNumber}) contains a control character`;
    const lower = name.toLowerCase();
    if (SINGLE.has(lower)) {
      if (this.seen.has(lower)) return `${name} appears more than once`;
      this.seen.add(lower);
    }
    switch (lower) {
      case 'status': {
        const match = STATUS.exec(value);
        const code = match ? Number(match[1]) : NaN;
        if (!match || code < 200 || code > 599) return `Status must be a code from 200 to 599 and an optional reason: ${shown}`;
        this.status = code;
        const reason = trimOws(match[2] ?? '');
        this.reason = reason === '' ? undefined : reason;
        return undefined; // a CGI field, not sent to the client
      }
      case 'content-type':
        if (value === '') return 'Content-Type is empty';
        break;
      case 'location':
        if (value === '') return 'Location is empty';
        this.location = value;
        break;
      case 'content-length':
        if (!CONTENT_LENGTH.test(value)) return `Content-Length is not a number: ${shown}`;
        this.contentLength = Number(value);
        break;
    }
    if (!HOP_BY_HOP.has(lower)) this.fields.push([name, value]);
    return undefined;
  }

  private complete(bodyStart: Buffer, head: Buffer): CgiHeadResult {
    if (!this.seen.has('status') && !this.seen.has('content-type') && !this.seen.has('location')) {
      return bad('the headers contain none of Content-Type, Location and Status', head);
    }
    let redirect: CgiHead['redirect'];
    if (this.location !== undefined) {
      // '/x' is a local path; '//host/x' is a network-path reference, i.e. a client redirect to another host. A
      // relative reference ('x.html') is neither RFC 3875 form, but RFC 9110 §10.2.2 lets the client resolve it
      // against the request's URL: it is passed as written, as a client redirect.
      redirect = this.location.startsWith('/') && !this.location.startsWith('//') ? 'local' : 'client';
    }
    const status = this.status ?? (this.location !== undefined ? 302 : 200);
    return { kind: 'head', status, reason: this.reason, headers: this.fields, contentLength: this.contentLength, redirect, bodyStart };
  }
}

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === ' ' || text[start] === '\t')) start++;
  while (end > start && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  return text.slice(start, end);
}

function bad(problem: string, printed: Buffer): CgiBadHead {
  return { kind: 'bad', problem, text: displayable(printed) };
}

/**
 * What the script printed, as text an operator can read in the error page and the log: UTF-8 (invalid bytes as
 * U+FFFD), CRLF as LF, other control characters shown as \xNN so that none reaches a terminal or the page raw.
 */
export function displayable(bytes: Buffer): string {
  return bytes
    .toString('utf8')
    .replace(/\r\n/g, '\n')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Writes a parsed head to the response: the status line as the program gave it, its headers in order. */
export function writeCgiHead(res: import('node:http').ServerResponse, head: CgiHead): void {
  const flat: string[] = [];
  for (const [name, value] of head.headers) flat.push(name, value);
  if (head.reason === undefined) res.writeHead(head.status, flat);
  else res.writeHead(head.status, head.reason, flat);
}
