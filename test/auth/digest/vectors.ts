/**
 * The published Digest examples: RFC 7616 §3.9.1 (MD5, SHA-256), §3.9.2 (SHA-512-256 with userhash and with
 * username*, values corrected by erratum 4897: the RFC's were made with a draft SHA-512/256) and RFC 2617 §3.5.
 * Headers as a client sends them (the RFC's line breaks joined), without the "Digest " scheme.
 */
export interface DigestVector {
  readonly name: string;
  readonly header: string;
  readonly user: string;
  readonly password: string;
  readonly realm: string;
  readonly method: string;
  readonly requestTarget: string;
  readonly opaque: string;
}

export const RFC7616_SHA256: DigestVector = {
  name: 'RFC 7616 §3.9.1 SHA-256',
  header:
    'username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, ' +
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", ' +
    'qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  user: 'Mufasa',
  password: 'Circle of Life',
  realm: 'http-auth@example.org',
  method: 'GET',
  requestTarget: '/dir/index.html',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
};

export const RFC7616_MD5: DigestVector = {
  ...RFC7616_SHA256,
  name: 'RFC 7616 §3.9.1 MD5',
  header: RFC7616_SHA256.header
    .replace('algorithm=SHA-256', 'algorithm=MD5')
    .replace('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1', '8ca523f5e9506fed4657c9700eebdbec'),
};

const JASON = 'J\u00e4s\u00f8n Doe';

export const RFC7616_USERHASH: DigestVector = {
  name: 'RFC 7616 §3.9.2 SHA-512-256 userhash (erratum 4897)',
  header:
    'username="793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b", realm="api@example.org", uri="/doe.json", ' +
    'algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", nc=00000001, ' +
    'cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", qop=auth, ' +
    'response="3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", userhash=true',
  user: JASON,
  password: 'Secret, or not?',
  realm: 'api@example.org',
  method: 'GET',
  requestTarget: '/doe.json',
  opaque: 'HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS',
};

export const RFC7616_USERNAME_STAR: DigestVector = {
  ...RFC7616_USERHASH,
  name: 'RFC 7616 §3.9.2 SHA-512-256 username* (erratum 4897)',
  header:
    "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"api@example.org\", uri=\"/doe.json\", " +
    'algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", nc=00000001, ' +
    'cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", qop=auth, ' +
    'response="3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", userhash=false',
};

export const RFC2617: DigestVector = {
  name: 'RFC 2617 §3.5',
  header:
    'username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", ' +
    'qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
  user: 'Mufasa',
  password: 'Circle Of Life',
  realm: 'testrealm@host.com',
  method: 'GET',
  requestTarget: '/dir/index.html',
  opaque: '5ccc069c403ebaf9f0171e9517f40e41',
};

export const VECTORS: readonly DigestVector[] = [RFC7616_MD5, RFC7616_SHA256, RFC7616_USERHASH, RFC7616_USERNAME_STAR, RFC2617];
