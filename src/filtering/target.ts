/**
 * The request target, parsed and canonicalised once (stage beginRequest).
 *
 * Every later decision (request filtering, URL → configuration, URL → file) must look at the same path, so the
 * path is decoded here exactly once and nowhere else. IIS's canonicalisation bugs (MS99-061, KB 295534, MS00-057,
 * `::$DATA`, trailing dots) all came from two layers seeing two different paths; the rules below refuse every
 * spelling that another layer could read differently, instead of guessing which reading was meant.
 *
 * What Node hands over (Node 20.20, llhttp; proven by test/filtering/node-request-line.test.ts):
 * - `req.url` is the request-target exactly as sent, byte for byte, as a string of the same ASCII characters.
 *   Nothing is decoded: `%C3%A9`, `%2F`, `%00` and `%u002e` arrive as those characters.
 * - Only bytes 0x21–0x7E reach `req.url`. Bytes ≥ 0x80, controls, DEL (and space, which ends the target) make
 *   llhttp fail with HPE_INVALID_URL and the server answers 400 before any request handler runs; the same with
 *   `insecureHTTPParser`. So raw high-bit characters never come from HTTP/1 clients: a non-ASCII path can only
 *   be spelled with percent escapes, and `highBit` is a property of the decoded path.
 * - Backslash, `"`, `<`, `>`, `{`, `}`, `|`, `^`, `` ` `` and `#` do reach `req.url` unchanged.
 * This parser does not rely on llhttp for its safety: it refuses anything outside 0x21–0x7E itself, so it gives
 * the same answer whatever transport produced the string.
 */
import { httpError, Win32, type HttpError } from '../pipeline/errors.js';
import { quoteValue } from './quote.js';

export interface ParsedTarget {
  /** Path part exactly as received, before '?'. For absolute-form, the part after the authority ('/' if empty). */
  readonly rawPath: string;
  /** After the first '?', without it; '' if none. Not decoded. */
  readonly rawQuery: string;
  /** Decoded once, canonical: starts with '/', '.'/'..' resolved, runs of '/' collapsed, trailing '/' kept. */
  readonly path: string;
  /** Decoded, non-empty segments of `path`. */
  readonly segments: readonly string[];
  readonly trailingSlash: boolean;
  /** The once-decoded path still holds a valid %XX escape (404.11 unless allowDoubleEscaping). */
  readonly doubleEscaped: boolean;
  /** The decoded path holds a code point ≥ 0x80 (404.12 unless allowHighBitCharacters). */
  readonly highBit: boolean;
}

/** A malformed target: the request cannot be read as one path. HTTP.sys answers these with 400 before IIS. */
function malformed(reason: string): HttpError {
  return httpError(400, 0, reason, Win32.INVALID_PARAMETER);
}

/** A well-formed target whose path could alias another one or leave the root: refused, never repaired. */
function badPath(reason: string): HttpError {
  return httpError(400, 0, reason, Win32.BAD_PATHNAME);
}

/** A path that names a Windows alias (stream, drive, stripped trailing character): refused as a denied URL sequence. */
function aliasSegment(reason: string): HttpError {
  return httpError(404, 5, reason, Win32.BAD_PATHNAME);
}

// RFC 9112 §3.2.2. The authority is not validated beyond emptiness and userinfo: binding selection owns hosts.
const ABSOLUTE_FORM = /^https?:\/\/([^/?]*)(.*)$/i;
// HTTP.sys AllowRestrictedChars=0: C0 controls, DEL and C1 controls are refused even when percent-encoded.
const RESTRICTED = /[\u0000-\u001f\u007f-\u009f]/;
const VALID_ESCAPE = /%[0-9a-fA-F]{2}/;
const NON_ASCII = /[^\u0000-\u007f]/;
const HEX = /^[0-9a-fA-F]{2}$/;

