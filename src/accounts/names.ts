/**
 * Account and group name rules (Windows' local account rules, MODEL.md §2) and the case-insensitive key names are
 * compared by.
 */
import { parseSid } from '../security/sid.js';

export const MAX_NAME_LENGTH = 64;

// Windows forbids these in user and group names ("/\[]:;|=,+*?<>@ and the double quote).
const FORBIDDEN = /["/\\[\]:;|=,+*?<>@]/u;

/**
 * Why `name` cannot name a user or group, or null when it can. Beyond Windows' rules we also refuse names with
 * leading or trailing white space (invisible in logs and lost by shells), lone surrogates (not storable as UTF-8),
 * and names that read as a SID (`S-1-5-…`), which resolvePrincipal would take for the SID.
 */
export function nameProblem(name: string): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'a name must not be empty';
  const length = [...name].length;
  if (length > MAX_NAME_LENGTH) return `the name "${name}" is longer than ${MAX_NAME_LENGTH} characters`;
  if (/\p{Cc}/u.test(name)) return `the name ${JSON.stringify(name)} contains a control character`;
  if (/\p{Cs}/u.test(name)) return `the name ${JSON.stringify(name)} is not valid Unicode`;
  const bad = FORBIDDEN.exec(name);
  if (bad) return `the name "${name}" contains "${bad[0]}"; names cannot contain any of "/\\[]:;|=,+*?<>@`;
  if (/^[.\s]+$/u.test(name)) return `the name "${name}" consists only of dots and spaces`;
  if (/^\s|\s$/u.test(name)) return `the name "${name}" begins or ends with white space`;
  if (parseSid(name) !== null) return `the name "${name}" reads as a SID`;
  return null;
}

/**
 * The key names are compared and made unique by: case-insensitive (as Windows) and NFC, so that `Alice`, `ALICE` and
 * a decomposed `Alicé` are one account. Folding more than Windows does only refuses look-alike names, never merges
 * two accounts.
 */
export function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase().normalize('NFC');
}
