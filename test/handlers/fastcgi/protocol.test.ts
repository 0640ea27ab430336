/**
 * FastCGI records: known byte layouts from the specification, encode → decode round trips in any chunking, and
 * arbitrary bytes (what a misbehaving application may send) never making the decoder throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeEndRequest,
  decodeNameValuePairs,
  encodeBeginRequest,
  encodeNameValuePairs,
  encodeParams,
  encodeRecords,
  encodeStreamChunk,
  encodeStreamEnd,
  isProtocolError,
  RecordDecoder,
  RecordType,
  Role,
  type FastCgiRecord,
} from '../../../src/handlers/fastcgi/protocol.js';

/** Feeds `bytes` to a new decoder in pieces cut at `cuts` (positions), collecting every record. */
function decodeInPieces(bytes: Buffer, cuts: number[]): FastCgiRecord[] {
  const decoder = new RecordDecoder();
  const records: FastCgiRecord[] = [];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const at of [...points, bytes.length]) {
    const got = decoder.push(bytes.subarray(from, at));
    assert.ok(!isProtocolError(got), 'valid records decode');
    records.push(...got);
    from = at;
  }
  assert.equal(decoder.buffered, 0);
  return records;
}

test('BEGIN_REQUEST has the layout of the specification (responder, KEEP_CONN)', () => {
  assert.deepEqual([...encodeBeginRequest(1)], [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual([...encodeBeginRequest(0x1234, Role.Responder, 0)].slice(0, 11), [1, 1, 0x12, 0x34, 0, 8, 0, 0, 0, 1, 0]);
});

test('records are padded to 8 bytes and an empty record ends a stream', () => {
  const [head, content, pad] = encodeRecords(RecordType.Stdin, 1, Buffer.from('abc'));
  assert.deepEqual([...head!], [1, 5, 0, 1, 0, 3, 5, 0]);
  assert.equal(content!.toString(), 'abc');
  assert.equal(pad!.length, 5);
  assert.deepEqual([...encodeStreamEnd(RecordType.Stdin, 1)], [1, 5, 0, 1, 0, 0, 0, 0]);
  assert.equal(encodeStreamChunk(RecordType.Stdin, 1, Buffer.alloc(0)).length, 0, 'an empty chunk is not sent: it would end the stream');
});

test('content over 65535 bytes is split into several records', () => {
  const big = Buffer.alloc(150_000, 7);
  const records = decodeInPieces(Buffer.concat(encodeRecords(RecordType.Stdout, 3, big)), []);
  assert.deepEqual(records.map((r) => r.content.length), [65535, 65535, 150_000 - 2 * 65535]);
  assert.ok(Buffer.concat(records.map((r) => r.content)).equals(big));
});

test('name-value pairs use 1-byte lengths below 128 and 4-byte lengths from 128', () => {
  const short = encodeNameValuePairs({ A: 'bc' });
  assert.ok(Buffer.isBuffer(short));
  assert.deepEqual([...short], [1, 2, 0x41, 0x62, 0x63]);
  const long = encodeNameValuePairs([['N', 'x'.repeat(128)]]);
  assert.ok(Buffer.isBuffer(long));
  assert.deepEqual([...long.subarray(0, 6)], [1, 0x80, 0, 0, 128, 0x4e]);
});

test('truncated name-value pairs are errors, not exceptions', () => {
  assert.ok(isProtocolError(decodeNameValuePairs(Buffer.from([0x80, 0]))));
  assert.ok(isProtocolError(decodeNameValuePairs(Buffer.from([5, 1, 0x41]))));
  assert.ok(isProtocolError(decodeNameValuePairs(Buffer.from([1]))));
});

test('END_REQUEST: appStatus and protocolStatus; a body of the wrong size is an error', () => {
  assert.deepEqual(decodeEndRequest(Buffer.from([0, 0, 1, 2, 3, 0, 0, 0])), { appStatus: 258, protocolStatus: 3 });
  assert.ok(isProtocolError(decodeEndRequest(Buffer.alloc(7))));
});

test('a record of another FastCGI version fails the decoder, which stays failed', () => {
  const decoder = new RecordDecoder();
  const bad = decoder.push(Buffer.from([2, 6, 0, 1, 0, 0, 0, 0]));
  assert.ok(isProtocolError(bad));
  assert.match(bad.reason, /version 2/);
  assert.ok(isProtocolError(decoder.push(Buffer.concat(encodeRecords(RecordType.Stdout, 1, Buffer.from('x'))))));
});

const pairName = fc.string({ minLength: 1, maxLength: 300 });
const pairs = fc.array(fc.tuple(pairName, fc.string({ maxLength: 400 })), { maxLength: 20 });

test('property: PARAMS encode → decode round-trips in any chunking (long names and values included)', () => {
  fc.assert(
    fc.property(pairs, fc.integer({ min: 1, max: 0xffff }), fc.array(fc.nat(), { maxLength: 10 }), (list, id, cuts) => {
      const bytes = encodeParams(id, Object.fromEntries(list));
      assert.ok(Buffer.isBuffer(bytes));
      const records = decodeInPieces(bytes, cuts);
      assert.ok(records.every((r) => r.type === RecordType.Params && r.requestId === id));
      assert.equal(records.at(-1)!.content.length, 0, 'the stream ends with an empty record');
      const decoded = decodeNameValuePairs(Buffer.concat(records.map((r) => r.content)));
      assert.ok(!isProtocolError(decoded));
      assert.deepEqual(decoded, Object.entries(Object.fromEntries(list)));
    }),
  );
});

test('property: any records round-trip through the decoder in any chunking', () => {
  const record = fc.record({ type: fc.integer({ min: 1, max: 11 }), requestId: fc.integer({ min: 0, max: 0xffff }), content: fc.uint8Array({ maxLength: 3000 }) });
  fc.assert(
    fc.property(fc.array(record, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (list, cuts) => {
      const bytes = Buffer.concat(list.flatMap((r) => encodeRecords(r.type, r.requestId, Buffer.from(r.content))));
      const records = decodeInPieces(bytes, cuts);
      assert.deepEqual(
        records.map((r) => [r.type, r.requestId, [...r.content]]),
        list.map((r) => [r.type, r.requestId, [...r.content]]),
      );
    }),
  );
});

test('property: arbitrary bytes in arbitrary chunks never make the decoder throw', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (chunks) => {
      const decoder = new RecordDecoder();
      for (const chunk of chunks) {
        const got = decoder.push(Buffer.from(chunk));
        if (!isProtocolError(got)) for (const r of got) assert.ok(r.content.length <= 0xffff);
      }
      assert.ok(decoder.buffered <= 8 + 0xffff + 0xff + 200);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const got = decodeNameValuePairs(Buffer.from(bytes));
      if (!isProtocolError(got)) assert.ok(Array.isArray(got));
      const end = decodeEndRequest(Buffer.from(bytes));
      assert.equal(isProtocolError(end), bytes.length !== 8);
    }),
  );
});
