/**
 * Extended Protection for Authentication: the MsvAvChannelBindings value (MS-NLMP §2.2.2.1, §3.1.5.1.2) a client puts
 * in its NTLMv2 blob to bind the login to the TLS channel it sees, computed here from the server's own certificate so
 * the caller can compare. A man in the middle that terminates TLS with another certificate cannot relay the login:
 * the client hashed *his* certificate, and the NTLMv2 proof covers the value.
 *
 * The value is MD5(gss_channel_bindings_struct) (RFC 2744 §3.11, laid out as Windows, Chromium and python ntlm-auth
 * do: five little-endian u32 — initiator address type and length, acceptor address type and length, all zero, and the
 * application data length — with the application data after them), where the application data is
 * "tls-server-end-point:" ‖ H(certificate DER) (RFC 5929 §4.1) and H is the certificate signature's hash, MD5 and
 * SHA-1 upgraded to SHA-256.
 *
 * The certificate is read with a small bounds-checked DER reader (no dependency): only the outer SEQUENCE, the
 * signatureAlgorithm after tbsCertificate, and for RSASSA-PSS its hashAlgorithm parameter. Errors are values; nothing
 * here throws for any input.
 */
import { createHash } from 'node:crypto';

export type CertificateHashName = 'sha224' | 'sha256' | 'sha384' | 'sha512';
export type ChannelBindingsError = { readonly error: string };

/** "tls-server-end-point:", the RFC 5929 §4.1 prefix of the application data. */
export const TLS_SERVER_END_POINT_PREFIX: Readonly<Buffer> = Buffer.from('tls-server-end-point:', 'latin1');
export const CHANNEL_BINDINGS_LENGTH = 16;

/** Signature algorithms whose hash RFC 5929 defines, by OID. MD5 and SHA-1 → SHA-256 (§4.1). */
const SIGNATURE_HASH: ReadonlyMap<string, CertificateHashName> = new Map([
  ['1.2.840.113549.1.1.4', 'sha256'], // md5WithRSAEncryption
  ['1.2.840.113549.1.1.5', 'sha256'], // sha1WithRSAEncryption
  ['1.3.14.3.2.29', 'sha256'], // sha1WithRSAEncryption (OIW)
  ['1.2.840.113549.1.1.14', 'sha224'], // sha224WithRSAEncryption
  ['1.2.840.113549.1.1.11', 'sha256'], // sha256WithRSAEncryption
  ['1.2.840.113549.1.1.12', 'sha384'], // sha384WithRSAEncryption
  ['1.2.840.113549.1.1.13', 'sha512'], // sha512WithRSAEncryption
  ['1.2.840.10045.4.1', 'sha256'], // ecdsa-with-SHA1
  ['1.2.840.10045.4.3.1', 'sha224'], // ecdsa-with-SHA224
  ['1.2.840.10045.4.3.2', 'sha256'], // ecdsa-with-SHA256
  ['1.2.840.10045.4.3.3', 'sha384'], // ecdsa-with-SHA384
  ['1.2.840.10045.4.3.4', 'sha512'], // ecdsa-with-SHA512
  ['1.2.840.10040.4.3', 'sha256'], // id-dsa-with-sha1
  ['2.16.840.1.101.3.4.3.1', 'sha224'], // id-dsa-with-sha224
  ['2.16.840.1.101.3.4.3.2', 'sha256'], // id-dsa-with-sha256
]);

const RSASSA_PSS = '1.2.840.113549.1.1.10';

/** Hash algorithms as RSASSA-PSS-params name them (RFC 4055 §2.1); SHA-1 → SHA-256 as for any signature. */
const HASH_ALGORITHM: ReadonlyMap<string, CertificateHashName> = new Map([
  ['1.3.14.3.2.26', 'sha256'], // id-sha1
  ['2.16.840.1.101.3.4.2.4', 'sha224'], // id-sha224
  ['2.16.840.1.101.3.4.2.1', 'sha256'], // id-sha256
  ['2.16.840.1.101.3.4.2.2', 'sha384'], // id-sha384
  ['2.16.840.1.101.3.4.2.3', 'sha512'], // id-sha512
]);

/** Algorithms with no single hash (EdDSA) or none we accept; named for a useful error. */
const NO_DEFINED_HASH: ReadonlyMap<string, string> = new Map([
  ['1.3.101.112', 'Ed25519'],
  ['1.3.101.113', 'Ed448'],
  ['1.2.840.113549.1.1.2', 'md2WithRSAEncryption'],
]);

