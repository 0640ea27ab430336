/**
 * The state a worker needs, shared through one group (MODEL.md §8): workers run as their pool's unprivileged
 * account, yet write logs and the account store's lockout counters and read the configuration. The launcher (root)
 * makes a system group `persona`, gives it group access to the state folder — never taking away what others
 * already had — and starts workers with that group added to their supplementary groups (setpriv --groups), so no
 * system account is changed. Programs the workers start as users (CGI) do not get the group.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const STATE_GROUP = 'persona';

/** The gid of the state group, made (as a system group) when missing. */
export async function ensureStateGroup(): Promise<number> {
  const lookup = async (): Promise<number | undefined> => {
    try {
      const line = (await run('getent', ['group', STATE_GROUP])).stdout.trim();
      const gid = Number(line.split(':')[2]);
      return Number.isInteger(gid) ? gid : undefined;
    } catch {
      return undefined;
    }
  };
  const found = await lookup();
  if (found !== undefined) return found;
  await run('groupadd', ['--system', STATE_GROUP]);
  const made = await lookup();
  if (made === undefined) throw new Error(`groupadd --system ${STATE_GROUP} ran, but the group cannot be found`);
  return made;
}

/** Adds group bits (and setgid on folders, so files the worker creates stay in the group); removes nothing. */
async function share(target: string, gid: number, recursive: boolean, fileBits = 0o060): Promise<void> {
  if (!existsSync(target)) return;
  const info = await stat(target);
  await chown(target, info.uid, gid);
  if (info.isDirectory()) {
    await chmod(target, (info.mode & 0o7777) | 0o2070);
    if (recursive) for (const entry of await readdir(target)) await share(path.join(target, entry), gid, true, fileBits);
  } else {
    await chmod(target, (info.mode & 0o7777) | fileBits);
  }
}

export interface SharedPaths {
  readonly home: string;
  readonly configFile: string;
  readonly machineFile: string;
  /** Read by every worker (nonces must validate in any of them); absent for callers that predate Digest. */
  readonly digestKeyFile?: string;
  readonly logDirectory: string;
  readonly runDirectory: string;
  readonly accountsDatabase: string;
  readonly auditLog: string;
}

export async function shareStateWithWorkers(paths: SharedPaths, gid: number): Promise<void> {
  await share(paths.home, gid, false);
  await share(paths.runDirectory, gid, true);
  await share(paths.logDirectory, gid, true);
  await share(path.dirname(paths.auditLog), gid, false);
  await share(paths.auditLog, gid, false);
  // SQLite creates -wal and -shm next to the database: its folder must be group-writable too.
  await share(path.dirname(paths.accountsDatabase), gid, false);
  for (const suffix of ['', '-wal', '-shm']) await share(paths.accountsDatabase + suffix, gid, false);
  // Read, not write: workers never change the configuration or the machine identity.
  await share(paths.configFile, gid, false, 0o040);
  await share(paths.machineFile, gid, false, 0o040);
  if (paths.digestKeyFile !== undefined) await share(paths.digestKeyFile, gid, false, 0o040);
}
