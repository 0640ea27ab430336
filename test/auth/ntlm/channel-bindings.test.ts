/**
 * Extended Protection (MsvAvChannelBindings): tls-server-end-point (RFC 5929 §4.1) and the MD5 of the
 * gss_channel_bindings_struct (RFC 2744 §3.11). Oracles: the Microsoft Open Specifications blog vector (as
 * Chromium's net/ntlm/ntlm_test_data.h carries it), `openssl dgst` over certificates made by `openssl req -x509`
 * here, and a real client library — requests_ntlm's certificate hash and python ntlm-auth's
 * GssChannelBindingsStruct (Debian python3-requests-ntlm, python3-ntlm-auth), run as a process.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import {
  certificateSignatureHash,
  channelBindingsHash,
  expectedChannelBindings,
  isUnhashedZeroBindings,
  tlsServerEndPoint,
  TLS_SERVER_END_POINT_PREFIX,
} from '../../../src/auth/ntlm/channel-bindings.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const isError = (v: unknown): v is { error: string } => typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && typeof (v as { error?: unknown }).error === 'string';

test('the Microsoft blog vector: MD5 of the struct around "tls-server-end-point:" ‖ a SHA-256 certificate hash', () => {
  const appData = Buffer.concat([TLS_SERVER_END_POINT_PREFIX, h('ea05fefecc6b0bd571dbbc5baa3ed45386d0446835f7b74c85621b9983475f95')]);
  assert.equal(hex(channelBindingsHash(appData)), '6586e99d81c2fc984e47172fd4dd0310');
  // The struct: four zero u32 (no addresses), the application data length as a little-endian u32, the data.
  const struct = Buffer.concat([Buffer.alloc(16), Buffer.from([3, 0, 0, 0]), Buffer.from('abc')]);
  assert.equal(hex(channelBindingsHash(Buffer.from('abc'))), createHash('md5').update(struct).digest('hex'));
  assert.equal(hex(channelBindingsHash(new Uint8Array(0))), createHash('md5').update(Buffer.alloc(20)).digest('hex'));
});

// ---- Certificates made by openssl in the test ----

interface Made {
  readonly name: string;
  /** The hash RFC 5929 prescribes for this signature, or 'error' when it defines none. */
  readonly expected: 'sha224' | 'sha256' | 'sha384' | 'sha512' | 'error';
  readonly der: Buffer;
  readonly path: string;
}

const KINDS: { name: string; key: string; args: string[]; expected: Made['expected'] }[] = [
  { name: 'RSA / SHA-256', key: 'rsa', args: ['-sha256'], expected: 'sha256' },
  { name: 'ECDSA P-384 / SHA-384', key: 'ec384', args: ['-sha384'], expected: 'sha384' },
  { name: 'RSA / SHA-1 (upgraded to SHA-256)', key: 'rsa', args: ['-sha1'], expected: 'sha256' },
  { name: 'RSA / MD5 (upgraded to SHA-256)', key: 'rsa', args: ['-md5'], expected: 'sha256' },
  { name: 'RSA / SHA-224', key: 'rsa', args: ['-sha224'], expected: 'sha224' },
  { name: 'RSA / SHA-384', key: 'rsa', args: ['-sha384'], expected: 'sha384' },
  { name: 'RSA / SHA-512', key: 'rsa', args: ['-sha512'], expected: 'sha512' },
  { name: 'ECDSA P-256 / SHA-256', key: 'ec256', args: ['-sha256'], expected: 'sha256' },
  { name: 'ECDSA P-256 / SHA-512', key: 'ec256', args: ['-sha512'], expected: 'sha512' },
  { name: 'RSASSA-PSS / SHA-384 (hash read from the parameters)', key: 'rsa', args: ['-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'], expected: 'sha384' },
  { name: 'Ed25519 (no hash defined)', key: 'ed25519', args: [], expected: 'error' },
];

const KEYGEN: Record<string, string[]> = {
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  ec384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ec256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  ed25519: ['-algorithm', 'ED25519'],
};

let dir = '';
const made: Made[] = [];

