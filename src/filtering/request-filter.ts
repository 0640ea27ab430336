/**
 * IIS 7+ request filtering (`system.webServer/security/requestFiltering`), as a pure function of the parsed
 * request and the effective rules for its URL.
 *
 * Rules run in IIS's order and the first refusal wins, so the substatus a client sees is the one IIS would give.
 * IIS logs these refusals with sc-win32-status 0: the request was refused by policy, no Windows call failed.
 * Every reason names the rule and the offending value, so an operator reading the log knows what to change.
 */
import { httpError, Win32, type HttpError } from '../pipeline/errors.js';
import type { Settings } from '../config/schema.js';
import { quoteValue } from './quote.js';
import type { ParsedTarget } from './target.js';

export type RequestFilteringRules = Settings['requestFiltering'];

export interface FilterInput {
  readonly method: string;
  readonly target: ParsedTarget;
  /** Node's req.headers (lower-case names). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** From Content-Length; undefined when absent or chunked (then bodyLimitExceeded guards the stream). */
  readonly contentLength: number | undefined;
}

function refuse(status: number, substatus: number, reason: string): HttpError {
  return httpError(status, substatus, reason, Win32.SUCCESS);
}

/**
 * The part of the verdict that depends only on the path and the rules: cached with the URL's resolution, so a
 * repeated URL is not checked again. `beforeQuery` holds the rules IIS applies before the query string (404.11,
 * 404.12, 404.14), `afterVerb` those it applies after the verb (404.7, 404.8, 404.5).
 */
export interface PathVerdict {
  readonly beforeQuery: HttpError | null;
  readonly afterVerb: HttpError | null;
}

export function checkPath(target: ParsedTarget, rules: RequestFilteringRules): PathVerdict {
  let beforeQuery: HttpError | null = null;
  if (target.doubleEscaped && !rules.allowDoubleEscaping) {
    beforeQuery = refuse(404, 11, `allowDoubleEscaping is false and the path ${quoteValue(target.rawPath)} still holds a %XX escape after decoding`);
  } else if (target.highBit && !rules.allowHighBitCharacters) {
    beforeQuery = refuse(404, 12, `allowHighBitCharacters is false and the path ${quoteValue(target.path)} holds non-ASCII characters`);
  } else {
    const urlBytes = Buffer.byteLength(target.rawPath, 'utf8');
    if (urlBytes > rules.maxUrl) beforeQuery = refuse(404, 14, `maxUrl is ${rules.maxUrl} bytes and the path ${quoteValue(target.rawPath)} has ${urlBytes}`);
  }
  return { beforeQuery, afterVerb: checkExtension(target, rules) ?? checkHiddenSegments(target, rules) ?? checkUrlSequences(target, rules) };
}

export function checkRequestFiltering(input: FilterInput, rules: RequestFilteringRules, path: PathVerdict = checkPath(input.target, rules)): HttpError | null {
  if (path.beforeQuery) return path.beforeQuery;
  const { target } = input;
  if (target.rawQuery.length > 0) {
    const queryBytes = Buffer.byteLength(target.rawQuery, 'utf8');
    if (queryBytes > rules.maxQueryString) {
      return refuse(404, 15, `maxQueryString is ${rules.maxQueryString} bytes and the query string ${quoteValue(target.rawQuery)} has ${queryBytes}`);
    }
  }
  if (input.contentLength !== undefined && input.contentLength > rules.maxAllowedContentLength) {
    return contentTooLong(input.contentLength, rules, 'Content-Length is');
  }
  return checkVerb(input.method, rules) ?? path.afterVerb ?? checkHeaderLimits(input.headers, rules);
}

/** For bodies whose length is not announced (chunked): call as bytes arrive; refuse once past the limit. */
export function bodyLimitExceeded(bytesSoFar: number, rules: RequestFilteringRules): HttpError | null {
  return bytesSoFar > rules.maxAllowedContentLength ? contentTooLong(bytesSoFar, rules, 'the body has reached') : null;
}

function contentTooLong(bytes: number, rules: RequestFilteringRules, what: string): HttpError {
  return refuse(413, 1, `maxAllowedContentLength is ${rules.maxAllowedContentLength} bytes and ${what} ${bytes}`);
}

/**
 * Deny wins; then an allowed verb passes even when allowUnlisted is false; then allowUnlisted decides.
 * Compared case-insensitively, as IIS compares configuration names: a denied `TRACE` is denied in any spelling.
 */
