/**
 * Quoting of client-supplied values inside refusal reasons.
 *
 * Reasons end up in logs, traces and (for loopback clients) error pages. The value comes from an attacker,
 * so it must not be able to forge log lines (CR/LF), hide itself (bidi overrides, C1 controls) or flood the
 * log: it is cut to a fixed length and every invisible or line-breaking character is written as an escape.
 */

/** Characters kept from a value before it is cut; enough for an operator to recognise it. */
export const QUOTE_MAX_CHARS = 100;

// C0, DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates, BOM, and lone surrogates.
// With the `u` flag a valid surrogate pair is one code point, so the surrogate range only matches lone halves.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/gu;

/** `"value"`, at most QUOTE_MAX_CHARS code points of it, with invisible characters escaped and `…` when cut. */
export function quoteValue(value: string): string {
  const codePoints = Array.from(value);
  const cut = codePoints.length > QUOTE_MAX_CHARS;
  const kept = cut ? codePoints.slice(0, QUOTE_MAX_CHARS).join('') : value;
  const escaped = kept
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(INVISIBLE, (c) => {
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    });
  return `"${escaped}"${cut ? '…' : ''}`;
}