function openssl(args: string[]): Buffer {
  const run = spawnSync('openssl', args, { timeout: 30_000 });
  assert.equal(run.status, 0, `openssl ${args.join(' ')}: ${run.stderr?.toString()}`);
  return run.stdout;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'persona-cbt-'));
  for (const [key, args] of Object.entries(KEYGEN)) openssl(['genpkey', ...args, '-out', join(dir, `${key}.key`)]);
  KINDS.forEach((kind, i) => {
    const pem = join(dir, `cert${i}.pem`);
    const path = join(dir, `cert${i}.der`);
    openssl(['req', '-x509', '-key', join(dir, `${kind.key}.key`), '-subj', '/CN=persona.test', '-days', '2', ...kind.args, '-out', pem]);
    openssl(['x509', '-in', pem, '-outform', 'der', '-out', path]);
    made.push({ name: kind.name, expected: kind.expected, der: readFileSync(path), path });
  });
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('certificateSignatureHash and tlsServerEndPoint agree with `openssl dgst` over the DER, per RFC 5929 §4.1', () => {
  assert.equal(made.length, KINDS.length);
  for (const cert of made) {
    const name = certificateSignatureHash(cert.der);
    const endPoint = tlsServerEndPoint(cert.der);
    if (cert.expected === 'error') {
      assert.ok(isError(name), cert.name);
      assert.ok(isError(endPoint), cert.name);
      assert.ok(isError(expectedChannelBindings(cert.der)), cert.name);
      continue;
    }
    assert.equal(name, cert.expected, cert.name);
    assert.ok(Buffer.isBuffer(endPoint), cert.name);
    assert.equal(hex(endPoint), hex(openssl(['dgst', `-${cert.expected}`, '-binary', cert.path])), cert.name);
  }
});

/** requests_ntlm's certificate hash and ntlm-auth's struct, MD5-hashed as ntlm-auth puts it in MsvAvChannelBindings. */
function pythonChannelBindings(paths: string[]): ({ cbt: string } | { none: string })[] {
  const script = `
import hashlib, json, sys, warnings
from requests_ntlm.requests_ntlm import _get_certificate_hash
from ntlm_auth.gss_channel_bindings import GssChannelBindingsStruct
out = []
for path in sys.argv[1:]:
    der = open(path, 'rb').read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            cert_hash = _get_certificate_hash(der)
    except Exception as e:
        out.append({'none': type(e).__name__})
        continue
    if cert_hash is None:
        out.append({'none': 'no hash'})
        continue
    cbt = GssChannelBindingsStruct()
    cbt[cbt.APPLICATION_DATA] = b'tls-server-end-point:' + bytes.fromhex(cert_hash)
    out.append({'cbt': hashlib.md5(cbt.get_data()).hexdigest()})
print(json.dumps(out))
`;
  const run = spawnSync('/usr/bin/python3', ['-c', script, ...paths], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as ({ cbt: string } | { none: string })[];
}

test('expectedChannelBindings equals what requests_ntlm + ntlm-auth send for the same certificate', () => {
  const answers = pythonChannelBindings(made.map((c) => c.path));
  assert.equal(answers.length, made.length);
  let compared = 0;
  made.forEach((cert, i) => {
    const ours = expectedChannelBindings(cert.der);
    const theirs = answers[i]!;
    if ('cbt' in theirs) {
      assert.ok(Buffer.isBuffer(ours), cert.name);
      assert.equal(hex(ours), theirs.cbt, cert.name);
      compared++;
    } else if (cert.expected === 'error') {
      // Ed25519: neither side has a binding (the client then sends none; RFC 5929 leaves it undefined).
      assert.ok(isError(ours), cert.name);
    } else {
      // python-cryptography 38 cannot name the hash of an RSASSA-PSS signature, so requests_ntlm sends no binding
      // there; ours follows the parameters (checked against openssl dgst above).
      assert.match(cert.name, /PSS/);
    }
  });
  assert.equal(compared, made.length - 2, 'every certificate but PSS and Ed25519 was compared byte for byte');
});

test('over a real TLS connection on 127.0.0.1 the server certificate Node reports is the DER that was hashed', async () => {
  const cert = made[0]!;
  const pem = readFileSync(cert.path.replace(/\.der$/, '.pem'));
  const key = readFileSync(join(dir, 'rsa.key'));
  let serverSide: Buffer | undefined;
  const server = createServer({ cert: pem, key }, (socket: TLSSocket) => {
    // What the NTLM provider will read: the certificate this server presented on this connection.
    const own = socket.getCertificate();
    serverSide = own && 'raw' in own ? own.raw : undefined;
    socket.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    // Resolved when the server's byte arrives: by then its handler has read its own certificate.
    const clientSide = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, timeout: 5_000 });
      socket.on('data', () => {
        resolve(socket.getPeerCertificate().raw);
        socket.end();
      });
      socket.on('error', reject);
      socket.on('timeout', () => {
        socket.destroy();
        reject(new Error('TLS exchange timed out'));
      });
    });
    assert.deepEqual(clientSide, cert.der);
    assert.ok(serverSide !== undefined);
    assert.deepEqual(serverSide, cert.der);
    const python = pythonChannelBindings([cert.path])[0]!;
    assert.ok('cbt' in python);
    assert.equal(hex(expectedChannelBindings(serverSide) as Buffer), python.cbt);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

// ---- The DER reader on hand-made and broken input ----

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return [0x80 | bytes.length, ...bytes];
}
const tlv = (tag: number, ...content: (number[] | Buffer)[]): Buffer => {
  const body = Buffer.concat(content.map((c) => Buffer.from(c)));
  return Buffer.concat([Buffer.from([tag, ...len(body.length)]), body]);
};
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const sub = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)];
  const bytes: number[] = [];
  for (const v of sub) {
    const groups: number[] = [];
    let x = v;
    do {
      groups.unshift(x % 128);
      x = Math.floor(x / 128);
    } while (x > 0);
    groups.forEach((g, i) => bytes.push(i < groups.length - 1 ? g | 0x80 : g));
  }
  return tlv(0x06, bytes);
}
const NULL = Buffer.from([0x05, 0x00]);
const TBS = tlv(0x30, tlv(0x02, [1]));
const SIGNATURE = tlv(0x03, [0, 1, 2, 3]);
const certWith = (alg: Buffer) => tlv(0x30, TBS, alg, SIGNATURE);
const pss = (...params: Buffer[]) => certWith(tlv(0x30, oid('1.2.840.113549.1.1.10'), ...params));
const hashAlg = (dotted: string) => tlv(0xa0, tlv(0x30, oid(dotted), NULL));

