/**
 * Single DES (FIPS 46-3) and DESL (MS-NLMP §6), the block cipher of the NTLMv1 response (§3.3.1).
 *
 * Why this way: Node 20's OpenSSL 3 moved single DES ('des-ecb') to the legacy provider, which Persona never loads
 * (`--openssl-legacy-provider` loosens every algorithm process-wide). Two-key Triple DES ('des-ede-ecb') is in the
 * default provider, and with K1 = K2 it *is* single DES: EDE computes E_K1(D_K2(E_K1(x))), and D_K(E_K(x)) = x.
 * OpenSSL schedules Triple DES keys without the weak-key check, which DESL needs: the third DESL key of a hash ending
 * in two zero bytes is the all-zero weak key. The test runs the NBS/NIST known-answer tables (weak keys included)
 * through this path, so a runtime where the trick failed would be caught there, not at a login.
 *
 * DES is broken (56-bit keys); it is here only because NTLMv1 is defined with it, and NTLMv1 is off by default.
 */
import { createCipheriv } from 'node:crypto';

export const DES_BLOCK_LENGTH = 8;

/** Sets the low bit of a byte so that it holds an odd number of 1 bits (FIPS 46-3 key parity). */
function withOddParity(byte: number): number {
  const high = byte & 0xfe;
  let ones = 0;
  for (let b = high; b !== 0; b >>= 1) ones += b & 1;
  return high | (ones % 2 === 0 ? 1 : 0);
}

/**
 * MS-NLMP §6 DES(K, D) takes a 7-byte key: its 56 bits, most significant first, become the 7 high bits of each of
 * 8 bytes, and the low bit of each byte is set for odd parity (DES ignores it; it is set so the key is the standard
 * form other implementations print).
 */
export function expandDesKey(key7: Uint8Array): Buffer {
  if (key7.length !== 7) throw new RangeError(`a 7-byte DES key was expected, got ${key7.length} bytes`);
  const k = key7;
  const out = Buffer.alloc(8);
  out[0] = withOddParity(k[0]!);
  for (let i = 1; i < 7; i++) out[i] = withOddParity(((k[i - 1]! << (8 - i)) | (k[i]! >> i)) & 0xff);
  out[7] = withOddParity((k[6]! << 1) & 0xff);
  return out;
}

/**
 * Encrypts one 8-byte block with single DES. The key is 7 bytes (expanded as §6 says) or 8 bytes (parity bits
 * ignored). Wrong sizes are programming errors — callers check untrusted lengths first — so they throw RangeError.
 */
export function desEncryptBlock(key: Uint8Array, block: Uint8Array): Buffer {
  if (block.length !== DES_BLOCK_LENGTH) throw new RangeError(`DES encrypts 8-byte blocks, got ${block.length} bytes`);
  let key8: Buffer;
  if (key.length === 7) key8 = expandDesKey(key);
  else if (key.length === 8) key8 = Buffer.from(key);
  else throw new RangeError(`a DES key holds 7 or 8 bytes, got ${key.length}`);
  // K1 = K2: Triple DES collapses to single DES (see the file comment).
  const cipher = createCipheriv('des-ede-ecb', Buffer.concat([key8, key8]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

/**
 * DESL(K, D) = DES(K[0..6], D) ‖ DES(K[7..13], D) ‖ DES(K[14..15] ‖ Z(5), D): the 16-byte key padded with zeros to
 * 21 bytes and cut into three 7-byte DES keys, each encrypting the same 8-byte block; 24 bytes out.
 */
export function desl(key16: Uint8Array, data8: Uint8Array): Buffer {
  if (key16.length !== 16) throw new RangeError(`DESL takes a 16-byte key, got ${key16.length} bytes`);
  if (data8.length !== DES_BLOCK_LENGTH) throw new RangeError(`DESL encrypts an 8-byte block, got ${data8.length} bytes`);
  const k = Buffer.alloc(21);
  k.set(key16);
  return Buffer.concat([
    desEncryptBlock(k.subarray(0, 7), data8),
    desEncryptBlock(k.subarray(7, 14), data8),
    desEncryptBlock(k.subarray(14, 21), data8),
  ]);
}