const TAG_SEQUENCE = 0x30;
const TAG_OID = 0x06;
const TAG_CONTEXT_0 = 0xa0;

/** One DER element: its tag and where its contents lie in the buffer. */
interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

/**
 * Reads the element at `at`, which must end by `limit`. Definite lengths only (DER forbids the indefinite form),
 * low tag numbers only (everything read here has one), at most four length bytes (a certificate is far smaller).
 */
function readTlv(der: Uint8Array, at: number, limit: number): Tlv | ChannelBindingsError {
  if (at + 2 > limit) return { error: `DER element at byte ${at} is truncated` };
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) return { error: `DER element at byte ${at} uses a high tag number` };
  const first = der[at + 1]!;
  let start = at + 2;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) return { error: `DER element at byte ${at} has an indefinite length` };
    if (count > 4) return { error: `DER element at byte ${at} has a ${count}-byte length` };
    if (start + count > limit) return { error: `DER length at byte ${at} is truncated` };
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    start += count;
  }
  if (start + length > limit) return { error: `DER element at byte ${at} claims ${length} bytes, only ${limit - start} remain` };
  return { tag, start, end: start + length };
}

function expect(der: Uint8Array, at: number, limit: number, tag: number, what: string): Tlv | ChannelBindingsError {
  const tlv = readTlv(der, at, limit);
  if ('error' in tlv) return { error: `${what}: ${tlv.error}` };
  if (tlv.tag !== tag) return { error: `${what}: expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)} at byte ${at}` };
  return tlv;
}