test('hand-made certificates: each algorithm family, RSASSA-PSS parameters, and refusals', () => {
  assert.equal(certificateSignatureHash(certWith(tlv(0x30, oid('1.2.840.113549.1.1.11'), NULL))), 'sha256');
  assert.equal(certificateSignatureHash(certWith(tlv(0x30, oid('1.2.840.10045.4.3.3')))), 'sha384');
  assert.equal(certificateSignatureHash(certWith(tlv(0x30, oid('1.2.840.10040.4.3')))), 'sha256', 'DSA/SHA-1');
  assert.equal(certificateSignatureHash(certWith(tlv(0x30, oid('1.3.14.3.2.29'), NULL))), 'sha256', 'OIW sha1WithRSA');
  // RSASSA-PSS: hashAlgorithm [0] names the hash; absent means SHA-1 (RFC 4055), hence SHA-256.
  assert.equal(certificateSignatureHash(pss(tlv(0x30, hashAlg('2.16.840.1.101.3.4.2.3')))), 'sha512');
  assert.equal(certificateSignatureHash(pss(tlv(0x30, hashAlg('1.3.14.3.2.26')))), 'sha256');
  assert.equal(certificateSignatureHash(pss(tlv(0x30))), 'sha256');
  assert.equal(certificateSignatureHash(pss(tlv(0x30, tlv(0xa2, tlv(0x02, [32])), hashAlg('2.16.840.1.101.3.4.2.2')))), 'sha384', '[0] after another field');
  assert.equal(certificateSignatureHash(pss(tlv(0x30, tlv(0xa1, tlv(0x30, oid('1.2.840.113549.1.1.8'), tlv(0x30, oid('2.16.840.1.101.3.4.2.1'))))))), 'sha256', 'mask only: hash defaults');
  const refusals: [Buffer, RegExp][] = [
    [pss(), /without parameters/],
    [pss(NULL), /RSASSA-PSS parameters/],
    [pss(tlv(0x30, hashAlg('1.2.840.113549.2.5'))), /1\.2\.840\.113549\.2\.5/],
    [pss(tlv(0x30, tlv(0xa0, NULL))), /hashAlgorithm/],
    [certWith(tlv(0x30, oid('1.3.101.112'))), /Ed25519/],
    [certWith(tlv(0x30, oid('1.3.101.113'))), /Ed448/],
    [certWith(tlv(0x30, oid('1.2.840.113549.1.1.2'), NULL)), /md2/],
    [certWith(tlv(0x30, oid('1.2.3.4'))), /unknown signature algorithm 1\.2\.3\.4/],
    [certWith(tlv(0x30, tlv(0x06, []))), /empty OBJECT IDENTIFIER/],
    [certWith(tlv(0x30, tlv(0x06, [0x2a, 0x86]))), /truncated OBJECT IDENTIFIER/],
    [certWith(tlv(0x30, tlv(0x06, [0x2a, ...Array(10).fill(0xff), 0x7f]))), /arc too large/],
    [certWith(tlv(0x30, NULL)), /tag 0x6/],
    [certWith(tlv(0x31, oid('1.2.840.113549.1.1.11'))), /signatureAlgorithm/],
    [tlv(0x30, tlv(0x31), tlv(0x30, oid('1.2.840.113549.1.1.11'))), /tbsCertificate/],
    [tlv(0x30, TBS), /signatureAlgorithm: .*truncated/],
    [Buffer.concat([certWith(tlv(0x30, oid('1.2.840.113549.1.1.11'))), Buffer.from([0])]), /1 bytes follow/],
    [Buffer.from([0x30, 0x80, 0x00, 0x00]), /indefinite/],
    [Buffer.from([0x30, 0x85, 1, 0, 0, 0, 0]), /5-byte length/],
    [Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), /claims 4294967295 bytes/],
    [Buffer.from([0x30, 0x82, 0x01]), /length .* truncated/],
    [Buffer.from([0x1f, 0x01, 0x00]), /high tag/],
    [Buffer.from([0x30]), /truncated/],
    [Buffer.alloc(0), /truncated/],
    [Buffer.from([0x02, 0x01, 0x00]), /Certificate: expected tag 0x30/],
  ];
  for (const [der, message] of refusals) {
    const r = certificateSignatureHash(der);
    assert.ok(isError(r), hex(der));
    if (isError(r)) assert.match(r.error, message, hex(der));
    assert.ok(isError(tlsServerEndPoint(der)));
    assert.ok(isError(expectedChannelBindings(der)));
  }
});

