import { IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';

/** What a secret is replaced with, everywhere. */
export const REDACTED = '[Redacted]';

// Header names compared after lower-casing and dropping '-' and '_', so setCookie, SET_COOKIE and
// Proxy-Authorization all match.
const SECRET_HEADERS = new Set(['authorization', 'proxyauthorization', 'cookie', 'cookies', 'setcookie']);

/** True for Authorization, Proxy-Authorization, Cookie and Set-Cookie, whatever their case or spelling. */
export function isSecretHeaderName(name: string): boolean {
  if (name.length < 6 || name.length > 24) return false;
  return SECRET_HEADERS.has(name.toLowerCase().replace(/[-_]/g, ''));
}

const NAMES = String.raw`proxy[-_]?authorization|authorization|set[-_]?cookie|cookies?`;
const SCHEMES = String.raw`basic|bearer|negotiate|ntlm|kerberos`;
const NOT_A_CREDENTIAL = String.raw`(?!(?:${SCHEMES}|digest)\b)(?![A-Za-z_-]+=\\?["'])`;

// Raw text (messages, error texts, values in objects). Line breaks end a header, so they end a redaction.
const RAW_HEADER_ECHO = new RegExp(String.raw`\b(${NAMES})(["']?\s*[:=][ \t]*)[^\r\n]*`, 'gi');
const RAW_SCHEME = new RegExp(String.raw`\b(${SCHEMES})([ \t]+)${NOT_A_CREDENTIAL}[^\s"',;]+`, 'gi');
const RAW_DIGEST = /\b(digest)([ \t]+)[^\r\n]+/gi;

// The same inside a serialized JSON line: a string ends at an unescaped '"' and its line breaks are '\n'/'\r'.
// An unescaped '"' before the ':' is a JSON key, left to JSON_KEY; only an escaped one is text.
const JSON_HEADER_ECHO = new RegExp(String.raw`\b(${NAMES})((?:\\"|')?\s*[:=]\s*)(?:[^"\\]|\\[^nr])*`, 'gi');
const JSON_SCHEME = new RegExp(String.raw`\b(${SCHEMES})((?:[ ]|\\t)+)${NOT_A_CREDENTIAL}(?:[^\s"\\,;]|\\.)+`, 'gi');
const JSON_DIGEST = /\b(digest)((?:[ ]|\\t)+)(?:[^"\\]|\\[^nr])+/gi;
const JSON_KEY = new RegExp(String.raw`"(${NAMES})"\s*:\s*(?:"(?:[^"\\]|\\.)*"|\[(?:[^\[\]"]|"(?:[^"\\]|\\.)*")*\])`, 'gi');

// Credential blobs that need no scheme word in front: NTLMSSP messages ('NTLMSSP\0' in base64) and SPNEGO /
// Kerberos tokens (DER 0x60 0x81/0x82 application tag, or 0xa1 negTokenResp).
const NTLM_BLOB = /TlRMTVNTU[A-Za-z0-9+/]*=*/g;
const SPNEGO_BLOB = /\b(?:YI[GI]|oY[GI]|oR[A-Za-z0-9+/])[A-Za-z0-9+/]{20,}=*/g;

// Cheap pre-checks so ordinary text skips the redaction expressions.
const SUSPECT_WORD = /author|cookie|basic|bearer|digest|negotiate|ntlm|kerberos/i;
const SUSPECT_BLOB = /TlRMTVNTU|YI[GI]|oY[GI]|oR/;

function suspect(text: string): boolean {
  return SUSPECT_WORD.test(text) || SUSPECT_BLOB.test(text);
}

function replaceBlobs(text: string): string {
  return text.replace(NTLM_BLOB, REDACTED).replace(SPNEGO_BLOB, REDACTED);
}

/** Removes echoed secret headers and credential blobs from free text (e.g. an error message). */
export function scrubText(text: string): string {
  if (!suspect(text)) return text;
  return replaceBlobs(
    text
      .replace(RAW_HEADER_ECHO, `$1$2${REDACTED}`)
      .replace(RAW_DIGEST, `$1$2${REDACTED}`)
      .replace(RAW_SCHEME, `$1$2${REDACTED}`),
  );
}

/**
 * The last line of defence, applied to every serialized log line: catches secrets in the message string, in
 * printf-style arguments and in anything a serializer let through.
 */
export function scrubJsonLine(line: string): string {
  if (!suspect(line)) return line;
  return replaceBlobs(
    line
      .replace(JSON_KEY, `"$1":"${REDACTED}"`)
      .replace(JSON_HEADER_ECHO, `$1$2${REDACTED}`)
      .replace(JSON_DIGEST, `$1$2${REDACTED}`)
      .replace(JSON_SCHEME, `$1$2${REDACTED}`),
  );
}

const MAX_DEPTH = 10;

function safeGet(obj: object, key: string | symbol): unknown {
  try {
    return (obj as Record<string | symbol, unknown>)[key];
  } catch {
    return '[Unreadable]';
  }
}

function toText(value: unknown): string {
  try {
    return String(value); // throws for null-prototype objects and hostile toString
  } catch {
    return '[Unprintable]';
  }
}

function className(value: object): string {
  const ctor = safeGet(value, 'constructor');
  return typeof ctor === 'function' && ctor.name ? ctor.name : 'Object';
}

/** A request as the operational log shows it: never its raw header lines, its headers only after redaction. */
export function serializeRequest(req: IncomingMessage): Record<string, unknown> {
  return {
    method: req.method,
    url: scrubText(req.url ?? ''),
    httpVersion: req.httpVersion,
    headers: walk(req.headers, new Set(), 1),
    remoteAddress: req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  };
}

export function serializeResponse(res: ServerResponse): Record<string, unknown> {
  let headers: unknown = {};
  try {
    headers = res.getHeaders();
  } catch {
    headers = '[Unreadable]';
  }
  return { statusCode: res.statusCode, headers: walk(headers, new Set(), 1) };
}

function errorToObject(error: Error, ancestors: Set<object>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { type: className(error), message: scrubText(toText(safeGet(error, 'message') ?? '')) };
  const stack = safeGet(error, 'stack');
  if (typeof stack === 'string') out['stack'] = scrubText(stack);
  for (const key of Object.keys(error)) {
    if (key === 'message' || key === 'stack') continue;
    out[key] = isSecretHeaderName(key) ? REDACTED : walk(safeGet(error, key), ancestors, depth + 1);
  }
  const cause = safeGet(error, 'cause');
  if (cause !== undefined && !('cause' in out)) out['cause'] = walk(cause, ancestors, depth + 1);
  return out;
}

function redactArray(items: readonly unknown[], ancestors: Set<object>, depth: number): unknown[] {
  const out: unknown[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const prev = i > 0 ? items[i - 1] : undefined;
    // rawHeaders-style lists ([name, value, name, value] or [name, value] pairs): the item after a secret
    // header name is its value.
    if (typeof prev === 'string' && isSecretHeaderName(prev)) out[i] = REDACTED;
    else out[i] = walk(items[i], ancestors, depth + 1);
  }
  return out;
}

function redactEntries(entries: Iterable<readonly [unknown, unknown]>, ancestors: Set<object>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const key = typeof k === 'string' ? k : toText(k);
    out[key] = isSecretHeaderName(key) ? REDACTED : walk(v, ancestors, depth + 1);
  }
  return out;
}

function redactObject(obj: object, ancestors: Set<object>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // {name: 'Cookie', value: '…'} is another common header shape.
  const label = safeGet(obj, 'name') ?? safeGet(obj, 'key');
  const labelled = typeof label === 'string' && isSecretHeaderName(label);
  for (const key of Object.keys(obj)) {
    if (isSecretHeaderName(key) || (labelled && key === 'value')) out[key] = REDACTED;
    else out[key] = walk(safeGet(obj, key), ancestors, depth + 1);
  }
  return out;
}

function walk(value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (ancestors.has(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[Object]';
  if (value instanceof Date) return value;
  if (ArrayBuffer.isView(value)) return `[${className(value)} ${value.byteLength} bytes]`; // raw bytes may hold headers
  if (value instanceof ArrayBuffer) return `[ArrayBuffer ${value.byteLength} bytes]`;
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return redactArray(value, ancestors, depth);
    if (value instanceof Error) return errorToObject(value, ancestors, depth);
    if (value instanceof IncomingMessage) return serializeRequest(value);
    if (value instanceof ServerResponse) return serializeResponse(value);
    // Sockets, servers, streams: huge object graphs with nothing useful for an operator.
    if (value instanceof EventEmitter) return `[${className(value)}]`;
    if (value instanceof Map) return redactEntries(value, ancestors, depth);
    if (value instanceof Set) return redactArray([...value], ancestors, depth);
    if (typeof Headers === 'function' && value instanceof Headers) return redactEntries(value.entries(), ancestors, depth);
    const toJSON = safeGet(value, 'toJSON');
    if (typeof toJSON === 'function') {
      try {
        return walk(toJSON.call(value), ancestors, depth + 1);
      } catch {
        return '[Unserializable]';
      }
    }
    return redactObject(value, ancestors, depth);
  } finally {
    ancestors.delete(value);
  }
}

/**
 * A copy of any value with Authorization, Proxy-Authorization, Cookie and Set-Cookie replaced wherever they
 * appear (any case, nested objects, Maps, fetch Headers, raw header arrays, errors) and credential blobs
 * removed from strings.
 */
export function redactSecrets(value: unknown): unknown {
  return walk(value, new Set(), 0);
}

/**
 * Redacts the properties of a log call's object, leaving the keys in `skip` as they are (their serializer
 * redacts them).
 */
export function redactProperties(obj: Record<string, unknown>, skip: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ancestors = new Set<object>([obj]);
  for (const key of Object.keys(obj)) {
    const value = safeGet(obj, key);
    if (skip.has(key)) out[key] = value;
    else out[key] = isSecretHeaderName(key) ? REDACTED : walk(value, ancestors, 1);
  }
  return out;
}
