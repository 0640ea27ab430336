/**
 * Entity tags (RFC 9110 §8.8.3): the strong tag Persona generates for a file, and the parsing and
 * comparison of the tag lists clients send in If-Match / If-None-Match / If-Range.
 */

/**
 * A strong tag from the modification time (in microseconds: mtimeMs keeps sub-millisecond precision, and
 * two writes of the same size within one millisecond must still get different tags) and the size.
 */
export function etagFor(mtimeMs: number, size: number): string {
  return `"${Math.round(mtimeMs * 1000).toString(16)}-${size.toString(16)}"`;
}

export interface EntityTag {
  readonly weak: boolean;
  /** The opaque-tag with its double quotes, compared as is. */
  readonly opaque: string;
}

/** `*`, or the entity tags of a list; undefined for a field with no well-formed element. */
export type EntityTagList = '*' | readonly EntityTag[];

/**
 * Parses `"*"` or `#entity-tag`. Malformed elements are skipped rather than failing the whole field: for
 * If-None-Match that can only mean a full response instead of a 304, for If-Match a 412 instead of a
 * success, both safe. Never throws.
 */
export function parseEntityTagList(value: string | undefined): EntityTagList | undefined {
  if (typeof value !== 'string') return undefined;
  const n = value.length;
  let i = skipSpace(value, 0);
  if (value[i] === '*' && skipSpace(value, i + 1) === n) return '*';
  const tags: EntityTag[] = [];
  while (i < n) {
    while (i < n && (value[i] === ',' || value[i] === ' ' || value[i] === '\t')) i++;
    if (i >= n) break;
    let weak = false;
    if (value[i] === 'W' && value[i + 1] === '/') {
      weak = true;
      i += 2;
    }
    if (value[i] !== '"') {
      i = nextComma(value, i);
      continue;
    }
    let j = i + 1;
    while (j < n && value[j] !== '"' && isEtagChar(value.charCodeAt(j))) j++;
    if (j >= n || value[j] !== '"') {
      i = nextComma(value, j);
      continue;
    }
    const opaque = value.slice(i, j + 1);
    i = skipSpace(value, j + 1);
    if (i < n && value[i] !== ',') {
      i = nextComma(value, i);
      continue;
    }
    tags.push({ weak, opaque });
  }
  return tags.length > 0 ? tags : undefined;
}

/** Weak comparison (If-None-Match): the opaque tags are equal, whatever either's weakness. */
export function anyWeakMatch(list: EntityTagList, etag: string | undefined): boolean {
  if (list === '*') return true;
  if (etag === undefined) return false;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const tag of list) if (tag.opaque === opaque) return true;
  return false;
}

/** Strong comparison (If-Match, If-Range): neither tag is weak and the opaque tags are equal. */
export function anyStrongMatch(list: EntityTagList, etag: string | undefined): boolean {
  if (list === '*') return true;
  if (etag === undefined || etag.startsWith('W/')) return false;
  for (const tag of list) if (!tag.weak && tag.opaque === etag) return true;
  return false;
}

// etagc = %x21 / %x23-7E / obs-text (header values reach us as latin1, so obs-text is 0x80–0xFF).
function isEtagChar(c: number): boolean {
  return c === 0x21 || (c >= 0x23 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}

function skipSpace(value: string, i: number): number {
  while (i < value.length && (value[i] === ' ' || value[i] === '\t')) i++;
  return i;
}

function nextComma(value: string, i: number): number {
  const comma = value.indexOf(',', i);
  return comma < 0 ? value.length : comma + 1;
}
