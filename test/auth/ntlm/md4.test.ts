/** MD4 (RFC 1320) and the NT hash (MS-NLMP NTOWFv1): published vectors, block boundaries, arbitrary input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { md4, ntHash } from '../../../src/auth/ntlm/md4.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('RFC 1320 §A.5 test suite: all seven vectors', () => {
  const suite: [string, string][] = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
    ['1234567890'.repeat(8), 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ];
  for (const [input, digest] of suite) assert.equal(hex(md4(Buffer.from(input, 'latin1'))), digest, JSON.stringify(input));
});

test('NTOWFv1("Password") is the NT hash published in MS-NLMP §4.2.2.1.2', () => {
  assert.equal(hex(ntHash('Password')), 'a4f49c406510bdcab6824ee7c30fd852');
  // The empty password's NT hash is MD4 of no bytes (the well-known 31d6cfe0… value).
  assert.equal(hex(ntHash('')), '31d6cfe0d16ae931b73c59d7e0c089c0');
});

test('ntHash hashes UTF-16LE code units, as Windows does (non-ASCII and lone surrogates included)', () => {
  for (const pw of ['pässwörd', '密码', '\u{1F511}key', '\ud800lone']) {
    assert.deepEqual(ntHash(pw), md4(Buffer.from(pw, 'utf16le')), pw);
  }
  assert.notDeepEqual(ntHash('\ud800'), ntHash('\ufffd'), 'a lone surrogate is not replaced by U+FFFD');
});

/**
 * An independent transcription of RFC 1320 §3.4 step by step ([abcd k s] with the explicit F, G, H functions and
 * the bit length written with BigInt) — a differential oracle for lengths the RFC's suite does not reach.
 */
function referenceMd4(msg: Uint8Array): string {
  const bytes = [...msg, 0x80];
  while (bytes.length % 64 !== 56) bytes.push(0);
  let bitLen = BigInt(msg.length) * 8n;
  for (let i = 0; i < 8; i++) {
    bytes.push(Number(bitLen & 0xffn));
    bitLen >>= 8n;
  }
  const F = (x: number, y: number, z: number) => (x & y) | (~x & z);
  const G = (x: number, y: number, z: number) => (x & y) | (x & z) | (y & z);
  const H = (x: number, y: number, z: number) => x ^ y ^ z;
  const rot = (v: number, s: number) => ((v << s) | (v >>> (32 - s))) >>> 0;
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  for (let off = 0; off < bytes.length; off += 64) {
    const X: number[] = [];
    for (let i = 0; i < 16; i++) {
      const p = off + 4 * i;
      X.push((bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24)) >>> 0);
    }
    const v = [...h] as [number, number, number, number];
    const step = (fn: typeof F, add: number, ia: number, k: number, s: number) => {
      const [b, c, d] = [v[(ia + 1) % 4]!, v[(ia + 2) % 4]!, v[(ia + 3) % 4]!];
      v[ia] = rot((v[ia]! + fn(b, c, d) + X[k]! + add) >>> 0, s);
    };
    // Round 1: [ABCD 0 3] [DABC 1 7] [CDAB 2 11] [BCDA 3 19] ...
    const order = [0, 3, 2, 1];
    for (let i = 0; i < 16; i++) step(F, 0, order[i % 4]!, i, [3, 7, 11, 19][i % 4]!);
    // Round 2: [ABCD 0 3] [DABC 4 5] [CDAB 8 9] [BCDA 12 13] [ABCD 1 3] ...
    for (let i = 0; i < 16; i++) step(G, 0x5a827999, order[i % 4]!, [0, 4, 8, 12][i % 4]! + Math.floor(i / 4), [3, 5, 9, 13][i % 4]!);
    // Round 3: [ABCD 0 3] [DABC 8 9] [CDAB 4 11] [BCDA 12 15] [ABCD 2 3] ...
    const k3 = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];
    for (let i = 0; i < 16; i++) step(H, 0x6ed9eba1, order[i % 4]!, k3[i]!, [3, 9, 11, 15][i % 4]!);
    for (let i = 0; i < 4; i++) h[i] = (h[i]! + v[i]!) >>> 0;
  }
  return h.map((w) => [0, 8, 16, 24].map((s) => ((w >>> s) & 0xff).toString(16).padStart(2, '0')).join('')).join('');
}

test('the reference transcription agrees with the RFC suite (so it can judge other lengths)', () => {
  assert.equal(referenceMd4(Buffer.from('abc')), 'a448017aaf21d8525fc10ae87aa6729d');
  assert.equal(referenceMd4(Buffer.from('1234567890'.repeat(8))), 'e33b4ddc9c38f2199c3e7b164fcc0536');
});

test('padding boundaries: 55, 56, 63, 64, 65 bytes (one or two padded blocks) and their multiples', () => {
  for (const n of [0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]) {
    for (const fill of [0x00, 0x61, 0xff]) {
      const data = Buffer.alloc(n, fill);
      assert.equal(hex(md4(data)), referenceMd4(data), `${n} bytes of ${fill}`);
    }
  }
});

test('md4 reads only the view it is given (a subarray of a larger buffer)', () => {
  const big = Buffer.from('xxabcxx');
  assert.equal(hex(md4(big.subarray(2, 5))), 'a448017aaf21d8525fc10ae87aa6729d');
});

test('property: md4 of arbitrary bytes never throws, gives 16 bytes, and agrees with the reference', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
      const d = md4(data);
      assert.equal(d.length, 16);
      assert.equal(hex(d), referenceMd4(data));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (pw) => {
      assert.equal(ntHash(pw).length, 16);
    }),
    { numRuns: 500 },
  );
});
