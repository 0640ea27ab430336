/**
 * The pre-flight check of an NTLM case, before any load: with the generator's own client and handshake code, the
 * folder refuses a request without credentials (401 offering NTLM), refuses a handshake with a wrong password
 * (401), and a handshake with the right one ends in 200 with the file's exact bytes — and the connection then stays
 * authenticated: a request without Authorization on it gets the file too. A server that ignored the location, let
 * anyone in, or answered 401 to everything would otherwise become a number.
 */
import { getRequest, header, Http1Connection, type RawResponse } from './http1-client.js';
import { ntlmHandshake, type NtlmAccount } from './ntlm-handshake.js';

function describe(r: RawResponse): string {
  return `HTTP ${r.status} (${r.body.length} bytes)`;
}

async function withConnection<T>(host: string, port: number, use: (c: Http1Connection) => Promise<T>): Promise<T> {
  const c = await Http1Connection.open(host, port);
  try {
    return await use(c);
  } finally {
    c.destroy();
  }
}

/** null when the NTLM folder behaves as above for `path`; otherwise what is wrong. */
export async function checkNtlm(base: string, path: string, account: NtlmAccount, expected: Buffer): Promise<string | null> {
  const url = new URL(base);
  const host = url.hostname;
  const port = Number(url.port);
  const hostHeader = `${host}:${port}`;
  const bad = (r: RawResponse): boolean => r.status !== 200 || !r.body.equals(expected);
  try {
    const anonymous = await withConnection(host, port, (c) => c.request(getRequest(path, hostHeader)));
    if (anonymous.status !== 401) return `GET ${path} without credentials answered ${describe(anonymous)}, expected 401: the folder is not protected`;
    const offers = header(anonymous.head, 'www-authenticate');
    if (!offers.some((o) => /^NTLM$/i.test(o))) return `GET ${path} without credentials answered 401 without offering NTLM (WWW-Authenticate: ${offers.join(', ') || 'none'})`;

    const wrong = await withConnection(host, port, (c) => ntlmHandshake(c, path, hostHeader, { user: account.user, password: `${account.password}-wrong` }));
    if (wrong.final.status !== 401) return `an NTLM handshake with a wrong password ended in ${describe(wrong.final)}, expected 401: the proof is not checked`;

    return await withConnection(host, port, async (c) => {
      const { final } = await ntlmHandshake(c, path, hostHeader, account);
      if (bad(final)) return `the NTLM handshake for ${path} ended in ${describe(final)}, expected 200 with the ${expected.length}-byte file`;
      const after = await c.request(getRequest(path, hostHeader));
      if (bad(after)) return `after the handshake, GET ${path} without Authorization on the same connection answered ${describe(after)}, expected 200 with the file: the connection did not stay authenticated`;
      return null;
    });
  } catch (e) {
    return `NTLM pre-flight for ${path} failed: ${(e as Error).message}`;
  }
}
