/**
 * Stateless Digest nonces (RFC 7616 §3.3, §5.4): the nonce carries its issue time and a MAC over it, so any worker
 * holding the server key validates any nonce without shared state, and an expired one is told apart from a forged
 * one (expired → a new challenge with stale=true; forged → a plain 401).
 *
 *   nonce = base64url( time ‖ random ‖ HMAC-SHA256(key, label ‖ time ‖ random ‖ realm)[0..16] )
 *
 * - time: issue time, milliseconds since the epoch, 8 bytes big-endian.
 * - random: 12 bytes. Not needed for unforgeability, but it makes every 401 hand out a distinct nonce: nonce counts
 *   are tracked per nonce (nonce-counts.ts), and two clients given the same nonce in the same millisecond would
 *   otherwise trip over each other's counts.
 * - The MAC binds the realm: a nonce issued for one realm is invalid in another. 16 bytes (128 bits) of HMAC output
 *   is far beyond guessing range for a value checked online.
 * The key comes from the caller (the state folder's secret); it never appears in a nonce.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const TIME_BYTES = 8;
const RANDOM_BYTES = 12;
const MAC_BYTES = 16;
const NONCE_BYTES = TIME_BYTES + RANDOM_BYTES + MAC_BYTES;
/** base64url of 36 bytes: 48 characters, no padding, every bit used (so one encoding per nonce). */
export const NONCE_LENGTH = (NONCE_BYTES / 3) * 4;
const NONCE_SHAPE = new RegExp(`^[A-Za-z0-9_-]{${NONCE_LENGTH}}$`);
/** Domain separation: this key may also MAC other things. */
const LABEL = Buffer.from('persona digest nonce v1\0', 'utf8');

/** A nonce dated this far in the future still counts (clocks of the workers' host may step back a little). */
export const MAX_FUTURE_SKEW_MS = 10_000;

export type NonceState = 'fresh' | 'stale' | 'invalid';

function mac(key: Buffer, head: Buffer, realm: string): Buffer {
  return createHmac('sha256', key).update(LABEL).update(head).update(Buffer.from(realm, 'utf8')).digest().subarray(0, MAC_BYTES);
}

/** A new nonce for `realm`, dated `now` (ms since the epoch). `random` is for tests; leave it out. */
export function makeNonce(key: Buffer, realm: string, now: number, random: Buffer = randomBytes(RANDOM_BYTES)): string {
  if (random.length !== RANDOM_BYTES) throw new RangeError(`makeNonce: random must be ${RANDOM_BYTES} bytes`);
  const head = Buffer.alloc(TIME_BYTES + RANDOM_BYTES);
  head.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(now))), 0);
  random.copy(head, TIME_BYTES);
  return Buffer.concat([head, mac(key, head, realm)]).toString('base64url');
}

/**
 * Whether `nonce` is one we issued for `realm` with `key`, and whether it is still within `lifetimeSeconds` of its
 * issue time. The MAC is compared in constant time; a date beyond MAX_FUTURE_SKEW_MS in the future is invalid (no
 * honest nonce has one, and accepting it would extend its life).
 */
export function checkNonce(key: Buffer, realm: string, nonce: string, now: number, lifetimeSeconds: number): NonceState {
  if (typeof nonce !== 'string' || !NONCE_SHAPE.test(nonce)) return 'invalid';
  const bytes = Buffer.from(nonce, 'base64url');
  if (bytes.length !== NONCE_BYTES) return 'invalid';
  const head = bytes.subarray(0, TIME_BYTES + RANDOM_BYTES);
  if (!timingSafeEqual(bytes.subarray(TIME_BYTES + RANDOM_BYTES), mac(key, head, realm))) return 'invalid';
  const issued = Number(bytes.readBigUInt64BE(0));
  if (issued > now + MAX_FUTURE_SKEW_MS) return 'invalid';
  return now - issued > lifetimeSeconds * 1000 ? 'stale' : 'fresh';
}

/**
 * The issue time written in a nonce (ms since the epoch), without checking it: only meaningful for a nonce
 * checkNonce called fresh. undefined when the nonce does not have our shape.
 */
export function nonceIssuedAt(nonce: string): number | undefined {
  if (typeof nonce !== 'string' || !NONCE_SHAPE.test(nonce)) return undefined;
  return Number(Buffer.from(nonce, 'base64url').readBigUInt64BE(0));
}
