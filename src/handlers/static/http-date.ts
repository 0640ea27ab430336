/**
 * HTTP-date (RFC 9110 §5.6.7): formatting and strict parsing.
 *
 * Parsing is hand-written rather than left to Date.parse because Date.parse reads the asctime form
 * ("Sun Nov  6 08:49:37 1994", which has no zone) in the server's local time zone, accepts many shapes
 * the RFC does not, and varies between engines. A conditional header that is not a valid HTTP-date must
 * be ignored (RFC 9110 §13.1.3), so "not valid" has to be decided exactly.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const SHORT_DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const LONG_DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;

/** IMF-fixdate, the only form a sender may generate. */
export function formatHttpDate(milliseconds: number): string {
  return new Date(milliseconds).toUTCString();
}

/**
 * Seconds since the epoch for an IMF-fixdate, obsolete RFC 850 date or asctime date; undefined for
 * anything else. Never throws.
 */
export function parseHttpDate(value: string): number | undefined {
  if (typeof value !== 'string' || value.length < 24 || value.length > 40) return undefined;
  return parseImfFixdate(value) ?? parseRfc850(value) ?? parseAsctime(value);
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
function parseImfFixdate(v: string): number | undefined {
  if (v.length !== 29 || v[3] !== ',' || v[4] !== ' ' || v[7] !== ' ' || v[11] !== ' ' || v[16] !== ' ' || !v.endsWith(' GMT')) return undefined;
  if (!SHORT_DAYS.includes(v.slice(0, 3) as (typeof SHORT_DAYS)[number])) return undefined;
  const day = digits(v, 5, 2);
  const month = monthIndex(v.slice(8, 11));
  const year = digits(v, 12, 4);
  const time = timeOfDay(v, 17);
  if (day === undefined || month === undefined || year === undefined || time === undefined) return undefined;
  return toEpochSeconds(year, month, day, time);
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
function parseRfc850(v: string): number | undefined {
  const comma = v.indexOf(', ');
  if (comma < 0 || !LONG_DAYS.includes(v.slice(0, comma) as (typeof LONG_DAYS)[number])) return undefined;
  const rest = v.slice(comma + 2);
  if (rest.length !== 22 || rest[2] !== '-' || rest[6] !== '-' || rest[9] !== ' ' || !rest.endsWith(' GMT')) return undefined;
  const day = digits(rest, 0, 2);
  const month = monthIndex(rest.slice(3, 6));
  const twoDigitYear = digits(rest, 7, 2);
  const time = timeOfDay(rest, 10);
  if (day === undefined || month === undefined || twoDigitYear === undefined || time === undefined) return undefined;
  // RFC 9110 §5.6.7: a two-digit year that appears more than 50 years in the future is in the past century.
  const thisYear = new Date().getUTCFullYear();
  let year = Math.floor(thisYear / 100) * 100 + twoDigitYear;
  if (year > thisYear + 50) year -= 100;
  return toEpochSeconds(year, month, day, time);
}

// "Sun Nov  6 08:49:37 1994"
function parseAsctime(v: string): number | undefined {
  if (v.length !== 24 || v[3] !== ' ' || v[7] !== ' ' || v[10] !== ' ' || v[19] !== ' ') return undefined;
  if (!SHORT_DAYS.includes(v.slice(0, 3) as (typeof SHORT_DAYS)[number])) return undefined;
  const month = monthIndex(v.slice(4, 7));
  const day = v[8] === ' ' ? digits(v, 9, 1) : digits(v, 8, 2);
  const time = timeOfDay(v, 11);
  const year = digits(v, 20, 4);
  if (day === undefined || month === undefined || year === undefined || time === undefined) return undefined;
  return toEpochSeconds(year, month, day, time);
}

function timeOfDay(v: string, at: number): number | undefined {
  if (v[at + 2] !== ':' || v[at + 5] !== ':') return undefined;
  const h = digits(v, at, 2);
  const m = digits(v, at + 3, 2);
  const s = digits(v, at + 6, 2);
  // 60 is allowed for a leap second; it lands on the next minute, as the RFC's arithmetic implies.
  if (h === undefined || m === undefined || s === undefined || h > 23 || m > 59 || s > 60) return undefined;
  return h * 3600 + m * 60 + s;
}

function toEpochSeconds(year: number, month: number, day: number, secondsOfDay: number): number | undefined {
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  return utcMidnight(year, month, day) / 1000 + secondsOfDay;
}

// Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not.
function utcMidnight(year: number, month: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  return d.getTime();
}

function daysInMonth(year: number, month: number): number {
  return new Date(utcMidnight(year, month + 1, 0)).getUTCDate();
}

function monthIndex(name: string): number | undefined {
  const i = MONTHS.indexOf(name as (typeof MONTHS)[number]);
  return i < 0 ? undefined : i;
}

function digits(v: string, at: number, count: number): number | undefined {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    n = n * 10 + (c - 48);
  }
  return n;
}
