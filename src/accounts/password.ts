/**
 * Password verifiers (MODEL.md §2): slow salted hashes in PHC string form, never the password itself.
 *
 * - scrypt (default): `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (N = 2^ln; 32 MiB, about 0.1 s per hash).
 * - argon2id (option): `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (OWASP's minimum recommendation).
 *
 * Salts and hashes are unpadded standard base64, as the PHC format says. Verification recomputes the raw hash with
 * the stored parameters and compares with timingSafeEqual (for argon2id too, so both algorithms share one comparison
 * we can see), and answers false — never throws — on any malformed stored value: a corrupt row must fail the logon,
 * not crash the server.
 *
 * Passwords are NOT Unicode-normalised (Windows does not normalise either): NTLM and Digest clients hash the password
 * bytes they were typed with, so normalising here would make Basic accept what NTLM/Digest refuse for the same
 * account. A password is its UTF-8 bytes; strings with lone surrogates (which UTF-8 cannot carry, and which would
 * collide with U+FFFD) are refused when set and never verify.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { hashRaw, Algorithm, Version } from '@node-rs/argon2';
import type { VerifierAlgorithm } from './types.js';

/** Production scrypt cost: N = 2^15 (RFC 7914 interactive logins, OWASP). Tests may lower it through HashOptions. */
export const DEFAULT_SCRYPT_LN = 15;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const ARGON2_M = 19456;
const ARGON2_T = 2;
const ARGON2_P = 1;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/** Longer passwords are refused when set and never verify: they only serve to make hashing expensive. */
export const MAX_PASSWORD_LENGTH = 1024;

/** Bounds on parameters read from a stored value, so a corrupt row cannot make one verification hang or exhaust memory. */
const SCRYPT_LN_RANGE = [1, 20] as const;
const ARGON2_M_MAX = 1 << 21; // 2 GiB in KiB
const ARGON2_T_MAX = 64;
const ARGON2_P_MAX = 16;

export interface HashOptions {
  /** log2 of scrypt's N. Default 15; tests pass a small value where the cost is not what they test. */
  readonly scryptLn?: number;
}

/** Why a password cannot be set, or null when it can. The empty password is allowed (Windows allows blank passwords). */
export function passwordProblem(password: string): string | null {
  if (typeof password !== 'string') return 'the password must be a string';
  if (password.length > MAX_PASSWORD_LENGTH) return `the password is longer than ${MAX_PASSWORD_LENGTH} characters`;
  if (/\p{Cs}/u.test(password)) return 'the password is not valid Unicode (it contains a lone surrogate)';
  return null;
}

export async function hashPassword(password: string, algorithm: VerifierAlgorithm = 'scrypt', options: HashOptions = {}): Promise<string> {
  const problem = passwordProblem(password);
  if (problem) throw new Error(problem);
  const salt = randomBytes(SALT_BYTES);
  const bytes = Buffer.from(password, 'utf8');
  if (algorithm === 'scrypt') {
    const ln = options.scryptLn ?? DEFAULT_SCRYPT_LN;
    if (!Number.isInteger(ln) || ln < SCRYPT_LN_RANGE[0] || ln > SCRYPT_LN_RANGE[1]) throw new Error(`scrypt ln must be an integer from ${SCRYPT_LN_RANGE[0]} to ${SCRYPT_LN_RANGE[1]}`);
    const hash = await scrypt(bytes, salt, HASH_BYTES, ln, SCRYPT_R, SCRYPT_P);
    return `$scrypt$ln=${ln},r=${SCRYPT_R},p=${SCRYPT_P}$${b64(salt)}$${b64(hash)}`;
  }
  if (algorithm === 'argon2id') {
    const hash = await argon2id(bytes, salt, HASH_BYTES, ARGON2_M, ARGON2_T, ARGON2_P);
    return `$argon2id$v=19$m=${ARGON2_M},t=${ARGON2_T},p=${ARGON2_P}$${b64(salt)}$${b64(hash)}`;
  }
  throw new Error(`unknown verifier algorithm: ${String(algorithm)}`);
}