// fatal: invalid UTF-8 (overlong forms such as %C0%AF, encoded surrogates, truncated sequences) must be refused,
// not replaced by U+FFFD, or two different byte strings would name the same file.
// ignoreBOM: by default the decoder drops a leading EF BB BF, which would make `/%EF%BB%BFx` an alias of `/x`.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function parseRequestTarget(target: string): ParsedTarget | HttpError {
  if (target.length === 0) return malformed('the request target is empty');
  const outside = /[^\u0021-\u007e]/u.exec(target);
  if (outside) {
    return malformed(`the request target ${quoteValue(target)} holds the character ${quoteValue(outside[0])}; only printable ASCII may appear, anything else must be percent-encoded`);
  }
  if (target === '*') return malformed('the asterisk-form target "*" names no resource (OPTIONS * is answered before request filtering)');
  // A fragment never belongs to a request target (RFC 9112 §3.2); a client that sends one is confused or probing.
  if (target.includes('#')) return malformed(`the request target ${quoteValue(target)} holds a fragment ("#"), which clients must not send`);

  let pathAndQuery: string;
  if (target.startsWith('/')) {
    pathAndQuery = target;
  } else {
    const absolute = ABSOLUTE_FORM.exec(target);
    if (!absolute) return malformed(`the request target ${quoteValue(target)} is neither origin-form ("/path") nor absolute-form ("http://host/path")`);
    const authority = absolute[1] ?? '';
    const rest = absolute[2] ?? '';
    if (authority === '') return malformed(`the absolute-form target ${quoteValue(target)} has no host`);
    // userinfo in an http URI is deprecated (RFC 9110 §4.2.4) and a classic way to disguise the real host.
    if (authority.includes('@')) return malformed(`the absolute-form target ${quoteValue(target)} holds userinfo ("@"), which is not accepted`);
    pathAndQuery = rest.startsWith('/') ? rest : `/${rest}`;
  }

  const question = pathAndQuery.indexOf('?');
  const rawPath = question < 0 ? pathAndQuery : pathAndQuery.slice(0, question);
  const rawQuery = question < 0 ? '' : pathAndQuery.slice(question + 1);

  // Windows reads '\' as a separator; accepting it would give one file two URLs. Never alias: refuse.
  if (rawPath.includes('\\')) return badPath(`the path ${quoteValue(rawPath)} holds a backslash`);

  // rawPath starts with '/', so the first element of the split is always the empty string before it.
  const decoded: string[] = [];
  for (const raw of rawPath.split('/').slice(1)) {
    const segment = decodeSegment(raw, rawPath);
    if (typeof segment !== 'string') return segment;
    decoded.push(segment);
  }

  const segments: string[] = [];
  let trailingSlash = false;
  for (let i = 0; i < decoded.length; i++) {
    const segment = decoded[i] as string;
    const last = i === decoded.length - 1;
    if (segment === '' || segment === '.') {
      if (last) trailingSlash = true;
      continue;
    }
    if (segment === '..') {
      if (segments.length === 0) return badPath(`the path ${quoteValue(rawPath)} climbs above the root with ".."`);
      segments.pop();
      if (last) trailingSlash = true;
      continue;
    }
    segments.push(segment);
  }

  // Checked on every decoded segment, including those a later '..' removed: a request that spells an alias
  // anywhere is probing, and refusing it does not depend on how the rest of the path resolves.
  for (const segment of decoded) {
    if (segment === '' || segment === '.' || segment === '..') continue;
    if (segment.includes(':')) {
      return aliasSegment(`the path segment ${quoteValue(segment)} holds ':' (NTFS stream, drive letter or scheme syntax)`);
    }
    if (segment.endsWith('.') || segment.endsWith(' ')) {
      return aliasSegment(`the path segment ${quoteValue(segment)} ends in '${segment.slice(-1)}', which Windows strips (an alias of another name)`);
    }
  }

  return {
    rawPath,
    rawQuery,
    path: `/${segments.join('/')}${trailingSlash && segments.length > 0 ? '/' : ''}`,
    segments,
    trailingSlash,
    doubleEscaped: decoded.some((s) => VALID_ESCAPE.test(s)),
    highBit: decoded.some((s) => NON_ASCII.test(s)),
  };
}

/** Percent-decodes one raw segment (UTF-8), refusing what could be read another way by another layer. */
function decodeSegment(raw: string, rawPath: string): string | HttpError {
  let text = raw;
  if (raw.includes('%')) {
    const bytes: number[] = [];
    for (let i = 0; i < raw.length; i++) {
      const code = raw.charCodeAt(i);
      if (code !== 0x25) {
        bytes.push(code);
        continue;
      }
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) {
        // IIS (HTTP.sys PercentUAllowed=1) accepted %uNNNN, a second spelling of every character: refused here.
        if (hex[0] === 'u' || hex[0] === 'U') return malformed(`the path ${quoteValue(rawPath)} holds an IIS-style %u escape, which is not accepted`);
        return malformed(`the path ${quoteValue(rawPath)} holds '%' not followed by two hexadecimal digits`);
      }
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    }
    try {
      text = UTF8.decode(Uint8Array.from(bytes));
    } catch {
      return malformed(`the path ${quoteValue(rawPath)} holds percent escapes that are not valid UTF-8`);
    }
  }
  // Raw characters are already printable ASCII; only decoding can bring these in.
  // An encoded slash is refused rather than read as a separator or a literal: as a separator, `/a%2F..%2Fb` would
  // be one segment to a proxy, a cache or a log reader and three to us; as a literal, no Linux file name can hold
  // it. Apache refuses it by default too (AllowEncodedSlashes Off).
  if (text.includes('/')) return badPath(`the path ${quoteValue(rawPath)} holds an encoded slash (%2F); a slash must be a separator or absent`);
  if (text.includes('\\')) return badPath(`the path ${quoteValue(rawPath)} holds an encoded backslash (%5C)`);
  if (RESTRICTED.test(text)) return malformed(`the path ${quoteValue(rawPath)} decodes to a control character`);
  return text;
}