/** Dotted form of an OBJECT IDENTIFIER's contents; arcs beyond 2^53 or a truncated arc are errors. */
function oidText(der: Uint8Array, tlv: Tlv): string | ChannelBindingsError {
  if (tlv.end === tlv.start) return { error: 'empty OBJECT IDENTIFIER' };
  const arcs: number[] = [];
  let value = 0;
  let pending = false;
  for (let i = tlv.start; i < tlv.end; i++) {
    const byte = der[i]!;
    if (value > (Number.MAX_SAFE_INTEGER - 0x7f) / 128) return { error: 'OBJECT IDENTIFIER arc too large' };
    value = value * 128 + (byte & 0x7f);
    pending = (byte & 0x80) !== 0;
    if (!pending) {
      if (arcs.length === 0) {
        // The first subidentifier packs two arcs: 40·X + Y, X ∈ {0, 1, 2}.
        const x = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(x, value - 40 * x);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  if (pending) return { error: 'truncated OBJECT IDENTIFIER' };
  return arcs.join('.');
}

/** The OID at the head of an AlgorithmIdentifier SEQUENCE, and where its parameters start. */
function algorithmOid(der: Uint8Array, alg: Tlv, what: string): { oid: string; paramsAt: number } | ChannelBindingsError {
  const oidTlv = expect(der, alg.start, alg.end, TAG_OID, `${what} algorithm`);
  if ('error' in oidTlv) return oidTlv;
  const oid = oidText(der, oidTlv);
  if (typeof oid !== 'string') return { error: `${what} algorithm: ${oid.error}` };
  return { oid, paramsAt: oidTlv.end };
}

/**
 * RSASSA-PSS names its hash in its parameters (RFC 4055 §3.1: RSASSA-PSS-params, hashAlgorithm [0] EXPLICIT,
 * default SHA-1). We read it, as OpenSSL's X509_get_signature_info and python-cryptography do, rather than refuse
 * PSS: the hash is well defined, so RFC 5929's rule applies to it like to any other signature.
 */
function pssHash(der: Uint8Array, alg: Tlv, paramsAt: number): CertificateHashName | ChannelBindingsError {
  if (paramsAt === alg.end) return { error: 'RSASSA-PSS signature without parameters: the hash is not stated' };
  const params = expect(der, paramsAt, alg.end, TAG_SEQUENCE, 'RSASSA-PSS parameters');
  if ('error' in params) return params;
  let at = params.start;
  while (at < params.end) {
    const field = readTlv(der, at, params.end);
    if ('error' in field) return { error: `RSASSA-PSS parameters: ${field.error}` };
    if (field.tag === TAG_CONTEXT_0) {
      const hashAlg = expect(der, field.start, field.end, TAG_SEQUENCE, 'RSASSA-PSS hashAlgorithm');
      if ('error' in hashAlg) return hashAlg;
      const named = algorithmOid(der, hashAlg, 'RSASSA-PSS hashAlgorithm');
      if ('error' in named) return named;
      return HASH_ALGORITHM.get(named.oid) ?? { error: `RSASSA-PSS hash algorithm ${named.oid} is not one RFC 5929 can use here` };
    }
    at = field.end;
  }
  return 'sha256'; // hashAlgorithm absent: SHA-1 by default, which RFC 5929 upgrades to SHA-256
}

/**
 * RFC 5929 §4.1: the hash function of the certificate's signatureAlgorithm, MD5 and SHA-1 replaced by SHA-256.
 * Reads Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm AlgorithmIdentifier, signature }.
 * Signatures without exactly one hash (Ed25519, Ed448) and unknown algorithms are errors: RFC 5929 leaves their
 * binding undefined, and guessing would make every client's value mismatch silently.
 */
export function certificateSignatureHash(certDer: Uint8Array): CertificateHashName | ChannelBindingsError {
  const der = certDer;
  const cert = expect(der, 0, der.length, TAG_SEQUENCE, 'Certificate');
  if ('error' in cert) return cert;
  if (cert.end !== der.length) return { error: `Certificate: ${der.length - cert.end} bytes follow the certificate` };
  const tbs = expect(der, cert.start, cert.end, TAG_SEQUENCE, 'tbsCertificate');
  if ('error' in tbs) return tbs;
  const alg = expect(der, tbs.end, cert.end, TAG_SEQUENCE, 'signatureAlgorithm');
  if ('error' in alg) return alg;
  const named = algorithmOid(der, alg, 'signatureAlgorithm');
  if ('error' in named) return named;
  if (named.oid === RSASSA_PSS) return pssHash(der, alg, named.paramsAt);
  const hash = SIGNATURE_HASH.get(named.oid);
  if (hash !== undefined) return hash;
  const known = NO_DEFINED_HASH.get(named.oid);
  if (known !== undefined) return { error: `signature algorithm ${known} (${named.oid}) has no tls-server-end-point hash (RFC 5929 §4.1)` };
  return { error: `unknown signature algorithm ${named.oid}` };
}

/** RFC 5929 tls-server-end-point: the certificate (DER, as sent in the TLS Certificate message) hashed per §4.1. */
export function tlsServerEndPoint(certDer: Uint8Array): Buffer | ChannelBindingsError {
  const hash = certificateSignatureHash(certDer);
  if (typeof hash !== 'string') return hash;
  return createHash(hash).update(certDer).digest();
}

/**
 * MD5 of the gss_channel_bindings_struct with no addresses and this application data — the MsvAvChannelBindings
 * value (§3.1.5.1.2 "ClientChannelBindingsUnhashed" hashed as MD5, as Windows and the clients above compute it).
 */
export function channelBindingsHash(applicationData: Uint8Array): Buffer {
  const header = Buffer.alloc(20); // initiator_addrtype, initiator_address.length, acceptor_addrtype, acceptor_address.length: 0
  header.writeUInt32LE(applicationData.length, 16);
  return createHash('md5').update(header).update(applicationData).digest();
}

/** The 16 bytes an Extended-Protection-aware client sends in MsvAvChannelBindings when it sees this server certificate. */
export function expectedChannelBindings(certDer: Uint8Array): Buffer | ChannelBindingsError {
  const endPoint = tlsServerEndPoint(certDer);
  if (!Buffer.isBuffer(endPoint)) return endPoint;
  return channelBindingsHash(Buffer.concat([TLS_SERVER_END_POINT_PREFIX, endPoint]));
}

/**
 * True for 16 zero bytes: the client sent the pair but knows no channel to bind ("unaware": plain HTTP, or a client
 * that cannot see the TLS layer). The caller tells this apart from an absent pair and from a wrong value: a wrong
 * value always fails, while an unaware or silent client is a policy question (IIS tokenChecking Allow lets it in,
 * Require does not).
 */
export function isUnhashedZeroBindings(value: Uint8Array): boolean {
  if (value.length !== CHANNEL_BINDINGS_LENGTH) return false;
  for (const byte of value) if (byte !== 0) return false;
  return true;
}
