/**
 * RC4 (ARCFOUR), as MS-NLMP §3.4 uses it: RC4K(key, data) with a fresh key schedule for every call.
 *
 * Why our own code: Node 20's OpenSSL 3 offers RC4 only through the legacy provider, which we never load.
 * RC4 is a broken cipher; NTLM needs it only to unwrap the EncryptedRandomSessionKey under KEY_EXCH
 * (MS-NLMP §3.2.5.1.2). Encryption and decryption are the same operation.
 */

/**
 * Returns data XOR the RC4 keystream of `key`. The key must hold 1 to 256 bytes (RFC 6229 keys: 40–256 bits;
 * NTLM always passes 16). An empty or oversized key is a programming error, not untrusted input, so it throws.
 */
export function rc4(key: Uint8Array, data: Uint8Array): Buffer {
  if (key.length < 1 || key.length > 256) throw new RangeError(`RC4 key must hold 1 to 256 bytes, got ${key.length}`);
  const s = new Uint8Array(256);
  for (let i = 0; i < 256; i++) s[i] = i;
  // Key-scheduling algorithm.
  let j = 0;
  for (let i = 0; i < 256; i++) {
    const si = s[i]!;
    j = (j + si + key[i % key.length]!) & 0xff;
    s[i] = s[j]!;
    s[j] = si;
  }
  // Pseudo-random generation, XORed into a copy of the data.
  const out = Buffer.alloc(data.length);
  let i = 0;
  j = 0;
  for (let n = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    const si = s[i]!;
    j = (j + si) & 0xff;
    const sj = s[j]!;
    s[i] = sj;
    s[j] = si;
    out[n] = data[n]! ^ s[(si + sj) & 0xff]!;
  }
  return out;
}
