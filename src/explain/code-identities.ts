/**
 * Who runs each kind of code for a URL (MODEL.md §1, §6, §8), from the decision functions the handlers call:
 * cgiIdentity (CGI, FastCGI's impersonate, spawnAsUser), moduleIdentity (JS handler modules), the process identity
 * (filters, revertToSelf, plain child_process). Each with its OS account as the kernel will see it, and whether it can
 * reach a network resource as the user.
 */
import type { Settings } from '../config/schema.js';
import { cgiIdentity, type CgiIdentity } from '../identity/cgi-identity.js';
import { lookupOsAccount } from '../identity/os-accounts.js';
import { moduleIdentity, type FixedLogon } from '../handlers/module/identity.js';
import type { Token } from '../security/token.js';
import type { CodeIdentity, OsIdentity } from './model.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CodeIdentityInput {
  readonly settings: Settings;
  /** The request token; undefined when the login fails (only the process identity's code runs then: filters). */
  readonly token: Token | undefined;
  readonly processToken: Token;
  readonly pool: { readonly name: string; readonly replaceProcessToken: boolean };
  readonly poolAccount: string;
  /** The fixed account's token (identity.userName), previewed by the caller. */
  readonly fixed?: FixedLogon;
  /**
   * Whether processes can be started as other OS accounts (Persona runs as root). Without it the worker's spawner
   * starts processes as its own account only and refuses any other with 403.19 (current-account-spawner.ts).
   */
  readonly canSwitchAccounts: boolean;
  /** Groups the launcher adds to the worker's process beyond its account's own (the state group, shared-state.ts). */
  readonly workerGroups: readonly string[];
}

/** cgiIdentity's decision, then what the spawner does with it: without root, only the worker's own account. */
export function spawnDecision(decision: CgiIdentity, canSwitchAccounts: boolean, poolAccount: string): CgiIdentity {
  if (!decision.ok || canSwitchAccounts || decision.account === poolAccount) return decision;
  return {
    ok: false,
    status: 403,
    substatus: 19,
    reason: `Persona is not running as root, so it cannot start processes as other OS accounts: this would run as ${decision.account} (${decision.reason}), the worker runs as ${poolAccount}`,
  };
}

export async function codeIdentities(input: CodeIdentityInput): Promise<CodeIdentity[]> {
  const { settings, token, processToken, pool, poolAccount } = input;
  const processOs = await osIdentity(poolAccount, input.workerGroups);
  const inProcess = (t: Token): string =>
    t.delegation.kind === 'none'
      ? `cannot reach network resources as ${t.user.name}: ${t.delegation.reason}`
      : `can reach network resources as ${t.user.name} through Persona's identity-aware connectors: ${t.delegation.reason}`;
  const osProcess = (account: string): string =>
    `an OS process: no Windows credentials are passed to it (Persona never hands passwords to programs), so it reaches the network only as the Linux account ${account} — shares and services open to that account, nothing that needs the user's credentials`;
  const out: CodeIdentity[] = [
    {
      code: 'filter (request and logging hooks)',
      identity: processToken.user.name,
      os: processOs,
      network: inProcess(processToken),
      reason: 'filters always run as the process identity (MODEL.md §1), before and whatever the authentication',
    },
  ];
  if (!token) return out;

  const handler = moduleIdentity(settings.identity, token, processToken, input.fixed);
  out.push(
    handler.ok
      ? { code: 'JS handler module', identity: handler.token.user.name, os: processOs, network: inProcess(handler.token), reason: `${handler.reason}; its ACL checks use this token, its process is the worker (${poolAccount})` }
      : { code: 'JS handler module', identity: '-', os: processOs, refused: `500: ${handler.reason}`, network: '-', reason: handler.reason },
    {
      code: 'JS handler module after revertToSelf()',
      identity: processToken.user.name,
      os: processOs,
      network: inProcess(processToken),
      reason: 'revertToSelf() switches to the process identity (the application pool\'s)',
    },
  );

  // cgiIdentity words its reasons for CGI; the same decision is FastCGI's (fastcgi.impersonate) and spawnAsUser's.
  const reword = (text: string, kind: 'cgi' | 'fastcgi' | 'spawnAsUser'): string =>
    kind === 'cgi'
      ? text
      : kind === 'fastcgi'
        ? text.replace(/cgi\.createProcessAsUser is false/g, 'fastcgi.impersonate: false').replace(/cgi\.createProcessAsUser/g, 'fastcgi.impersonate').replace(/\bCGI\b/g, 'FastCGI')
        : text.replace(/, or set cgi\.createProcessAsUser: false/g, '').replace(/^cgi\.createProcessAsUser: /, 'spawnAsUser: ').replace(/run CGI as/g, 'start processes as').replace(/\bCGI\b/g, 'spawnAsUser');
  const osOf = async (asked: CgiIdentity, code: string, kind: 'cgi' | 'fastcgi' | 'spawnAsUser'): Promise<CodeIdentity> => {
    const decision = spawnDecision(asked, input.canSwitchAccounts, poolAccount);
    return decision.ok
      ? { code, identity: token.user.name, os: await osIdentity(decision.account), network: osProcess(decision.account), reason: reword(decision.reason, kind) }
      : { code, identity: token.user.name, os: null, refused: `${decision.status}.${decision.substatus}: ${reword(decision.reason, kind)}`, network: '-', reason: reword(decision.reason, kind) };
  };
  out.push(await osOf(cgiIdentity({ token, createProcessAsUser: settings.cgi.createProcessAsUser, pool, poolAccount }), `CGI (createProcessAsUser: ${settings.cgi.createProcessAsUser})`, 'cgi'));
  out.push(await osOf(cgiIdentity({ token, createProcessAsUser: settings.fastcgi.impersonate, pool, poolAccount }), `FastCGI (impersonate: ${settings.fastcgi.impersonate})`, 'fastcgi'));
  out.push({
    code: "a process a JS handler starts with node's child_process",
    identity: processToken.user.name,
    os: processOs,
    network: osProcess(poolAccount),
    reason: 'child_process starts processes as the worker itself, as CreateProcess does on Windows whatever the thread impersonates; use persona.spawnAsUser for the current identity',
  });
  if (handler.ok) {
    const spawnAs = cgiIdentity({ token: handler.token, createProcessAsUser: true, pool, poolAccount });
    out.push(await osOf(spawnAs, 'persona.spawnAsUser from a JS handler module', 'spawnAsUser'));
  }
  return out;
}

/**
 * uid, gid and group names as `id` prints them; null ids when the account does not exist on this machine. `extra`:
 * groups the process holds beyond the account's own (the worker's state group).
 */
export async function osIdentity(account: string, extra: readonly string[] = []): Promise<OsIdentity> {
  const found = await lookupOsAccount(account).catch(() => undefined);
  if (!found) return { account, uid: null, gid: null, groups: [] };
  let names: string[] = [];
  try {
    names = (await run('id', ['-Gn', '--', account], { timeout: 5_000 })).stdout.trim().split(/\s+/);
  } catch {
    names = found.groups.map(String);
  }
  const groups = found.groups.map((gid, i) => `${gid}(${names[i] ?? gid})`);
  for (const name of extra) {
    const line = await run('getent', ['group', name], { timeout: 5_000 }).then((r) => r.stdout.trim(), () => '');
    const gid = Number(line.split(':')[2]);
    if (line && Number.isInteger(gid) && !found.groups.includes(gid)) groups.push(`${gid}(${name})`);
  }
  return { account: found.name, uid: found.uid, gid: found.gid, groups };
}
