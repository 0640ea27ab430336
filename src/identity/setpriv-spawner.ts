/**
 * The root-side spawner: starts a process as an OS account with util-linux `setpriv` (MODEL.md §8). Only the
 * launcher (root) uses it; workers reach it through the spawn broker.
 *
 * Why setpriv: "as the account" means its uid, its primary gid AND its supplementary groups — what a login gives it,
 * and what group-based file permissions are checked against. Node's `spawn({ uid, gid })` calls setgid/setuid but
 * clears the supplementary groups (setgroups(0)), so a CGI of a user in group "web-editors" would lose that group.
 * `setpriv --init-groups` calls initgroups(3) for the target uid, as login does.
 *
 * Why `--inh-caps=-all`: the launcher, as root, has every capability; the switch to a non-zero uid already clears the
 * permitted, effective and ambient sets (capabilities(7)), and emptying the inheritable set too means no capability
 * can come back through an exec of a file with inheritable file capabilities.
 *
 * Why not `--no-new-privs`: the process must be exactly what the account gets when it logs in, no less. no_new_privs
 * would also disable the setuid/setgid helpers every account may use — e.g. PHP's mail() through sendmail/postdrop
 * (setgid), or ping on older systems — and CGI programs would fail in ways they never do under the account otherwise.
 * It adds no protection beyond what the account already has: a setuid program grants the same to any local user.
 *
 * Why the working directory is entered as the account (coreutils `env -C DIR` after the switch) rather than by
 * spawn's `cwd`: a chdir done by root before the switch would hand the process a directory its account may not reach
 * (an ancestor without search permission for it), and "./" would then work around that permission. So the process
 * starts in "/" and changes directory as the account; a directory it may not enter makes `env` fail (exit 125, with
 * the reason on stderr), as it would for the account itself. Not a shell: sh would add PWD/OLDPWD to the
 * environment, which must be exactly the request's. `env` takes a leading NAME=VALUE operand as an assignment, so a
 * program path containing "=" is started through a second, option-less `setpriv --` (which only execs).
 */
import { accessSync, constants } from 'node:fs';
import os from 'node:os';
import { startProcess } from './current-account-spawner.js';
import { lookupOsAccount } from './os-accounts.js';
import type { OsAccount, ProcessSpawner, SpawnedProcess, SpawnRefusal, SpawnRequest } from './spawn.js';

export const SETPRIV = '/usr/bin/setpriv';
const ENV = '/usr/bin/env';

export interface SetprivSpawnerOptions {
  /** A further policy on resolved accounts (e.g. no system accounts): a reason refuses with 403.19. */
  refuse?(account: OsAccount, request: SpawnRequest): string | undefined;
}

/** Why setprivSpawner cannot be used in this process, or undefined when it can. */
export function setprivUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'Persona is not running as root, so it cannot start processes as other OS accounts';
  for (const [tool, pkg] of [[SETPRIV, 'util-linux'], [ENV, 'coreutils']] as const) {
    try {
      accessSync(tool, constants.X_OK);
    } catch {
      return `${tool} (${pkg}) is missing, so processes cannot be started as other OS accounts with their supplementary groups`;
    }
  }
  return undefined;
}

/**
 * setpriv's arguments to run `file args` in `cwd` as `account` (uid, gid, its groups, no capabilities). Pure; also
 * what the launcher uses to start a worker as its pool account.
 */
export function setprivArgs(account: OsAccount, file: string, args: readonly string[], cwd: string): string[] {
  const program = file.includes('=') ? [SETPRIV, '--', file] : [file];
  return [`--reuid=${account.uid}`, `--regid=${account.gid}`, '--init-groups', '--inh-caps=-all', '--', ENV, '-C', cwd, ...program, ...args];
}

/** Throws when not usable (not root, no setpriv): the caller checks setprivUnavailableReason() first. */
export function setprivSpawner(options: SetprivSpawnerOptions = {}): ProcessSpawner {
  const unavailable = setprivUnavailableReason();
  if (unavailable) throw new Error(`setprivSpawner: ${unavailable}`);
  return {
    capability: {
      canSwitchAccounts: true,
      processAccount: os.userInfo().username,
      reason: 'Persona runs as root: processes are started as their OS account (uid, gid and supplementary groups) with setpriv',
    },
    spawn: (request) => spawnAs(request, options),
  };
}

async function spawnAs(request: SpawnRequest, options: SetprivSpawnerOptions): Promise<SpawnedProcess | SpawnRefusal> {
  const refused = (status: number, substatus: number, reason: string): SpawnRefusal => ({ kind: 'refused', status, substatus, reason });
  if (!request.file.startsWith('/') || !request.cwd.startsWith('/')) {
    // The environment is exactly the request's, usually without PATH: a relative name would be looked up nowhere.
    return refused(500, 0, `cannot run ${request.purpose}: the program and the working directory must be absolute paths`);
  }
  let account: OsAccount | undefined;
  try {
    account = await lookupOsAccount(request.account);
  } catch (error) {
    return refused(500, 0, `cannot run ${request.purpose}: looking up OS account "${request.account}" failed: ${(error as Error).message}`);
  }
  if (!account) return refused(500, 0, `cannot run ${request.purpose}: OS account "${request.account}" is unknown to NSS (getent passwd)`);
  if (account.uid === 0) {
    return refused(403, 19, `cannot run ${request.purpose} as OS account "${account.name}": it is uid 0 (root), and no request code ever runs as root`);
  }
  const policy = options.refuse?.(account, request);
  if (policy !== undefined) return refused(403, 19, `cannot run ${request.purpose} as OS account "${account.name}": ${policy}`);
  return startProcess({ ...request, cwd: '/' }, account, SETPRIV, setprivArgs(account, request.file, request.args, request.cwd));
}
