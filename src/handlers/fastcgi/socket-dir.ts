/**
 * Where a FastCGI process listens: a Unix socket that only that process's account and Persona's worker can reach.
 * It matters: whoever can connect to bob's php-cgi can run any script as bob (php-cgi makes its socket mode 0777,
 * so the folder is the only lock).
 *
 * Persona's worker is not root (it runs as its pool's account; only its pool's forker, the spawn broker, switches accounts),
 * so it cannot chown a folder to bob. Instead the folder is made BY the account, inside a parent that hands it the
 * worker's group:
 *
 * - the parent, os.tmpdir()/persona-fastcgi-<pid>, belongs to the worker, mode 3733: setgid (what is created in it
 *   gets the worker's group), sticky (nobody removes another's entry), writable and passable by all, listable by
 *   no one but the worker;
 * - each process is started as its account through `sh -c 'umask 007 && mkdir -m 0730 DIR && exec php-cgi … -b
 *   DIR/socket'`: a fresh folder per process (mkdir fails if the name exists, and never follows a link), owned by the
 *   account, group = the worker's group, mode 0730: the account writes its socket there, the worker's group may pass
 *   (connect) and remove the socket afterwards, no one else may even pass.
 * - once the socket answers, the worker checks the folder really is that (owner, group, mode, not a link).
 *
 * The same scheme works unchanged when Persona cannot switch accounts (the account is its own) or runs as root.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isValidAccountName } from '../../identity/os-accounts.js';
import type { OsAccount } from '../../identity/spawn.js';

export interface SocketDirError {
  readonly kind: 'socket-dir-error';
  readonly reason: string;
}

/** The shell the account runs to make its folder and become the FastCGI program (arguments: DIR program args…). */
export const LAUNCH_SCRIPT = 'umask 007 && mkdir -m 0730 -- "$1" && shift && exec "$@"';
export const SHELL = '/bin/sh';
const ROOT_MODE = 0o3733;
const DIR_MODE = 0o730;

export function fastCgiRoot(): string {
  return path.join(os.tmpdir(), `persona-fastcgi-${process.pid}`);
}

/** The parent folder, made (or checked: /tmp is shared, someone may have planted it) on demand. */
export function ensureSocketRoot(): { readonly root: string; readonly gid: number } | SocketDirError {
  const root = fastCgiRoot();
  try {
    mkdirSync(root, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return { kind: 'socket-dir-error', reason: `cannot create ${root}: ${(error as Error).message}` };
  }
  try {
    const st = lstatSync(root);
    if (!st.isDirectory()) return { kind: 'socket-dir-error', reason: `${root} exists and is not a folder` };
    if (st.uid !== process.getuid?.()) return { kind: 'socket-dir-error', reason: `${root} is owned by uid ${st.uid}, not by this process` };
    // mkdir's mode passes through the umask and cannot set setgid/sticky: set the whole mode afterwards.
    if ((st.mode & 0o7777) !== ROOT_MODE) chmodSync(root, ROOT_MODE);
    return { root, gid: st.gid };
  } catch (error) {
    return { kind: 'socket-dir-error', reason: `cannot secure ${root}: ${(error as Error).message}` };
  }
}

/** A new, unused folder name for one process of `account`. */
export function instanceDir(root: string, account: string): string | SocketDirError {
  // Account names are NSS names (no '/'); the check keeps a strange one from escaping the folder.
  if (!isValidAccountName(account) || account.startsWith('.')) return { kind: 'socket-dir-error', reason: `unexpected OS account name ${JSON.stringify(account)}` };
  return path.join(root, `${account}-${randomBytes(8).toString('hex')}`);
}

/** The folder the process made is what the scheme needs, else why not. */
export function checkInstanceDir(dir: string, account: OsAccount, gid: number): SocketDirError | undefined {
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) return { kind: 'socket-dir-error', reason: `${dir} is not a folder` };
    if (st.uid !== account.uid) return { kind: 'socket-dir-error', reason: `${dir} is owned by uid ${st.uid}, not by ${account.name} (${account.uid})` };
    if (st.gid !== gid) return { kind: 'socket-dir-error', reason: `${dir} has group ${st.gid}, not this process's ${gid}` };
    if ((st.mode & 0o777) !== DIR_MODE) return { kind: 'socket-dir-error', reason: `${dir} has mode ${(st.mode & 0o777).toString(8)}, not 730` };
    return undefined;
  } catch (error) {
    return { kind: 'socket-dir-error', reason: `cannot check ${dir}: ${(error as Error).message}` };
  }
}

/** The socket's name in its folder. */
export const SOCKET_NAME = 'socket';

/**
 * Removes a process's socket and folder. The worker may (group w+x on the folder, owner of the sticky parent) but
 * cannot list the folder (no r): the socket is removed by its known name, then the folder.
 */
export function removeInstanceDir(dir: string): void {
  try {
    rmSync(path.join(dir, SOCKET_NAME), { force: true });
    rmdirSync(dir);
  } catch {
    // Best effort: at worst an empty folder stays in /tmp until the parent goes.
  }
}

/** Removes every socket folder of this process (at exit: the processes are gone with it). */
export function removeSocketDirs(): void {
  const root = fastCgiRoot();
  try {
    for (const name of readdirSync(root)) removeInstanceDir(path.join(root, name));
    rmdirSync(root);
  } catch {
    // Best effort at exit.
  }
}
