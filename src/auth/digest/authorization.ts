/**
 * Digest credentials: the parameters of an `Authorization: Digest …` header (RFC 7616 §3.4, RFC 2617 §3.2.2),
 * checked for presence and form. Whether they prove anything is verify.ts's question. Never throws: bad input is a
 * `{ error }` value whose text names parameters, never their values.
 *
 * Text: Node hands us header bytes as latin1 characters (one character per byte). The values that are hashed as
 * sent (nonce, cnonce, uri, qop, nc) stay in that form; the user name and realm, which are compared with names we
 * hold as Unicode, are decoded from UTF-8 when they hold bytes above 0x7F and form valid UTF-8 (we announce
 * charset=UTF-8), and kept as ISO-8859-1 text otherwise (RFC 2617's default charset).
 */
import { parseAuthParams, quoteParam, type AuthParam } from './parameters.js';

export type DigestQop = 'auth' | 'auth-int';

export interface DigestCredentials {
  /**
   * The user name: decoded text, or with `userhash` the hex H(user ":" realm) as sent. From `username*` (RFC 8187)
   * when `usernameStar`.
   */
  readonly username: string;
  readonly usernameStar: boolean;
  readonly userhash: boolean;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  /** The request-digest as sent (hex expected; its length is checked where the algorithm is known). */
  readonly response: string;
  /** The algorithm name as sent; "MD5" when absent (RFC 2617 §3.2.1). */
  readonly algorithm: string;
  readonly cnonce?: string;
  readonly opaque?: string;
  /** The qop as sent (verify.ts refuses anything but an offered "auth" / "auth-int"). Absent: RFC 2069 mode. */
  readonly qop?: string;
  /** The nonce count, and its 8 hex digits as sent (the hash covers the text). */
  readonly nc?: number;
  readonly ncText?: string;
}

export type DigestAuthorizationResult = DigestCredentials | { readonly error: string };

export function isDigestError(value: DigestAuthorizationResult): value is { readonly error: string } {
  return 'error' in value;
}

