/**
 * The pre-flight check of a Digest case, before any load, with the generator's own Digest client: the folder
 * refuses a request without credentials (401 offering Digest), refuses a wrong password (401), answers the right
 * one with 200 and the file's exact bytes on nc 1 and nc 2 of one nonce, and refuses nc 2 sent again (a replay).
 * A server that ignored the location, let anyone in, skipped the nc check or answered 401 to everything would
 * otherwise become a number.
 */
import { Http1Connection, type RawResponse } from './http1-client.js';
import { DigestSession, type DigestAccount } from './digest-session.js';

function describe(r: RawResponse): string {
  return `HTTP ${r.status} (${r.body.length} bytes)`;
}

/** null when the Digest folder behaves as above for `path`; otherwise what is wrong. */
export async function checkDigest(base: string, path: string, account: DigestAccount, expected: Buffer): Promise<string | null> {
  const url = new URL(base);
  const hostHeader = `${url.hostname}:${url.port}`;
  const c = await Http1Connection.open(url.hostname, Number(url.port));
  try {
    const session = await DigestSession.start(c, path, hostHeader, account);
    const wrong = await c.request(session.wrongRequest());
    if (wrong.status !== 401) return `a Digest request with a wrong password answered ${describe(wrong)}, expected 401: the response is not checked`;
    const firstBytes = session.nextRequest();
    if (!firstBytes.equals(session.slowRequest(1))) return 'the load generator\'s Digest request (one hash per request) differs from the one the Digest core makes';
    const first = await c.request(firstBytes);
    if (first.status !== 200 || !first.body.equals(expected)) return `Digest nc 1 for ${path} answered ${describe(first)}, expected 200 with the ${expected.length}-byte file`;
    const secondBytes = session.nextRequest();
    const second = await c.request(secondBytes);
    if (second.status !== 200 || !second.body.equals(expected)) return `Digest nc 2 on the same nonce answered ${describe(second)}, expected 200 with the file`;
    const replay = await c.request(secondBytes);
    if (replay.status !== 401) return `the same Digest request (nc 2) sent again answered ${describe(replay)}, expected 401: replays are not refused`;
    return null;
  } catch (e) {
    return `Digest pre-flight for ${path} failed: ${(e as Error).message}`;
  } finally {
    c.destroy();
  }
}
