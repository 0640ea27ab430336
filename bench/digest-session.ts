/**
 * Digest on a bench connection, as a keep-alive client does it (RFC 7616 §3.4): one GET without credentials gets
 * the 401 and its nonce; from then on every request carries an Authorization answering that nonce with the next
 * nonce count (nc 1, 2, 3 …) and a response hash computed for it, so the server checks nonce, nc and response on
 * every request. The client answers the first Digest line (the server lists the strongest first: SHA-256 at the
 * defaults). The hashes come from Persona's own Digest core, whose RFC vectors the unit tests check.
 */
import { randomBytes } from 'node:crypto';
import { algorithmFromName, digestHex, ha1Verifier, hashOf, type DigestAlgorithm } from '../src/auth/digest/algorithms.js';
import { formatDigestAuthorization, ncHex } from '../src/auth/digest/authorization.js';
import { parseAuthParams } from '../src/auth/digest/parameters.js';
import { responseFor } from '../src/auth/digest/verify.js';
import { getRequest, header, type Http1Connection, type RawResponse } from './http1-client.js';

export interface DigestAccount {
  user: string;
  password: string;
}

/** A connection's Digest state: the challenge it answers and the last nonce count it used. */
export class DigestSession {
  private nc = 0;
  private readonly cnonce = randomBytes(8).toString('hex');
  private readonly ha1: string;
  /**
   * The request's bytes around the two parts that change (nc and response), and H(A2), which does not: a client
   * computes one hash per request, as a browser reusing its nonce can (the pre-flight check compares its bytes with
   * what the Digest core makes: slowRequest).
   */
  private readonly head: string;
  private readonly middle: string;
  private readonly tail: string;
  private readonly ha2: string;

  private constructor(
    readonly path: string,
    readonly host: string,
    readonly account: DigestAccount,
    readonly realm: string,
    readonly nonce: string,
    readonly algorithm: DigestAlgorithm,
    readonly opaque: string | undefined,
  ) {
    // H(user:realm:password) once per connection, as a client caches it.
    this.ha1 = ha1Verifier(hashOf(algorithm), account.user, realm, account.password);
    this.ha2 = digestHex(hashOf(algorithm), `GET:${path}`);
    const marker = formatDigestAuthorization({
      username: account.user,
      usernameStar: false,
      userhash: false,
      realm,
      nonce,
      uri: path,
      response: '\u0001',
      algorithm,
      cnonce: this.cnonce,
      qop: 'auth',
      nc: 0,
      ncText: '\u0002',
      ...(opaque !== undefined && { opaque }),
    });
    const request = getRequest(path, host, { Authorization: marker }).toString('latin1');
    const [head, rest] = request.split('\u0002') as [string, string];
    const [middle, tail] = rest.split('\u0001') as [string, string];
    this.head = head;
    this.middle = middle;
    this.tail = tail;
  }

  /** GET without credentials on `conn`: must be a 401 offering Digest; its first Digest line is the one answered. */
  static async start(conn: Http1Connection, path: string, host: string, account: DigestAccount): Promise<DigestSession> {
    const r = await conn.request(getRequest(path, host));
    if (r.status !== 401) throw new Error(`the Digest challenge request was answered ${r.status}, expected 401`);
    return DigestSession.fromChallenge(r, path, host, account);
  }

  static fromChallenge(r: RawResponse, path: string, host: string, account: DigestAccount): DigestSession {
    const line = header(r.head, 'www-authenticate').find((v) => /^Digest /i.test(v));
    if (!line) throw new Error('the 401 offers no Digest challenge');
    const parsed = parseAuthParams(line.slice('Digest '.length));
    if ('error' in parsed) throw new Error(`unparsable Digest challenge: ${parsed.error}`);
    const get = (n: string) => parsed.params.get(n)?.value;
    const algorithm = algorithmFromName(get('algorithm') ?? 'MD5');
    const nonce = get('nonce');
    const realm = get('realm');
    if (!algorithm || nonce === undefined || realm === undefined) throw new Error(`a Digest challenge without a known algorithm, a nonce or a realm: ${line}`);
    return new DigestSession(path, host, account, Buffer.from(realm, 'latin1').toString('utf8'), nonce, algorithm, get('opaque'));
  }

  /** Requests made ahead by `prepare` (one buffer, consecutive requests of equal length), and the next one's index. */
  private ahead: { bytes: Buffer; size: number; count: number; next: number } | undefined;

  /**
   * Makes the next `count` requests now, before the measurement: on a machine whose cores the generator shares with
   * the server, hashing during the run would take CPU from the server that only the Digest slices pay for (the
   * anonymous requests they are compared with cost the generator nothing comparable). The server's work per request
   * is the same either way. Beyond them, requests are made as they are sent.
   */
  prepare(count: number): void {
    const first = this.make(this.nc + 1);
    const size = first.length;
    const bytes = Buffer.allocUnsafe(size * count);
    first.copy(bytes, 0);
    // nc is 8 hex digits and the response has a fixed length: every request is as long as the first.
    for (let i = 1; i < count; i++) this.make(this.nc + 1 + i).copy(bytes, i * size);
    this.ahead = { bytes, size, count, next: 0 };
  }

  /** The next request's bytes: GET with an Authorization for nc + 1 (one hash unless prepared). */
  nextRequest(): Buffer {
    this.nc += 1;
    const ahead = this.ahead;
    if (ahead !== undefined && ahead.next < ahead.count) {
      const at = ahead.next++ * ahead.size;
      return ahead.bytes.subarray(at, at + ahead.size);
    }
    this.ahead = undefined;
    return this.make(this.nc);
  }

  private make(nc: number): Buffer {
    const ncText = ncHex(nc);
    const response = digestHex(hashOf(this.algorithm), `${this.ha1}:${this.nonce}:${ncText}:${this.cnonce}:auth:${this.ha2}`);
    return Buffer.from(`${this.head}${ncText}${this.middle}${response}${this.tail}`, 'latin1');
  }

  /** The same request made the long way (the core's responseFor and formatter): what nextRequest must equal. */
  slowRequest(nc: number, extra: Record<string, string> = {}): Buffer {
    const ncText = ncHex(nc);
    const response = responseFor({ algorithm: this.algorithm, ha1: this.ha1, method: 'GET', uri: this.path, nonce: this.nonce, cnonce: this.cnonce, nc: ncText, qop: 'auth' });
    const authorization = formatDigestAuthorization({
      username: this.account.user,
      usernameStar: false,
      userhash: false,
      realm: this.realm,
      nonce: this.nonce,
      uri: this.path,
      response,
      algorithm: this.algorithm,
      cnonce: this.cnonce,
      qop: 'auth',
      nc,
      ncText,
      ...(this.opaque !== undefined && { opaque: this.opaque }),
    });
    return getRequest(this.path, this.host, { Authorization: authorization, ...extra });
  }

  /** A request with a wrong password (for the pre-flight check), on the same nonce. */
  wrongRequest(): Buffer {
    const wrong = new DigestSession(this.path, this.host, { user: this.account.user, password: `${this.account.password}-wrong` }, this.realm, this.nonce, this.algorithm, this.opaque);
    return wrong.slowRequest(this.nc + 1000);
  }
}
