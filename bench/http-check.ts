/**
 * Pre-flight checks before a server is measured: it answers, and it answers with the file. A server that sends
 * a fast 404 or a truncated body would otherwise produce a great-looking number.
 */
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function get(url: string, headers: Record<string, string>, timeoutMs = 5000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // agent:false so the check uses exactly the headers a case sends (Connection: close or keep-alive).
    const req = request(url, { method: 'GET', headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Polls until a GET answers 200, for at most `ms`. `dead` reports a server that exited meanwhile, so a crash
 * at start-up fails at once with its reason instead of after the whole wait.
 */
export async function waitReady(url: string, ms: number, dead: () => string | null): Promise<void> {
  const until = Date.now() + ms;
  let last = 'no attempt';
  while (Date.now() < until) {
    const why = dead();
    if (why) throw new Error(`server exited before it was ready: ${why}`);
    try {
      const r = await get(url, {}, 1000);
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`not ready after ${ms / 1000} s (last: ${last})`);
}

/** null when the reply is 200 with exactly `expected`; otherwise what is wrong. */
export async function checkBody(url: string, headers: Record<string, string>, expected: Buffer): Promise<string | null> {
  let r: Reply;
  try {
    r = await get(url, headers);
  } catch (e) {
    return `GET ${url} failed: ${(e as Error).message}`;
  }
  if (r.status !== 200) return `GET ${url} answered ${r.status}, expected 200`;
  if (!r.body.equals(expected)) return `GET ${url} returned ${r.body.length} bytes that differ from the ${expected.length} expected (the file, or the case's expected body)`;
  return null;
}

/**
 * null when the reply without credentials is 401 with a Basic challenge; otherwise what is wrong. An
 * authentication case is only a number if the server really refuses the request without them.
 */
export async function checkChallenge(url: string, headers: Record<string, string>): Promise<string | null> {
  const anonymous = Object.fromEntries(Object.entries(headers).filter(([k]) => !/^authorization$/i.test(k)));
  let r: Reply;
  try {
    r = await get(url, anonymous);
  } catch (e) {
    return `GET ${url} without credentials failed: ${(e as Error).message}`;
  }
  if (r.status !== 401) return `GET ${url} without credentials answered ${r.status}, expected 401: the folder is not protected`;
  const challenges = ([] as string[]).concat(r.headers['www-authenticate'] ?? []);
  if (!challenges.some((c) => /^basic\b/i.test(c))) return `GET ${url} without credentials answered 401 without a Basic challenge (WWW-Authenticate: ${challenges.join(', ') || 'none'})`;
  return null;
}
