/**
 * The first-line password reader on arbitrary bytes (stdin is untrusted input): it never throws, takes exactly the
 * first line (LF or CRLF), refuses what is not UTF-8 or is too long, and does not depend on how the bytes are split.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { MAX_PASSWORD_BYTES, readFirstLine, readNewPassword } from '../../src/cli/password-input.js';

const stream = (chunks: readonly Uint8Array[]): Readable => Readable.from(chunks.filter((c) => c.length > 0).map((c) => Buffer.from(c)), { objectMode: false });

/** What the reader must answer, written independently: the bytes before the first LF, one trailing CR dropped. */
function expected(bytes: Buffer, max = MAX_PASSWORD_BYTES): { password: string } | 'error' {
  const lf = bytes.indexOf(0x0a);
  let line = lf === -1 ? bytes : bytes.subarray(0, lf);
  if (line.length > max) return 'error';
  if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
  try {
    return { password: new TextDecoder('utf-8', { fatal: true }).decode(line) };
  } catch {
    return 'error';
  }
}

/** Splits bytes at the given cut points. */
const split = (bytes: Buffer, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    out.push(bytes.subarray(start, p));
    start = p;
  }
  out.push(bytes.subarray(start));
  return out;
};

describe('readFirstLine', () => {
  test('arbitrary bytes, arbitrarily chunked: never throws, answers the first line or an error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(400), { maxLength: 6 }), async (raw, cuts) => {
        const bytes = Buffer.from(raw);
        const result = await readFirstLine(stream(split(bytes, cuts)));
        const want = expected(bytes);
        if (want === 'error') assert.ok('error' in result, JSON.stringify(result));
        else assert.deepEqual(result, want);
      }),
      { numRuns: 2000 },
    );
  });

  test('any text line followed by anything: the password is the line, whatever follows', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 80 }).filter((s) => !s.includes('\n') && !s.endsWith('\r')), fc.string(), fc.boolean(), async (line, rest, crlf) => {
        const bytes = Buffer.from(`${line}${crlf ? '\r\n' : '\n'}${rest}`, 'utf8');
        assert.deepEqual(await readFirstLine(stream([bytes])), { password: line });
      }),
      { numRuns: 1000 },
    );
  });

  test('the size bound applies to the line, not to what follows it', async () => {
    const long = 'a'.repeat(MAX_PASSWORD_BYTES + 1);
    assert.ok('error' in (await readFirstLine(stream([Buffer.from(long + '\n')]))));
    assert.deepEqual(await readFirstLine(stream([Buffer.from('short\n' + long)])), { password: 'short' });
    assert.deepEqual(await readFirstLine(stream([Buffer.from('a'.repeat(MAX_PASSWORD_BYTES))])), { password: 'a'.repeat(MAX_PASSWORD_BYTES) });
  });

  test('a stream that ends before any byte, or fails, is an error value, not an exception', async () => {
    assert.deepEqual(await readFirstLine(stream([])), { password: '' });
    const failing = new Readable({
      read() {
        this.destroy(new Error('EIO'));
      },
    });
    const r = await readFirstLine(failing);
    assert.ok('error' in r && /EIO/.test(r.error));
  });
});

describe('readNewPassword from a non-terminal', () => {
  test('an empty first line is refused with a message', async () => {
    for (const input of ['', '\n', '\r\n', '\nsecond']) {
      const r = await readNewPassword('x', stream([Buffer.from(input)]));
      assert.ok('error' in r && /empty password is refused/.test(r.error), input);
    }
    assert.deepEqual(await readNewPassword('x', stream([Buffer.from(' \n')])), { password: ' ' });
  });
});
