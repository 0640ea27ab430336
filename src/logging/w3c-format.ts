import type { W3cField } from '../config/schema.js';

/** One finished request as the W3C extended log sees it. */
export interface W3cRecord {
  readonly end: Date; // when the response finished; date/time fields are written in UTC, as IIS does
  readonly siteName: string;
  readonly computerName: string;
  readonly serverIp: string;
  readonly serverPort: number;
  readonly clientIp: string;
  readonly method: string;
  readonly uriStem: string;
  readonly uriQuery: string; // without the '?'
  readonly username: string; // '' for anonymous
  readonly version: string; // e.g. 'HTTP/1.1'
  readonly userAgent?: string;
  readonly cookie?: string;
  readonly referer?: string;
  readonly host?: string;
  readonly status: number;
  readonly substatus: number;
  readonly win32Status: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly timeTakenMs: number;
  readonly traceId?: string;
}

/** IIS 7+ default field set, in the order IIS writes it. */
export const DEFAULT_W3C_FIELDS: readonly W3cField[] = [
  'date', 'time', 's-ip', 'cs-method', 'cs-uri-stem', 'cs-uri-query', 's-port', 'cs-username', 'c-ip',
  'cs(User-Agent)', 'cs(Referer)', 'sc-status', 'sc-substatus', 'sc-win32-status', 'time-taken',
];

// Printable ASCII without space and '"': the common case, returned untouched.
const CLEAN = /^[\x21\x23-\x7e]+$/;
// Same plus space: only needs the IIS space → '+' substitution.
const CLEAN_WITH_SPACES = /^[\x20\x21\x23-\x7e]+$/;
const HEX = '0123456789ABCDEF';

function pct(byte: number): string {
  return '%' + HEX[byte >> 4]! + HEX[byte & 15]!;
}

// Values that need work are mostly headers repeated request after request (User-Agent, Referer), so escaped
// forms are remembered; the cache is bounded and simply emptied when full, so random values cannot grow it.
const ESCAPED = new Map<string, string>();
const CACHE_MAX_ENTRIES = 4096;
const CACHE_MAX_LENGTH = 1024;

/**
 * Makes one log value: '-' when empty, spaces as '+' (IIS), and every control character, '"' and non-ASCII
 * character percent-encoded (UTF-8) so that no value can contain a separator or a line break — a hostile
 * User-Agent must never be able to forge a second record or a directive. '%' and '+' stay literal, as in IIS
 * logs, so the encoding is not reversible; it only guarantees the line structure.
 */
export function escapeW3cValue(value: string | undefined): string {
  if (value === undefined || value === null || value === '') return '-';
  if (typeof value !== 'string') value = String(value);
  if (CLEAN.test(value)) return value;
  const cacheable = value.length <= CACHE_MAX_LENGTH;
  if (cacheable) {
    const hit = ESCAPED.get(value);
    if (hit !== undefined) return hit;
  }
  const out = CLEAN_WITH_SPACES.test(value) ? spacesToPlus(value) : percentEncode(value);
  if (cacheable) {
    if (ESCAPED.size >= CACHE_MAX_ENTRIES) ESCAPED.clear();
    ESCAPED.set(value, out);
  }
  return out;
}

// indexOf + slices: several times faster than replaceAll for header-sized strings.
function spacesToPlus(value: string): string {
  let out = '';
  let from = 0;
  let at = value.indexOf(' ');
  while (at !== -1) {
    out += value.slice(from, at) + '+';
    from = at + 1;
    at = value.indexOf(' ', from);
  }
  return out + value.slice(from);
}

function percentEncode(value: string): string {
  let out = '';
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x20) out += '+';
    else if (c > 0x20 && c < 0x7f && c !== 0x22) out += value[i]!;
    else if (c < 0x80) out += pct(c);
    else {
      let cp = c;
      if (c >= 0xd800 && c <= 0xdbff) {
        const next = i + 1 < n ? value.charCodeAt(i + 1) : 0;
        if (next >= 0xdc00 && next <= 0xdfff) {
          cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
        } else cp = 0xfffd; // a lone surrogate has no UTF-8 form
      } else if (c >= 0xdc00 && c <= 0xdfff) cp = 0xfffd;
      if (cp < 0x800) out += pct(0xc0 | (cp >> 6)) + pct(0x80 | (cp & 63));
      else if (cp < 0x10000) out += pct(0xe0 | (cp >> 12)) + pct(0x80 | ((cp >> 6) & 63)) + pct(0x80 | (cp & 63));
      else {
        out += pct(0xf0 | (cp >> 18)) + pct(0x80 | ((cp >> 12) & 63)) + pct(0x80 | ((cp >> 6) & 63)) + pct(0x80 | (cp & 63));
      }
    }
  }
  return out;
}