function checkVerb(method: string, rules: RequestFilteringRules): HttpError | null {
  const { verbs } = rules;
  if (verbs.allowUnlisted && verbs.deny.length === 0) return null;
  const verb = method.toUpperCase();
  if (verbs.deny.some((v) => v.toUpperCase() === verb)) {
    return refuse(404, 6, `the verb ${quoteValue(method)} is in verbs.deny`);
  }
  if (verbs.allow.some((v) => v.toUpperCase() === verb) || verbs.allowUnlisted) return null;
  return refuse(404, 6, `verbs.allowUnlisted is false and the verb ${quoteValue(method)} is not in verbs.allow`);
}

/**
 * The extension of the last segment, from its last '.', lower-cased. A URL without one (`/`, `/folder/`,
 * `/README`) has the extension '.', as in IIS, where `<add fileExtension="." …>` is how extensionless URLs are
 * allowed or denied. A trailing slash names a folder, so the last segment's dots do not count.
 */
export function extensionOf(target: ParsedTarget): string {
  const last = target.segments[target.segments.length - 1];
  if (last === undefined || target.trailingSlash) return '.';
  const dot = last.lastIndexOf('.');
  return dot < 0 ? '.' : last.slice(dot).toLowerCase();
}

function checkExtension(target: ParsedTarget, rules: RequestFilteringRules): HttpError | null {
  const extension = extensionOf(target);
  const { fileExtensions } = rules;
  if (fileExtensions.deny.some((e) => e.toLowerCase() === extension)) {
    return refuse(404, 7, `the file extension ${quoteValue(extension)} of ${quoteValue(target.path)} is in fileExtensions.deny`);
  }
  if (fileExtensions.allow.some((e) => e.toLowerCase() === extension) || fileExtensions.allowUnlisted) return null;
  return refuse(404, 7, `fileExtensions.allowUnlisted is false and the file extension ${quoteValue(extension)} of ${quoteValue(target.path)} is not in fileExtensions.allow`);
}

// The rules objects are immutable per configuration generation: derived lookup tables are made once per object.
const hiddenSets = new WeakMap<readonly string[], ReadonlySet<string>>();
const headerLimitMaps = new WeakMap<object, ReadonlyMap<string, number>>();

function checkHiddenSegments(target: ParsedTarget, rules: RequestFilteringRules): HttpError | null {
  if (rules.hiddenSegments.length === 0) return null;
  let hidden = hiddenSets.get(rules.hiddenSegments);
  if (!hidden) hiddenSets.set(rules.hiddenSegments, (hidden = new Set(rules.hiddenSegments.map((s) => s.toLowerCase()))));
  const found = target.segments.find((s) => hidden.has(s.toLowerCase()));
  return found === undefined ? null : refuse(404, 8, `the path ${quoteValue(target.path)} holds the segment ${quoteValue(found)}, which is in hiddenSegments`);
}

/** Both spellings are searched, so a sequence cannot be hidden by encoding it nor by letting '..' resolve it away. */
function checkUrlSequences(target: ParsedTarget, rules: RequestFilteringRules): HttpError | null {
  if (rules.denyUrlSequences.length === 0) return null;
  const decoded = target.path.toLowerCase();
  const raw = target.rawPath.toLowerCase();
  for (const sequence of rules.denyUrlSequences) {
    const needle = sequence.toLowerCase();
    if (decoded.includes(needle) || raw.includes(needle)) {
      return refuse(404, 5, `the path ${quoteValue(target.rawPath)} holds ${quoteValue(sequence)}, which is in denyUrlSequences`);
    }
  }
  return null;
}

/**
 * Node joins most repeated headers into one value with ', ' and gives arrays only for a few (set-cookie);
 * each value Node hands over is measured on its own. Node decodes header bytes as latin1, so a byte ≥ 0x80
 * counts two UTF-8 bytes here: the measure can only err towards refusing.
 */
function checkHeaderLimits(headers: FilterInput['headers'], rules: RequestFilteringRules): HttpError | null {
  let limits = headerLimitMaps.get(rules.headerLimits);
  if (!limits) headerLimitMaps.set(rules.headerLimits, (limits = new Map(Object.entries(rules.headerLimits).map(([n, l]) => [n.toLowerCase(), l]))));
  if (limits.size === 0) return null;
  for (const [name, value] of Object.entries(headers)) {
    const limit = limits.get(name.toLowerCase());
    if (limit === undefined || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      const bytes = Buffer.byteLength(one, 'utf8');
      if (bytes > limit) {
        return refuse(431, 0, `headerLimits allows ${limit} bytes for ${quoteValue(name)} and its value ${quoteValue(one)} has ${bytes}`);
      }
    }
  }
  return null;
}
