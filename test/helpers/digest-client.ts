/**
 * A Digest client for tests (RFC 7616 §3.4): reads the server's challenge lines and makes the Authorization header
 * a conforming client would send — and, on request, one no client would (wrong password, other uri, old nc), so the
 * server's refusals can be reached. Built on the core's own formatter and response function, which the RFC test
 * vectors check (test/auth/digest/verify.test.ts).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { challengesFor } from '../../src/auth/challenges.js';
import { algorithmFromName, ha1Verifier, hashOf, userhashOf, type DigestAlgorithm } from '../../src/auth/digest/algorithms.js';
import { formatDigestAuthorization, ncHex, type DigestQop } from '../../src/auth/digest/authorization.js';
import { parseAuthParams } from '../../src/auth/digest/parameters.js';
import { responseFor } from '../../src/auth/digest/verify.js';
import type { AuthenticationSettings } from '../../src/config/schema.js';
import { isHttpError } from '../../src/pipeline/errors.js';
import { authenticateRequest } from '../../src/pipeline/stages/authenticate-request.js';
import type { ConnectionInfo } from '../../src/server/connection.js';
import type { SecurityServices } from '../../src/security/services.js';

export interface DigestChallengeLine {
  readonly realm: string;
  readonly nonce: string;
  readonly algorithm: DigestAlgorithm;
  readonly qop: readonly string[];
  readonly opaque: string | undefined;
  readonly stale: boolean;
  readonly userhash: boolean;
  readonly charset: string | undefined;
}

/** The Digest lines among WWW-Authenticate values (one value per line, as Node's rawHeaders or HttpError keep them). */
export function digestChallenges(lines: readonly string[] | string | undefined): DigestChallengeLine[] {
  const all = lines === undefined ? [] : typeof lines === 'string' ? [lines] : lines;
  const out: DigestChallengeLine[] = [];
  for (const line of all) {
    if (!/^Digest /i.test(line)) continue;
    const parsed = parseAuthParams(line.slice('Digest '.length));
    if ('error' in parsed) throw new Error(`unparsable Digest challenge ${line}: ${parsed.error}`);
    const get = (name: string) => parsed.params.get(name)?.value;
    const algorithm = algorithmFromName(get('algorithm') ?? 'MD5');
    if (!algorithm) throw new Error(`unknown algorithm in ${line}`);
    out.push({
      // The realm travels as UTF-8 bytes (latin1 characters in Node's strings).
      realm: Buffer.from(get('realm') ?? '', 'latin1').toString('utf8'),
      nonce: get('nonce') ?? '',
      algorithm,
      qop: (get('qop') ?? '').split(',').map((q) => q.trim()).filter(Boolean),
      opaque: get('opaque'),
      stale: (get('stale') ?? '').toLowerCase() === 'true',
      userhash: (get('userhash') ?? '').toLowerCase() === 'true',
      charset: get('charset'),
    });
  }
  return out;
}

/** WWW-Authenticate lines of a Node response, one per header line. */
export function challengeLinesOf(rawHeaders: readonly string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'www-authenticate') lines.push(rawHeaders[i + 1]!);
  return lines;
}

export interface DigestAnswer {
  readonly user: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
  readonly nc?: number;
  readonly cnonce?: string;
  /** Default: auth when offered. undefined with `noQop` for RFC 2069 style. */
  readonly qop?: DigestQop;
  readonly noQop?: boolean;
  /** Hash the user name (RFC 7616 §3.4.4). */
  readonly userhash?: boolean;
  readonly usernameStar?: boolean;
  /** Send this algorithm name instead of the challenge's (the response still uses the challenge's). */
  readonly algorithmName?: string;
  /** Send another realm than the challenge's (the response uses the one sent). */
  readonly realm?: string;
  readonly opaque?: string | null;
  readonly entityBodyHash?: string;
}

/** The Authorization header answering `challenge`. */
export function digestAuthorization(challenge: DigestChallengeLine, a: DigestAnswer): string {
  const realm = a.realm ?? challenge.realm;
  const hash = hashOf(challenge.algorithm);
  const qop = a.noQop ? undefined : (a.qop ?? 'auth');
  const nc = a.nc ?? 1;
  const cnonce = a.cnonce ?? randomBytes(8).toString('hex');
  const ha1 = ha1Verifier(hash, a.user, realm, a.password);
  const response = responseFor({
    algorithm: challenge.algorithm,
    ha1,
    method: a.method,
    uri: a.uri,
    nonce: challenge.nonce,
    ...(qop !== undefined || challenge.algorithm.endsWith('-sess') ? { cnonce } : {}),
    ...(qop !== undefined && { qop, nc: ncHex(nc) }),
    ...(a.entityBodyHash !== undefined && { entityBodyHash: a.entityBodyHash }),
  });
  const opaque = a.opaque === null ? undefined : (a.opaque ?? challenge.opaque);
  return formatDigestAuthorization({
    username: a.userhash ? userhashOf(hash, a.user, realm) : a.user,
    usernameStar: a.usernameStar ?? false,
    userhash: a.userhash ?? false,
    realm,
    nonce: challenge.nonce,
    uri: a.uri,
    response,
    algorithm: a.algorithmName ?? challenge.algorithm,
    ...(qop !== undefined || challenge.algorithm.endsWith('-sess') ? { cnonce } : {}),
    ...(opaque !== undefined && { opaque }),
    ...(qop !== undefined && { qop, nc, ncText: ncHex(nc) }),
  });
}

/** The Digest lines of the 401 an unauthenticated GET /secure/ gets under `settings` (a fresh nonce), strongest first. */
export function challengeFromStage(settings: AuthenticationSettings, security: SecurityServices, connection: ConnectionInfo): DigestChallengeLine[] {
  const result = authenticateRequest(
    {
      req: { headers: { host: 'h' }, method: 'GET', url: '/secure/' } as unknown as IncomingMessage,
      connection,
      settings,
      applicationPool: 'DefaultAppPool',
      traceId: 't',
      host: 'h',
      challenges: challengesFor(settings, connection, 'h', security),
    },
    security,
  );
  if (!isHttpError(result)) throw new Error('an unauthenticated request was not refused');
  return digestChallenges(result.headers?.['WWW-Authenticate'] as string[]);
}
