/**
 * OS accounts by name, as the kernel will see a process started for them: uid, primary gid, supplementary groups,
 * home. Resolved through NSS (`getent passwd`, `id -G`), so LDAP/SSSD accounts work like local ones; Node has no
 * getpwnam. Results are cached briefly: an account added with useradd is found within seconds, and a request
 * storm does not fork one `getent` per request.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { OsAccount } from './spawn.js';

const run = promisify(execFile);
const CACHE_MS = 5_000;
const cache = new Map<string, { readonly at: number; readonly account: OsAccount | undefined }>();

/** Account names as useradd accepts them (and nothing a shell or getent could misread). */
const NAME = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

export function isValidAccountName(name: string): boolean {
  return NAME.test(name);
}

/** The account, or undefined when NSS does not know it. Throws only when the tools themselves are missing. */
export async function lookupOsAccount(name: string, now: number = Date.now()): Promise<OsAccount | undefined> {
  if (!isValidAccountName(name)) return undefined;
  const hit = cache.get(name);
  if (hit && now - hit.at < CACHE_MS) return hit.account;
  const account = await resolve(name);
  cache.set(name, { at: now, account });
  return account;
}

async function resolve(name: string): Promise<OsAccount | undefined> {
  let passwd: string;
  try {
    passwd = (await run('getent', ['passwd', name], { timeout: 5_000 })).stdout;
  } catch (error) {
    // getent exits 2 for "no such key".
    if ((error as { code?: unknown }).code === 2) return undefined;
    throw error;
  }
  const fields = passwd.trim().split('\n')[0]?.split(':') ?? [];
  if (fields.length < 7) return undefined;
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  const ids = (await run('id', ['-G', name], { timeout: 5_000 })).stdout.trim();
  const groups = ids === '' ? [gid] : ids.split(/\s+/).map(Number).filter(Number.isInteger);
  return { name: fields[0]!, uid, gid, groups, home: fields[5] ?? '/' };
}

/** Forget cached lookups (after the tests create or delete accounts). */
export function clearOsAccountCache(): void {
  cache.clear();
}
