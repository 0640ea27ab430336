/**
 * The Range request header (RFC 9110 §14.1.2, §14.2) for a representation of a known size.
 *
 * Outcomes follow the RFC: a field that does not parse, or uses another unit, is ignored (200); a valid
 * field none of whose ranges is satisfiable gets 416. Two defences from §14.3 ("many small ranges",
 * "overlapping ranges") also make the server ignore the field, since a multipart body built from them can
 * be far larger than the file itself.
 */

export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, inclusive. */
  readonly end: number;
}

export type RangeOutcome =
  | { readonly kind: 'ignore' }
  | { readonly kind: 'unsatisfiable' }
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteRange[] };

/** More ranges than this in one request is treated as abuse and the field ignored. */
export const MAX_RANGES = 100;

const IGNORE: RangeOutcome = { kind: 'ignore' };
const UNSATISFIABLE: RangeOutcome = { kind: 'unsatisfiable' };

/** Never throws; every returned range satisfies 0 <= start <= end < size. */
export function parseRange(value: string | undefined, size: number): RangeOutcome {
  if (typeof value !== 'string') return IGNORE;
  const eq = value.indexOf('=');
  if (eq < 0 || value.slice(0, eq).toLowerCase() !== 'bytes') return IGNORE;
  const ranges: ByteRange[] = [];
  let sawSuffix = false;
  let specs = 0;
  const n = value.length;
  let i = eq + 1;
  while (i < n) {
    // 1#range-spec: empty list elements and optional whitespace around commas are allowed.
    while (i < n && (value[i] === ',' || value[i] === ' ' || value[i] === '\t')) i++;
    if (i >= n) break;
    const firstStart = i;
    while (i < n && isDigit(value.charCodeAt(i))) i++;
    const first = value.slice(firstStart, i);
    if (value[i] !== '-') return IGNORE;
    i++;
    const lastStart = i;
    while (i < n && isDigit(value.charCodeAt(i))) i++;
    const last = value.slice(lastStart, i);
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
    if (i < n && value[i] !== ',') return IGNORE;
    if (++specs > MAX_RANGES) return IGNORE;

    if (first === '') {
      // suffix-range: the last N bytes; all of them if the representation is shorter.
      if (last === '') return IGNORE;
      const length = Number(last);
      if (length === 0) continue;
      sawSuffix = true;
      if (size > 0) ranges.push({ start: Math.max(0, size - length), end: size - 1 });
      continue;
    }
    if (last !== '' && compareDigits(last, first) < 0) return IGNORE;
    const start = Number(first);
    if (start >= size) continue;
    const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
    ranges.push({ start, end });
  }
  if (specs === 0) return IGNORE;
  if (ranges.length === 0) {
    // A non-zero suffix is satisfiable by definition, but an empty file has no byte to send: serve it whole.
    return size === 0 && sawSuffix ? IGNORE : UNSATISFIABLE;
  }
  if (ranges.length > 1 && overlap(ranges)) return IGNORE;
  return { kind: 'ranges', ranges };
}

/** The Content-Range of a 206 part, or of a 416 when `range` is omitted. */
export function contentRange(size: number, range?: ByteRange): string {
  return range ? `bytes ${range.start}-${range.end}/${size}` : `bytes */${size}`;
}

function overlap(ranges: readonly ByteRange[]): boolean {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (let k = 1; k < sorted.length; k++) if (sorted[k]!.start <= sorted[k - 1]!.end) return true;
  return false;
}

/** Exact comparison of decimal strings of any length (Number() loses precision past 2^53). */
function compareDigits(a: string, b: string): number {
  a = a.replace(/^0+(?=.)/, '');
  b = b.replace(/^0+(?=.)/, '');
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
