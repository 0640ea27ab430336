/**
 * AV_PAIR lists (MS-NLMP §2.2.2.1): the TargetInfo of a CHALLENGE and the pairs inside an NTLMv2 client blob.
 * Each pair is AvId (u16 LE), AvLen (u16 LE), Value; the list ends with MsvAvEOL. Every length is checked against
 * the buffer before the value is read; pairs whose meaning fixes their size (flags, timestamp, channel bindings)
 * are refused with any other size, so later code can read them without checking again.
 */
// Type-only: erased at compile time, so messages.ts importing this file makes no runtime cycle.
import type { NtlmParseError } from './messages.js';

export const AvId = {
  MsvAvEOL: 0x0000,
  MsvAvNbComputerName: 0x0001,
  MsvAvNbDomainName: 0x0002,
  MsvAvDnsComputerName: 0x0003,
  MsvAvDnsDomainName: 0x0004,
  MsvAvDnsTreeName: 0x0005,
  MsvAvFlags: 0x0006,
  MsvAvTimestamp: 0x0007,
  MsvAvSingleHost: 0x0008,
  MsvAvTargetName: 0x0009,
  MsvAvChannelBindings: 0x000a,
} as const;

/** Bits of the MsvAvFlags value (MS-NLMP §2.2.2.1). */
export const AvFlag = {
  /** The account is constrained (Windows sets this for some guest logons). */
  CONSTRAINED: 0x00000001,
  /** The client put a MIC in the AUTHENTICATE message. */
  MIC_PRESENT: 0x00000002,
  /** The TargetName pair came from an untrusted source. */
  UNTRUSTED_SPN: 0x00000004,
} as const;

/** One pair; unknown ids are kept so a list round-trips unchanged (the NTLMv2 proof covers the bytes). */
export interface AvPair {
  readonly id: number;
  readonly value: Buffer;
}

/** Sizes the specification fixes; any other size is a malformed message, not something to guess around. */
const FIXED_SIZE: ReadonlyMap<number, number> = new Map([
  [AvId.MsvAvFlags, 4],
  [AvId.MsvAvTimestamp, 8],
  [AvId.MsvAvChannelBindings, 16],
]);

/**
 * The pairs before MsvAvEOL (EOL itself is not returned). Bytes after EOL are ignored: the NTLMv2 client blob
 * carries padding there (MS-NLMP §3.3.2 appends four zero bytes), and Windows ignores it too.
 * A list without EOL, a pair running past the buffer, or a fixed-size pair of the wrong size is an error.
 */
export function parseAvPairs(bytes: Uint8Array): AvPair[] | NtlmParseError {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pairs: AvPair[] = [];
  let at = 0;
  for (;;) {
    if (at + 4 > buf.length) return { error: `AV pair list ends at byte ${at} without MsvAvEOL` };
    const id = buf.readUInt16LE(at);
    const len = buf.readUInt16LE(at + 2);
    if (id === AvId.MsvAvEOL) return pairs;
    const start = at + 4;
    if (start + len > buf.length) return { error: `AV pair ${id} at byte ${at} claims ${len} bytes, only ${buf.length - start} remain` };
    const size = FIXED_SIZE.get(id);
    if (size !== undefined && len !== size) return { error: `AV pair ${id} must be ${size} bytes, is ${len}` };
    // A copy: the caller may keep pairs after the request buffer is reused.
    pairs.push({ id, value: Buffer.from(buf.subarray(start, start + len)) });
    at = start + len;
  }
}

/**
 * The wire form, MsvAvEOL appended (EOL entries in `pairs` are skipped so the list is never cut short).
 * A value over 65535 bytes cannot be encoded; pairs come from server configuration, so that is a programming
 * error and throws a RangeError rather than producing a message a client would misparse.
 */
export function writeAvPairs(pairs: readonly AvPair[]): Buffer {
  const parts: Buffer[] = [];
  for (const pair of pairs) {
    if (pair.id === AvId.MsvAvEOL) continue;
    if (!Number.isInteger(pair.id) || pair.id < 0 || pair.id > 0xffff) throw new RangeError(`AV pair id ${pair.id} is not a 16-bit value`);
    if (pair.value.length > 0xffff) throw new RangeError(`AV pair ${pair.id} value is ${pair.value.length} bytes; the limit is 65535`);
    const header = Buffer.alloc(4);
    header.writeUInt16LE(pair.id, 0);
    header.writeUInt16LE(pair.value.length, 2);
    parts.push(header, pair.value);
  }
  parts.push(Buffer.alloc(4)); // MsvAvEOL, length 0
  return Buffer.concat(parts);
}

/** The first pair with this id (Windows sends each at most once; the first is what Windows reads). */
export function findAvPair(pairs: readonly AvPair[], id: number): AvPair | undefined {
  return pairs.find((p) => p.id === id);
}

/** A name pair (NetBIOS/DNS names, TargetName): always UTF-16LE, whatever the message's character set. */
export function avString(id: number, value: string): AvPair {
  return { id, value: Buffer.from(value, 'utf16le') };
}

/** The text of a name pair. */
export function avPairText(pair: AvPair): string {
  return pair.value.toString('utf16le');
}

/** An MsvAvFlags pair. */
export function avFlags(flags: number): AvPair {
  const value = Buffer.alloc(4);
  value.writeUInt32LE(flags >>> 0, 0);
  return { id: AvId.MsvAvFlags, value };
}

/** The MsvAvFlags value, 0 when the pair is absent (the spec's default). parseAvPairs guarantees 4 bytes. */
export function avFlagsValue(pairs: readonly AvPair[]): number {
  const pair = findAvPair(pairs, AvId.MsvAvFlags);
  return pair && pair.value.length === 4 ? pair.value.readUInt32LE(0) : 0;
}

/** 100 ns ticks between 1601-01-01 (FILETIME's epoch) and 1970-01-01. */
const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;

/** Milliseconds since 1970 → FILETIME (100 ns ticks since 1601), the unit of MsvAvTimestamp. */
export function toFileTime(unixMs: number): bigint {
  return BigInt(Math.trunc(unixMs)) * 10_000n + FILETIME_UNIX_EPOCH;
}

/** FILETIME → milliseconds since 1970 (sub-millisecond ticks dropped). */
export function fromFileTime(fileTime: bigint): number {
  return Number((fileTime - FILETIME_UNIX_EPOCH) / 10_000n);
}

/** An MsvAvTimestamp pair. */
export function avTimestamp(fileTime: bigint): AvPair {
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(BigInt.asUintN(64, fileTime), 0);
  return { id: AvId.MsvAvTimestamp, value };
}

/** The MsvAvTimestamp value as FILETIME, if present. */
export function avTimestampValue(pairs: readonly AvPair[]): bigint | undefined {
  const pair = findAvPair(pairs, AvId.MsvAvTimestamp);
  return pair && pair.value.length === 8 ? pair.value.readBigUInt64LE(0) : undefined;
}
