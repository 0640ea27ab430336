/**
 * The Authorization header (RFC 9110 §11.6.2): `scheme token68` or `scheme auth-param, …`. Parsed once, here; each
 * scheme's provider reads the part it understands. Bad input is a value, never an exception.
 */
import { httpError, Win32, type HttpError } from '../pipeline/errors.js';

export interface Credentials {
  /** The scheme as sent, and lower-cased for matching. */
  readonly scheme: string;
  readonly schemeLower: string;
  /** Everything after the scheme and its separating space(s). */
  readonly rest: string;
}

/** Larger than any legitimate credential (Kerberos tickets with big PACs reach ~12 KiB as base64). */
export const MAX_AUTHORIZATION_BYTES = 16 * 1024;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function parseAuthorization(header: string | string[] | undefined): Credentials | HttpError | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) return httpError(400, 0, 'the request holds more than one Authorization header', Win32.INVALID_PARAMETER);
  if (header.length > MAX_AUTHORIZATION_BYTES) return httpError(400, 0, `the Authorization header is longer than ${MAX_AUTHORIZATION_BYTES} bytes`, Win32.INVALID_PARAMETER);
  const trimmed = header.trim();
  const space = trimmed.search(/[ \t]/);
  const scheme = space < 0 ? trimmed : trimmed.slice(0, space);
  if (!TOKEN.test(scheme)) return httpError(400, 0, 'the Authorization header does not start with an authentication scheme', Win32.INVALID_PARAMETER);
  return { scheme, schemeLower: scheme.toLowerCase(), rest: space < 0 ? '' : trimmed.slice(space).trim() };
}
