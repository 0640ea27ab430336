/**
 * Conditional requests for GET and HEAD (RFC 9110 §13.2.2): the order in which If-Match,
 * If-Unmodified-Since, If-None-Match and If-Modified-Since are evaluated, and If-Range (§13.1.5).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { anyStrongMatch, anyWeakMatch, parseEntityTagList } from './entity-tag.js';
import { parseHttpDate } from './http-date.js';

export interface Validators {
  /** undefined when ETags are disabled: the client cannot hold one, so no tag list can match. */
  readonly etag: string | undefined;
  /** Last-Modified, in whole seconds: HTTP-dates have no finer resolution. */
  readonly lastModifiedSeconds: number;
}

export type PreconditionOutcome = 'proceed' | 'not-modified' | 'failed';

export function evaluatePreconditions(headers: IncomingHttpHeaders, validators: Validators): PreconditionOutcome {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    const list = parseEntityTagList(ifMatch);
    if (list === undefined || !anyStrongMatch(list, validators.etag)) return 'failed';
  } else {
    const ifUnmodifiedSince = headers['if-unmodified-since'];
    if (ifUnmodifiedSince !== undefined) {
      const date = parseHttpDate(ifUnmodifiedSince);
      if (date !== undefined && validators.lastModifiedSeconds > date) return 'failed';
    }
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    // A present If-None-Match decides alone, even when it does not parse: If-Modified-Since is then ignored.
    const list = parseEntityTagList(ifNoneMatch);
    return list !== undefined && anyWeakMatch(list, validators.etag) ? 'not-modified' : 'proceed';
  }
  const ifModifiedSince = headers['if-modified-since'];
  if (ifModifiedSince !== undefined) {
    const date = parseHttpDate(ifModifiedSince);
    if (date !== undefined && validators.lastModifiedSeconds <= date) return 'not-modified';
  }
  return 'proceed';
}

/**
 * Whether a Range may be honoured given If-Range. An entity tag must match strongly; a date must equal
 * Last-Modified exactly, and only counts when Last-Modified is itself strong, i.e. at least one second
 * older than now (RFC 9110 §8.8.2.2): a file written within the current second may change again unseen.
 */
export function ifRangeAllows(value: string | undefined, validators: Validators, nowMilliseconds: number): boolean {
  if (value === undefined) return true;
  const trimmed = value.trim();
  if (trimmed.startsWith('"') || trimmed.startsWith('W/')) {
    const list = parseEntityTagList(trimmed);
    return list !== undefined && list !== '*' && list.length === 1 && anyStrongMatch(list, validators.etag);
  }
  const date = parseHttpDate(trimmed);
  return date !== undefined && date === validators.lastModifiedSeconds && Math.floor(nowMilliseconds / 1000) - validators.lastModifiedSeconds >= 1;
}
