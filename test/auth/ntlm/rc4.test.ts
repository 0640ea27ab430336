/** RC4 against RFC 6229 §2 (the key lengths NTLM can use) and its defining properties. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rc4 } from '../../../src/auth/ntlm/rc4.js';

const keystream = (key: string, length: number) => rc4(Buffer.from(key, 'hex'), Buffer.alloc(length));

// RFC 6229 §2, "Key length: 40 bits / 128 bits", keystream at the listed offsets (DEC).
const RFC6229: Record<string, [number, string][]> = {
  '0102030405': [
    [0, 'b2396305f03dc027ccc3524a0a1118a8'],
    [16, '6982944f18fc82d589c403a47a0d0919'],
    [240, '28cb1132c96ce286421dcaadb8b69eae'],
    [256, '1cfcf62b03eddb641d77dfcf7f8d8c93'],
    [4080, '068326a2118416d21f9d04b2cd1ca050'],
    [4096, 'ff25b58995996707e51fbdf08b34d875'],
  ],
  '0102030405060708090a0b0c0d0e0f10': [
    [0, '9ac7cc9a609d1ef7b2932899cde41b97'],
    [16, '5248c4959014126a6e8a84f11d1a9e1c'],
    [240, '065902e4b620f6cc36c8589f66432f2b'],
    [256, 'd39d566bc6bce3010768151549f3873f'],
    [4080, 'ff38265c1642c1abe8d3c2fe5e572bf8'],
    [4096, 'a36a4c301ae8ac13610ccbc12256cacc'],
  ],
};

test('RFC 6229 §2: 40-bit and 128-bit keys, offsets 0 to 4096', () => {
  for (const [key, rows] of Object.entries(RFC6229)) {
    const stream = keystream(key, 4112);
    for (const [offset, expected] of rows) {
      assert.equal(stream.subarray(offset, offset + 16).toString('hex'), expected, `key ${key} offset ${offset}`);
    }
  }
});

test('the MS-NLMP key exchange: RC4(SessionBaseKey, EncryptedRandomSessionKey) gives 55…55 (§4.2.4.2.3)', () => {
  const sessionBaseKey = Buffer.from('8de40ccadbc14a82f15cb0ad0de95ca3', 'hex');
  const encrypted = Buffer.from('c5dad2544fc9799094ce1ce90bc9d03e', 'hex');
  assert.equal(rc4(sessionBaseKey, encrypted).toString('hex'), '55'.repeat(16));
  assert.deepEqual(rc4(sessionBaseKey, Buffer.alloc(16, 0x55)), encrypted);
});

test('an empty or oversized key is a programming error (RangeError); empty data gives empty output', () => {
  assert.throws(() => rc4(new Uint8Array(0), Buffer.from('x')), RangeError);
  assert.throws(() => rc4(new Uint8Array(257), Buffer.from('x')), RangeError);
  assert.equal(rc4(Buffer.from([1]), new Uint8Array(0)).length, 0);
  assert.equal(rc4(new Uint8Array(256), Buffer.alloc(4)).length, 4);
});

test('property: RC4 is its own inverse, keeps the length, does not modify its input, and is a keystream XOR', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 256 }), fc.uint8Array({ maxLength: 600 }), (key, data) => {
      const before = Buffer.from(data);
      const enc = rc4(key, data);
      assert.equal(enc.length, data.length);
      assert.deepEqual(rc4(key, enc), Buffer.from(data));
      assert.deepEqual(Buffer.from(data), before);
      const ks = rc4(key, new Uint8Array(data.length));
      assert.deepEqual(enc, Buffer.from(data.map((b, i) => b ^ ks[i]!)));
    }),
    { numRuns: 300 },
  );
});