test('every truncation of a real certificate is an error value, and the input is never modified', () => {
  for (const cert of made) {
    const before = Buffer.from(cert.der);
    for (let n = 0; n < cert.der.length; n++) {
      assert.ok(isError(certificateSignatureHash(cert.der.subarray(0, n))), `${cert.name} cut at ${n}`);
    }
    expectedChannelBindings(cert.der);
    assert.deepEqual(cert.der, before);
  }
});

test('property: arbitrary bytes, and real certificates with random bytes changed, never throw', () => {
  const check = (der: Uint8Array) => {
    const name = certificateSignatureHash(der);
    assert.ok(isError(name) || ['sha224', 'sha256', 'sha384', 'sha512'].includes(name as string));
    const endPoint = tlsServerEndPoint(der);
    assert.ok(isError(endPoint) || (Buffer.isBuffer(endPoint) && endPoint.length >= 28));
    const cbt = expectedChannelBindings(der);
    assert.ok(isError(cbt) || (Buffer.isBuffer(cbt) && cbt.length === 16));
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 2000 });
  // DER-shaped noise: a SEQUENCE header with a plausible length, so the reader gets past the first byte.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(0x30, 0x31, 0xa0, 0x06), (body, tag) => check(tlv(tag, Buffer.from(body)))),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.nat(made.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), (which, edits) => {
      const der = Buffer.from(made[which]!.der);
      for (const [pos, value] of edits) der[pos % der.length] = value;
      check(der);
    }),
    { numRuns: 2000 },
  );
});

test('isUnhashedZeroBindings: exactly 16 zero bytes', () => {
  assert.equal(isUnhashedZeroBindings(new Uint8Array(16)), true);
  assert.equal(isUnhashedZeroBindings(Buffer.alloc(16)), true);
  for (const n of [0, 1, 15, 17, 32]) assert.equal(isUnhashedZeroBindings(new Uint8Array(n)), false, `${n} zeros`);
  // The hash of a struct without application data is some value, not the unaware marker.
  assert.equal(isUnhashedZeroBindings(channelBindingsHash(new Uint8Array(0))), false);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (v) => {
      assert.equal(isUnhashedZeroBindings(v), v.length === 16 && v.every((b) => b === 0));
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.nat(15), fc.integer({ min: 1, max: 255 }), (pos, value) => {
      const v = new Uint8Array(16);
      v[pos] = value;
      assert.equal(isUnhashedZeroBindings(v), false);
    }),
  );
});
