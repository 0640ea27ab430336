/**
 * The Digest nonce key: 32 random bytes in the state folder, made at first run. Nonces are stateless (an HMAC under
 * this key, src/auth/digest/nonce.ts), so every worker of the installation must hold the same key, and it must outlive
 * restarts: a nonce handed out before a restart or by another pool's worker is still valid.
 *
 * Created with mode 0600 by whoever prepares the state folder; under the launcher (root), shareStateWithWorkers then
 * gives the `persona` group read access (0640 root:persona), as for the machine identity. The key is a secret: whoever
 * holds it can mint nonces (not logons: a nonce proves nothing without the password-equivalent verifier).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

export const DIGEST_KEY_BYTES = 32;

export function digestKeyFile(home: string): string {
  return path.join(home, 'digest.key');
}

/** Reads the key; a file of another size is an error (a truncated key must not silently become a weaker one). */
export async function readDigestKey(file: string): Promise<Buffer> {
  const key = await readFile(file);
  if (key.length !== DIGEST_KEY_BYTES) throw new Error(`${file} is not a Digest nonce key (${key.length} bytes, expected ${DIGEST_KEY_BYTES}); remove it to have a new one made`);
  return key;
}

/**
 * The key in `file`, made when missing. Creation is atomic and never replaces a key: the bytes go to a temporary file
 * that is then hard-linked to the final name, which fails when another process made the key first (then its key is
 * the one read) — two processes starting together must not end up with two keys.
 */
export async function ensureDigestKey(file: string): Promise<{ key: Buffer; created: boolean }> {
  if (existsSync(file)) return { key: await readDigestKey(file), created: false };
  // Unique per call, not only per process: two calls of one process may race too.
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  let created = false;
  try {
    await handle.writeFile(randomBytes(DIGEST_KEY_BYTES));
    await handle.sync();
    await handle.close();
    await link(tmp, file);
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
  }
  return { key: await readDigestKey(file), created };
}
