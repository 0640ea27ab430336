/**
 * The Digest algorithms (RFC 7616 §3.2, RFC 2617 §3.2.1): the hash function H behind each name, the "-sess"
 * variants, and the password verifier the account store keeps.
 *
 * The verifier H(user ":" realm ":" password) is password-equivalent for Digest (whoever holds it can answer any
 * challenge for that realm and hash), which is why the store only writes it for accounts with Digest enabled.
 */
import { hash as oneShotHash } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';
export type DigestHash = 'MD5' | 'SHA-256' | 'SHA-512-256';

/** Strongest first; within a hash the plain variant before "-sess" (the order the challenges are sent in). */
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = Object.freeze([
  'SHA-512-256',
  'SHA-512-256-sess',
  'SHA-256',
  'SHA-256-sess',
  'MD5',
  'MD5-sess',
]);

export const DIGEST_HASHES: readonly DigestHash[] = Object.freeze(['SHA-512-256', 'SHA-256', 'MD5']);

// Node's names. SHA-512/256 is the FIPS 180-4 function with its own initial values, not SHA-512 cut in half;
// OpenSSL 3's default provider (Node 20) has it as 'sha512-256'.
const NODE_HASH: Readonly<Record<DigestHash, string>> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

/** Hex length of a digest: MD5 32, the SHA-2 ones 64. */
export const HEX_LENGTH: Readonly<Record<DigestHash, number>> = { MD5: 32, 'SHA-256': 64, 'SHA-512-256': 64 };

export function hashOf(algorithm: DigestAlgorithm): DigestHash {
  return (isSession(algorithm) ? algorithm.slice(0, -'-sess'.length) : algorithm) as DigestHash;
}

export function isSession(algorithm: DigestAlgorithm): boolean {
  return algorithm.endsWith('-sess');
}

/**
 * The algorithm a name stands for, matched case-insensitively (RFC 7616 §3.3 tokens; clients differ in case, e.g.
 * "md5-sess"); undefined for names we do not implement.
 */
export function algorithmFromName(name: string): DigestAlgorithm | undefined {
  // Asked several times per request: the exact spelling first, then one lower-casing and a map lookup.
  return BY_NAME.get(name) ?? BY_NAME.get(name.toLowerCase());
}
const BY_NAME: ReadonlyMap<string, DigestAlgorithm> = new Map(DIGEST_ALGORITHMS.flatMap((a) => [[a, a] as const, [a.toLowerCase(), a] as const]));

/** Sort key: lower is stronger. */
export function algorithmRank(algorithm: DigestAlgorithm): number {
  return DIGEST_ALGORITHMS.indexOf(algorithm);
}

/** The algorithms, without duplicates, strongest first (RFC 7616 §3.7: the server lists its preferred first). */
export function strongestFirst(algorithms: readonly DigestAlgorithm[]): DigestAlgorithm[] {
  return [...new Set(algorithms)].sort((a, b) => algorithmRank(a) - algorithmRank(b));
}

/**
 * H(data) as lower-case hex; strings are hashed as UTF-8 (RFC 7616 §3.4.4 with charset=UTF-8). Node's one-shot
 * crypto.hash: a few times faster than a Hash object for these short inputs, and every Digest request hashes twice.
 */
export function digestHex(hash: DigestHash, data: string | Buffer): string {
  return oneShotHash(NODE_HASH[hash], data, 'hex');
}

/** The stored verifier: H(user ":" realm ":" password) over UTF-8 (RFC 7616 §3.4.2, A1 without "-sess"). */
export function ha1Verifier(hash: DigestHash, user: string, realm: string, password: string): string {
  return digestHex(hash, `${user}:${realm}:${password}`);
}

/** What a client sends as `username` when userhash=true: H(user ":" realm) (RFC 7616 §3.4.4). */
export function userhashOf(hash: DigestHash, user: string, realm: string): string {
  return digestHex(hash, `${user}:${realm}`);
}