function num(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value)) : '-';
}

// date and time change once a second while thousands of lines are written; cache the strings.
let cachedSecond = NaN;
let cachedDate = '-';
let cachedTime = '-';

function two(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function refreshClock(end: Date): boolean {
  const ms = end instanceof Date ? end.getTime() : NaN;
  if (!Number.isFinite(ms)) return false;
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedDate = formatW3cDate(end);
    cachedTime = two(end.getUTCHours()) + ':' + two(end.getUTCMinutes()) + ':' + two(end.getUTCSeconds());
  }
  return true;
}

/** yyyy-mm-dd in UTC. */
export function formatW3cDate(d: Date): string {
  return d.getUTCFullYear() + '-' + two(d.getUTCMonth() + 1) + '-' + two(d.getUTCDate());
}

/** yyyy-mm-dd hh:mm:ss in UTC, as in the #Date directive. */
export function formatW3cDateTime(d: Date): string {
  return formatW3cDate(d) + ' ' + two(d.getUTCHours()) + ':' + two(d.getUTCMinutes()) + ':' + two(d.getUTCSeconds());
}

type Getter = (r: W3cRecord) => string;

const GETTERS: Record<W3cField, Getter> = {
  'date': (r) => (refreshClock(r.end) ? cachedDate : '-'),
  'time': (r) => (refreshClock(r.end) ? cachedTime : '-'),
  's-sitename': (r) => escapeW3cValue(r.siteName),
  's-computername': (r) => escapeW3cValue(r.computerName),
  's-ip': (r) => escapeW3cValue(r.serverIp),
  'cs-method': (r) => escapeW3cValue(r.method),
  'cs-uri-stem': (r) => escapeW3cValue(r.uriStem),
  'cs-uri-query': (r) => escapeW3cValue(r.uriQuery),
  's-port': (r) => num(r.serverPort),
  'cs-username': (r) => escapeW3cValue(r.username),
  'c-ip': (r) => escapeW3cValue(r.clientIp),
  'cs-version': (r) => escapeW3cValue(r.version),
  'cs(User-Agent)': (r) => escapeW3cValue(r.userAgent),
  'cs(Cookie)': (r) => escapeW3cValue(r.cookie),
  'cs(Referer)': (r) => escapeW3cValue(r.referer),
  'cs-host': (r) => escapeW3cValue(r.host),
  'sc-status': (r) => num(r.status),
  'sc-substatus': (r) => num(r.substatus),
  'sc-win32-status': (r) => num(r.win32Status),
  'sc-bytes': (r) => num(r.bytesSent),
  'cs-bytes': (r) => num(r.bytesReceived),
  'time-taken': (r) => (r.timeTakenMs >= 0 ? num(r.timeTakenMs) : '-'),
  'x-trace-id': (r) => escapeW3cValue(r.traceId),
};

const UNKNOWN: Getter = () => '-';

/** A line formatter for a fixed field list; built once per list so the hot path is a loop of concatenations. */
export type W3cFormatter = (record: W3cRecord) => string;

export function createW3cFormatter(fields: readonly W3cField[]): W3cFormatter {
  // An unknown name (possible only from untyped callers) still yields a value, keeping the column count.
  const getters = fields.map((f) => (Object.hasOwn(GETTERS, f) ? GETTERS[f] : UNKNOWN));
  const n = getters.length;
  return (record) => {
    if (n === 0) return '-';
    let line = getters[0]!(record);
    for (let i = 1; i < n; i++) line += ' ' + getters[i]!(record);
    // A record line starting with '#' would read as a directive when the first field is a client value.
    if (line.charCodeAt(0) === 0x23) line = '%23' + line.slice(1);
    return line;
  };
}