/** True when `password` matches the stored verifier. Constant-time comparison; false (never a throw) for anything malformed. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    if (typeof stored !== 'string' || typeof password !== 'string' || passwordProblem(password) !== null) return false;
    const parsed = parseVerifier(stored);
    if (!parsed) return false;
    const bytes = Buffer.from(password, 'utf8');
    const actual =
      parsed.algorithm === 'scrypt'
        ? await scrypt(bytes, parsed.salt, parsed.hash.length, parsed.ln, parsed.r, parsed.p)
        : await argon2id(bytes, parsed.salt, parsed.hash.length, parsed.m, parsed.t, parsed.p);
    return actual.length === parsed.hash.length && timingSafeEqual(actual, parsed.hash);
  } catch {
    return false;
  }
}

/**
 * Spends the time of one default verification and answers false: the logon path calls it for unknown users so
 * that response time does not tell which account names exist.
 */
export async function verifyNothing(password: string): Promise<false> {
  await verifyPassword(DUMMY_VERIFIER, password);
  return false;
}
// A fixed scrypt verifier of a random password nobody knows (the salt and hash are just random bytes).
const DUMMY_VERIFIER = `$scrypt$ln=${DEFAULT_SCRYPT_LN},r=8,p=1$${b64(randomBytes(SALT_BYTES))}$${b64(randomBytes(HASH_BYTES))}`;

/** The algorithm of a stored verifier, or undefined when it is not one we know (for `user show` and rehash decisions). */
export function verifierAlgorithm(stored: string): VerifierAlgorithm | undefined {
  return parseVerifier(stored)?.algorithm;
}

type Parsed =
  | { readonly algorithm: 'scrypt'; readonly ln: number; readonly r: number; readonly p: number; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly algorithm: 'argon2id'; readonly m: number; readonly t: number; readonly p: number; readonly salt: Buffer; readonly hash: Buffer };

// Numbers without leading zeros: one verifier has exactly one text (a mutated text must not still verify).
const SCRYPT_PHC = /^\$scrypt\$ln=([1-9]\d?),r=([1-9]\d?),p=([1-9]\d?)\$([A-Za-z0-9+/]{11,88})\$([A-Za-z0-9+/]{22,88})$/;
const ARGON2_PHC = /^\$argon2id\$v=19\$m=([1-9]\d{0,7}),t=([1-9]\d{0,2}),p=([1-9]\d{0,2})\$([A-Za-z0-9+/]{11,88})\$([A-Za-z0-9+/]{22,88})$/;

function parseVerifier(stored: string): Parsed | undefined {
  let m = SCRYPT_PHC.exec(stored);
  if (m) {
    const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const salt = unb64(m[4]!);
    const hash = unb64(m[5]!);
    if (!salt || !hash || hash.length < 16) return undefined;
    if (ln < SCRYPT_LN_RANGE[0] || ln > SCRYPT_LN_RANGE[1] || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
    return { algorithm: 'scrypt', ln, r, p, salt, hash };
  }
  m = ARGON2_PHC.exec(stored);
  if (m) {
    const [mem, t, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const salt = unb64(m[4]!);
    const hash = unb64(m[5]!);
    if (!salt || !hash || salt.length < 8 || hash.length < 16) return undefined;
    if (p < 1 || p > ARGON2_P_MAX || t < 1 || t > ARGON2_T_MAX || mem < 8 * p || mem > ARGON2_M_MAX) return undefined;
    return { algorithm: 'argon2id', m: mem, t, p, salt, hash };
  }
  return undefined;
}

function scrypt(password: Buffer, salt: Buffer, keylen: number, ln: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** ln;
  // Node refuses scrypt above 32 MiB by default, which is exactly what ln=15,r=8 needs (plus overhead): allow twice it.
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function argon2id(password: Buffer, salt: Buffer, outputLen: number, memoryCost: number, timeCost: number, parallelism: number): Promise<Buffer> {
  return hashRaw(password, { algorithm: Algorithm.Argon2id, version: Version.V0x13, memoryCost, timeCost, parallelism, outputLen, salt });
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

/** Strict unpadded base64: the decoded bytes must re-encode to the same text (Buffer.from alone ignores junk). */
function unb64(text: string): Buffer | undefined {
  if (text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return b64(bytes) === text ? bytes : undefined;
}
