/**
 * Parsing a keep-alive client's next Digest header from its previous one. A client reusing its nonce sends the same
 * header each time except for two values: the nonce count (8 hex digits) and the response (hex). When a header
 * differs from the connection's previous one only inside those two values, its parse is the previous parse with the
 * two values replaced — the full parser (a regular expression per parameter, the largest part of a Digest request's
 * cost) is skipped.
 *
 * Why that is exact: the two spans hold hex digits in both headers, characters that are token and quoted-string
 * characters alike, so the header's structure (parameter names, quoting, separators) cannot differ. Where the spans
 * are is not guessed: a template is made only after a probe — the header with other hex digits in both spans — is
 * parsed in full and comes out with exactly those two values changed and everything else equal.
 */
import { parseDigestAuthorization, isDigestError, type DigestCredentials } from './authorization.js';

export interface DigestTemplate {
  readonly text: string;
  readonly credentials: DigestCredentials;
  readonly ncAt: number;
  readonly responseAt: number;
}

const HEX = /^[0-9a-fA-F]+$/;

function span(text: string, needle: string): number {
  const at = text.indexOf(needle);
  return at >= 0 && text.indexOf(needle, at + 1) < 0 ? at : -1;
}

function replaced(text: string, at: number, value: string): string {
  return text.slice(0, at) + value + text.slice(at + value.length);
}

function sameExcept(a: DigestCredentials, b: DigestCredentials): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    if (key === 'nc' || key === 'ncText' || key === 'response') continue;
    if (a[key as keyof DigestCredentials] !== b[key as keyof DigestCredentials]) return false;
  }
  return true;
}

/** A template for `text` (whose full parse is `credentials`), or undefined when its spans cannot be proven. */
export function digestTemplate(text: string, credentials: DigestCredentials): DigestTemplate | undefined {
  const ncText = credentials.ncText;
  const response = credentials.response;
  if (ncText === undefined || response.length === 0 || !HEX.test(response)) return undefined;
  const ncAt = span(text, `nc=${ncText}`);
  const responseAt = span(text, `response="${response}"`);
  if (ncAt < 0 || responseAt < 0) return undefined;
  const template = { text, credentials, ncAt: ncAt + 'nc='.length, responseAt: responseAt + 'response="'.length };
  // The probe: other hex digits in both spans must change exactly nc and response.
  const probeNc = ncText === 'fedcba98' ? '89abcdef' : 'fedcba98';
  const probeResponse = (response[0] === 'e' ? 'd' : 'e').repeat(response.length);
  const probe = parseDigestAuthorization(replaced(replaced(text, template.ncAt, probeNc), template.responseAt, probeResponse));
  if (isDigestError(probe) || probe.ncText !== probeNc || probe.response !== probeResponse || !sameExcept(probe, credentials)) return undefined;
  return template;
}

/**
 * The nonce count and response of `text` when it differs from the template's text only within those two spans
 * (the count 8 hex digits, not zero); else undefined. The response is not checked: callers do (reparse with the
 * parser's rule, the session fast path by decoding it).
 */
export function changedValues(template: DigestTemplate, text: string): { ncText: string; nc: number; response: string } | undefined {
  const t = template.text;
  if (text.length !== t.length) return undefined;
  const ncEnd = template.ncAt + 8;
  const responseEnd = template.responseAt + template.credentials.response.length;
  const [firstAt, firstEnd, secondAt, secondEnd] = template.ncAt < template.responseAt ? [template.ncAt, ncEnd, template.responseAt, responseEnd] : [template.responseAt, responseEnd, template.ncAt, ncEnd];
  if (text.slice(0, firstAt) !== t.slice(0, firstAt) || text.slice(firstEnd, secondAt) !== t.slice(firstEnd, secondAt) || text.slice(secondEnd) !== t.slice(secondEnd)) return undefined;
  const ncText = text.slice(template.ncAt, ncEnd);
  const response = text.slice(template.responseAt, responseEnd);
  if (!HEX.test(ncText)) return undefined;
  const nc = parseInt(ncText, 16);
  // The parser refuses 00000000: so does this (the full parse then says why).
  if (nc === 0) return undefined;
  return { ncText, nc, response };
}

/** The parse of `text` when it differs from the template's only within the nc and response spans; else undefined. */
export function reparse(template: DigestTemplate, text: string): DigestCredentials | undefined {
  const values = changedValues(template, text);
  return values && HEX.test(values.response) ? { ...template.credentials, ...values } : undefined;
}
