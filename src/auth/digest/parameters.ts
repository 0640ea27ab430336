/**
 * The auth-param list of a credentials or challenge value (RFC 7235 §2.1, list rules of RFC 9110 §5.6.1):
 *
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * separated by commas with optional whitespace, empty list elements allowed. Untrusted input: the parser never
 * throws, it returns the parameters or the reason it stopped. Reasons name offsets and parameter names, never
 * values (the values of an Authorization header are credentials).
 *
 * Decisions:
 * - Names are case-insensitive (RFC 7235 §2.1) and returned lower-cased. A name given twice is an error (RFC 7616
 *   §3.4 / RFC 7235 §2.2: each parameter name MUST only occur once): a duplicated `uri` or `response` is either a
 *   broken client or someone hoping two components disagree about which one counts.
 * - Unquoted values may hold any visible ASCII character except DQUOTE, comma and backslash, not only tchar: old
 *   clients send `uri=/a/b` or base64 nonces unquoted, and accepting them costs nothing since the structure (name,
 *   "=", value, comma) stays strict. A value that is neither quoted nor of those characters is an error.
 * - quoted-string follows RFC 9110 §5.6.4: HTAB, SP, visible ASCII and obs-text (bytes 0x80-0xFF, which Node gives
 *   us as the latin1 characters U+0080-U+00FF), with backslash quoting one such character. Control characters
 *   and characters above U+00FF (impossible in a header Node parsed) are refused.
 * - Unknown parameters are kept: the scheme decides what it ignores.
 */

/** One parameter value, unquoted; `quoted` says how it was written (kept for diagnostics, never for decisions). */
export interface AuthParam {
  readonly value: string;
  readonly quoted: boolean;
}

export type AuthParamsResult = { readonly params: ReadonlyMap<string, AuthParam> } | { readonly error: string };

/** More than any scheme defines (Digest has 14): a longer list is not a client talking to us. */
export const MAX_AUTH_PARAMS = 64;
/** The Authorization header is already capped (credentials-header.ts); the parser caps what it is given too. */
export const MAX_AUTH_PARAMS_LENGTH = 16 * 1024;

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
/**
 * One well-formed parameter at lastIndex: token BWS "=" BWS, then a quoted-string (qdtext: HTAB, SP, VCHAR except
 * DQUOTE and backslash, obs-text; quoted-pair: backslash and HTAB, SP, VCHAR or obs-text) or a loose value (VCHAR
 * except DQUOTE, comma, backslash) — the same classes as isQuotableChar and isLooseValueChar.
 */
const WELL_FORMED = /[ \t,]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*(?:"((?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*)"|([\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]+))[ \t]*/y;

function isTchar(c: string): boolean {
  return TCHAR.test(c);
}

/** VCHAR except DQUOTE, comma and backslash (see the decisions above). */
function isLooseValueChar(code: number): boolean {
  return code >= 0x21 && code <= 0x7e && code !== 0x22 && code !== 0x2c && code !== 0x5c;
}

/** qdtext and the character after a backslash: HTAB, SP, VCHAR, obs-text. */
function isQuotableChar(code: number): boolean {
  return code === 0x09 || (code >= 0x20 && code <= 0x7e) || (code >= 0x80 && code <= 0xff);
}

function isWhitespace(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

export function parseAuthParams(input: string): AuthParamsResult {
  if (typeof input !== 'string') return { error: 'the parameters are not text' };
  if (input.length > MAX_AUTH_PARAMS_LENGTH) return { error: `the parameter list is longer than ${MAX_AUTH_PARAMS_LENGTH} characters` };
  const params = new Map<string, AuthParam>();
  const n = input.length;
  let i = 0;
  for (;;) {
    // Fast path for a well-formed parameter (what clients send on every request): one sticky regular expression
    // instead of the character loops below, covering the list separators before it and the whitespace after it. It
    // accepts exactly what the loops accept for one parameter, with the same value; anything else, every error
    // included, goes through the loops, which say what is wrong.
    WELL_FORMED.lastIndex = i;
    const m = WELL_FORMED.exec(input);
    if (m) {
      const name = m[1] as string;
      const key = /[A-Z]/.test(name) ? name.toLowerCase() : name;
      const text = m[2];
      const value = text === undefined ? (m[3] as string) : text.includes('\\') ? text.replace(/\\([\s\S])/g, '$1') : text;
      if (params.has(key) || params.size >= MAX_AUTH_PARAMS) {
        const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
        return { error: params.has(key) ? `parameter "${shown}" occurs more than once` : `more than ${MAX_AUTH_PARAMS} parameters` };
      }
      params.set(key, { value, quoted: text !== undefined });
      i = WELL_FORMED.lastIndex;
      if (i >= n) break;
      if (input.charCodeAt(i) === 0x2c) continue;
      const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
      return { error: `expected "," after parameter "${shown}" (offset ${i})` };
    }

    // Leading whitespace and empty list elements (",,") are allowed by the list rule.
    while (i < n && (isWhitespace(input[i]) || input[i] === ',')) i++;
    if (i >= n) break;

    let name: string;
    let shown: string;
    let value: string;
    let quoted: boolean;
    {
      const nameStart = i;
      while (i < n && isTchar(input[i] as string)) i++;
      if (i === nameStart) return { error: `expected a parameter name at offset ${i}` };
      name = input.slice(nameStart, i).toLowerCase();
      // Names are tchar only (safe in a log line); a long one is cut so a reason stays short.
      shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;

      while (i < n && isWhitespace(input[i])) i++;
      if (input[i] !== '=') return { error: `parameter "${shown}" has no "=" (offset ${i})` };
      i++;
      while (i < n && isWhitespace(input[i])) i++;

      if (input[i] === '"') {
        quoted = true;
        i++;
        let text = '';
        let closed = false;
        while (i < n) {
          const c = input[i] as string;
          const code = c.charCodeAt(0);
          if (c === '"') {
            closed = true;
            i++;
            break;
          }
          if (c === '\\') {
            const next = input[i + 1];
            if (next === undefined) break;
            if (!isQuotableChar(next.charCodeAt(0))) return { error: `parameter "${shown}" quotes a character a quoted string cannot hold (offset ${i + 1})` };
            text += next;
            i += 2;
            continue;
          }
          if (!isQuotableChar(code)) return { error: `parameter "${shown}" holds a character a quoted string cannot hold (offset ${i})` };
          text += c;
          i++;
        }
        if (!closed) return { error: `parameter "${shown}" has an unterminated quoted string` };
        value = text;
      } else {
        quoted = false;
        const valueStart = i;
        while (i < n && isLooseValueChar(input.charCodeAt(i))) i++;
        if (i === valueStart) return { error: `parameter "${shown}" has no value (offset ${i})` };
        value = input.slice(valueStart, i);
      }
    }

    if (params.has(name)) return { error: `parameter "${shown}" occurs more than once` };
    if (params.size >= MAX_AUTH_PARAMS) return { error: `more than ${MAX_AUTH_PARAMS} parameters` };
    params.set(name, { value, quoted });

    while (i < n && isWhitespace(input[i])) i++;
    if (i >= n) break;
    if (input[i] !== ',') return { error: `expected "," after parameter "${shown}" (offset ${i})` };
  }
  return { params };
}

/** A value as a quoted-string: backslash before DQUOTE and backslash, nothing else (RFC 9110 §5.6.4). */
export function quoteParam(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
