/**
 * Basic credentials (RFC 7617): base64 of `user-id ":" password`, UTF-8 (we announce charset="UTF-8").
 * Every malformed form is refused with a reason: 400 for what is not Basic syntax at all, 401.1 for what is
 * syntactically Basic but cannot be a user name and password.
 */
import { httpError, Win32, type HttpError } from '../pipeline/errors.js';

export interface BasicCredentials {
  readonly userId: string;
  readonly password: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** A user-id or password holding these could mean different accounts to different layers (RFC 7617 §2: CTLs are forbidden). */
const CONTROL = /[\u0000-\u001f\u007f]/;

export function parseBasicCredentials(token68: string): BasicCredentials | HttpError {
  if (token68 === '') return httpError(400, 0, 'Basic credentials are missing after the scheme', Win32.INVALID_PARAMETER);
  if (token68.length % 4 !== 0 || !BASE64.test(token68)) {
    return httpError(400, 0, 'Basic credentials are not valid base64', Win32.INVALID_PARAMETER);
  }
  const bytes = Buffer.from(token68, 'base64');
  // Node's decoder is lenient; re-encoding proves the text was canonical base64 and nothing was silently dropped.
  if (bytes.toString('base64') !== token68) return httpError(400, 0, 'Basic credentials are not canonical base64', Win32.INVALID_PARAMETER);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return httpError(401, 1, 'Basic credentials are not valid UTF-8 (the server announced charset="UTF-8")', Win32.LOGON_FAILURE);
  }
  const colon = text.indexOf(':');
  if (colon < 0) return httpError(401, 1, 'Basic credentials hold no ":" between user name and password', Win32.LOGON_FAILURE);
  const userId = text.slice(0, colon);
  const password = text.slice(colon + 1);
  if (userId === '') return httpError(401, 1, 'Basic credentials have an empty user name', Win32.LOGON_FAILURE);
  if (CONTROL.test(userId) || CONTROL.test(password)) return httpError(401, 1, 'Basic credentials hold control characters (NUL, CR, LF…)', Win32.LOGON_FAILURE);
  return { userId, password };
}