const NC = /^[0-9a-fA-F]{8}$/;
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Header text → Unicode: UTF-8 when the bytes are valid UTF-8, else ISO-8859-1 (see the header comment). */
function decodeHeaderText(value: string): string {
  if (!/[^\x00-\x7f]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  try {
    return utf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

/** RFC 8187 ext-value: charset "'" [ language ] "'" value-chars. Only UTF-8 is accepted (RFC 7616 §3.4.4). */
export function decodeExtValue(value: string): string | { readonly error: string } {
  const first = value.indexOf("'");
  const second = first < 0 ? -1 : value.indexOf("'", first + 1);
  if (first < 0 || second < 0) return { error: 'username* is not an RFC 8187 ext-value (charset\'language\'value)' };
  if (value.slice(0, first).toLowerCase() !== 'utf-8') return { error: 'username* uses a charset other than UTF-8' };
  const encoded = value.slice(second + 1);
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded[i] as string;
    if (c === '%') {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return { error: 'username* holds a malformed percent-encoding' };
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (ATTR_CHAR.test(c)) {
      bytes.push(c.charCodeAt(0));
    } else {
      return { error: 'username* holds a character that must be percent-encoded' };
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return { error: 'username* is not valid UTF-8' };
  }
}

/** RFC 8187 encoding of a user name: UTF-8, attr-chars as they are, every other byte as %XX. */
export function encodeExtValue(text: string): string {
  let out = "UTF-8''";
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && ATTR_CHAR.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Parses what follows `Digest ` in an Authorization header. */
export function parseDigestAuthorization(rest: string): DigestAuthorizationResult {
  const parsed = parseAuthParams(rest);
  if ('error' in parsed) return parsed;
  const p = parsed.params;
  const get = (name: string): AuthParam | undefined => p.get(name);

  const plainName = get('username');
  const starName = get('username*');
  if (plainName && starName) return { error: 'both username and username* are present (RFC 7616 §3.4)' };
  if (!plainName && !starName) return { error: 'the username parameter is missing' };

  for (const required of ['realm', 'nonce', 'uri', 'response'] as const) {
    if (!p.has(required)) return { error: `the ${required} parameter is missing` };
  }

  let userhash = false;
  const userhashParam = get('userhash');
  if (userhashParam) {
    const v = userhashParam.value.toLowerCase();
    if (v !== 'true' && v !== 'false') return { error: 'userhash is neither "true" nor "false"' };
    userhash = v === 'true';
  }

  let username: string;
  if (starName) {
    if (userhash) return { error: 'username* cannot carry a hashed user name (RFC 7616 §3.4.4)' };
    const decoded = decodeExtValue(starName.value);
    if (typeof decoded !== 'string') return decoded;
    username = decoded;
  } else {
    username = userhash ? (plainName as AuthParam).value : decodeHeaderText((plainName as AuthParam).value);
  }

  const qop = get('qop')?.value;
  const cnonce = get('cnonce')?.value;
  const ncParam = get('nc');
  let nc: number | undefined;
  if (ncParam) {
    if (!NC.test(ncParam.value)) return { error: 'nc is not 8 hexadecimal digits' };
    nc = parseInt(ncParam.value, 16);
    if (nc === 0) return { error: 'nc is 00000000 (the count of a first request is 00000001)' };
  }
  if (qop !== undefined) {
    // RFC 7616 §3.4: with qop, cnonce and nc MUST be sent (they are part of the hash).
    if (cnonce === undefined) return { error: 'qop is present but cnonce is missing' };
    if (ncParam === undefined) return { error: 'qop is present but nc is missing' };
  }

  const credentials: {
    -readonly [K in keyof DigestCredentials]: DigestCredentials[K];
  } = {
    username,
    usernameStar: starName !== undefined,
    userhash,
    realm: decodeHeaderText((get('realm') as AuthParam).value),
    nonce: (get('nonce') as AuthParam).value,
    uri: (get('uri') as AuthParam).value,
    response: (get('response') as AuthParam).value,
    algorithm: get('algorithm')?.value ?? 'MD5',
  };
  if (cnonce !== undefined) credentials.cnonce = cnonce;
  const opaque = get('opaque')?.value;
  if (opaque !== undefined) credentials.opaque = opaque;
  if (qop !== undefined) credentials.qop = qop;
  if (ncParam !== undefined && nc !== undefined) {
    credentials.nc = nc;
    credentials.ncText = ncParam.value;
  }
  return credentials;
}

/**
 * The header value a client sends for these credentials (`Digest …`), RFC 7616 §3.4 style: algorithm, qop and nc as
 * tokens, the rest quoted. A user name that is not ASCII goes as UTF-8 bytes (latin1 characters, what the wire
 * carries) unless `usernameStar` asks for username*. Used by tests and the load generator.
 */
export function formatDigestAuthorization(c: DigestCredentials): string {
  const parts: string[] = [];
  if (c.usernameStar) parts.push(`username*=${encodeExtValue(c.username)}`);
  else parts.push(`username=${quoteParam(c.userhash ? c.username : Buffer.from(c.username, 'utf8').toString('latin1'))}`);
  parts.push(`realm=${quoteParam(Buffer.from(c.realm, 'utf8').toString('latin1'))}`);
  parts.push(`uri=${quoteParam(c.uri)}`);
  parts.push(`algorithm=${c.algorithm}`);
  parts.push(`nonce=${quoteParam(c.nonce)}`);
  if (c.ncText !== undefined) parts.push(`nc=${c.ncText}`);
  else if (c.nc !== undefined) parts.push(`nc=${ncHex(c.nc)}`);
  if (c.cnonce !== undefined) parts.push(`cnonce=${quoteParam(c.cnonce)}`);
  if (c.qop !== undefined) parts.push(`qop=${c.qop}`);
  parts.push(`response=${quoteParam(c.response)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quoteParam(c.opaque)}`);
  if (c.userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}

/** A nonce count as the 8 lower-case hex digits of the wire (RFC 7616 §3.4). */
export function ncHex(nc: number): string {
  return nc.toString(16).padStart(8, '0');
}
