/**
 * MD4 (RFC 1320) and the NT hash (MS-NLMP §3.3.1 NTOWFv1 = MD4(UNICODE(Passwd))).
 *
 * Why our own code: Node 20's OpenSSL 3 keeps MD4 in the legacy provider only, and loading that provider
 * (`--openssl-legacy-provider`) loosens every algorithm process-wide. MD4 is broken as a general-purpose hash;
 * it is used here only because the NT hash — the password verifier NTLM is built on — is defined with it.
 * Pure, synchronous, no allocation beyond the padded copy; never throws for any input.
 */

const S1 = [3, 7, 11, 19] as const;
const S2 = [3, 5, 9, 13] as const;
const S3 = [3, 9, 11, 15] as const;
/** Round 3 visits the words in this order (RFC 1320 §3.4). */
const R3_ORDER = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15] as const;
const K2 = 0x5a827999;
const K3 = 0x6ed9eba1;

const rotl = (x: number, s: number): number => ((x << s) | (x >>> (32 - s))) >>> 0;

/** RFC 1320 §3.1–§3.2: append 0x80, zeros up to 56 mod 64, then the bit length as a 64-bit little-endian integer. */
function pad(data: Uint8Array): Uint8Array {
  const blocks = Math.floor((data.length + 8) / 64) + 1;
  const out = new Uint8Array(blocks * 64);
  out.set(data);
  out[data.length] = 0x80;
  const view = new DataView(out.buffer);
  // The length in bits can exceed 2^32; split it so no 32-bit operator truncates it.
  const bits = data.length * 8;
  view.setUint32(out.length - 8, bits % 0x1_0000_0000, true);
  view.setUint32(out.length - 4, Math.floor(bits / 0x1_0000_0000), true);
  return out;
}

export function md4(data: Uint8Array): Buffer {
  const m = pad(data);
  const view = new DataView(m.buffer, m.byteOffset, m.byteLength);
  let a = 0x67452301;
  let b = 0xefcdab89;
  let c = 0x98badcfe;
  let d = 0x10325476;
  const x = new Uint32Array(16);
  for (let off = 0; off < m.length; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = view.getUint32(off + i * 4, true);
    const aa = a;
    const bb = b;
    const cc = c;
    const dd = d;
    // Round 1: F(x,y,z) = xy ∨ ¬xz.
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + ((b & c) | (~b & d)) + x[i]!) >>> 0, S1[i % 4]!);
      a = d; d = c; c = b; b = t;
    }
    // Round 2: G(x,y,z) = xy ∨ xz ∨ yz, words in column order.
    for (let i = 0; i < 16; i++) {
      const k = (i % 4) * 4 + Math.floor(i / 4);
      const t = rotl((a + ((b & c) | (b & d) | (c & d)) + x[k]! + K2) >>> 0, S2[i % 4]!);
      a = d; d = c; c = b; b = t;
    }
    // Round 3: H(x,y,z) = x ⊕ y ⊕ z, words in bit-reversed order.
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + (b ^ c ^ d) + x[R3_ORDER[i]!]! + K3) >>> 0, S3[i % 4]!);
      a = d; d = c; c = b; b = t;
    }
    a = (a + aa) >>> 0;
    b = (b + bb) >>> 0;
    c = (c + cc) >>> 0;
    d = (d + dd) >>> 0;
  }
  const out = Buffer.alloc(16);
  out.writeUInt32LE(a, 0);
  out.writeUInt32LE(b, 4);
  out.writeUInt32LE(c, 8);
  out.writeUInt32LE(d, 12);
  return out;
}

/**
 * NTOWFv1(Passwd) = MD4(UNICODE(Passwd)) — the NT hash. UNICODE is UTF-16LE over the string's code units, as
 * Windows stores them (RPC_UNICODE_STRING): a lone surrogate is hashed as that code unit, not replaced.
 * The result is password-equivalent for NTLM: whoever holds it can answer any challenge.
 */
export function ntHash(password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'));
}
