/**
 * Which OS account runs a CGI program (MODEL.md §1, §8; IIS's CreateProcessAsUser): a pure decision with its
 * reason, used by the handler and by `explain` alike.
 *
 * - createProcessAsUser: true (default) — the request token's OS account: a local user's mapped account
 *   (`persona user set NAME --os-account U`); IUSR and ANONYMOUS LOGON → the anonymous OS account (nobody); the
 *   process identity (anonymous with userName "") → the pool's account. A user without a mapping cannot run code as
 *   themselves: 403.19 with the reason, never a silent fallback to another account.
 * - createProcessAsUser: false — the pool's account, whoever the user is (IIS: the application pool identity).
 * - Starting a process as an account other than the pool's needs the pool's replaceProcessToken (IIS "Replace a
 *   process level token"), else 403.19.
 */
import { WellKnownSid } from '../security/sid.js';
import type { Token } from '../security/token.js';

/** The OS account IUSR and ANONYMOUS LOGON run as: the account Unix keeps for "nobody in particular". */
export const ANONYMOUS_OS_ACCOUNT = 'nobody';

export interface CgiIdentityInput {
  readonly token: Token;
  readonly createProcessAsUser: boolean;
  readonly pool: { readonly name: string; readonly replaceProcessToken: boolean };
  /** The OS account the pool's worker runs as. */
  readonly poolAccount: string;
}

export type CgiIdentity =
  | { readonly ok: true; readonly account: string; readonly reason: string }
  | { readonly ok: false; readonly status: 403; readonly substatus: 19; readonly reason: string };

export function cgiIdentity(input: CgiIdentityInput): CgiIdentity {
  const { token, pool, poolAccount } = input;
  if (!input.createProcessAsUser) {
    return { ok: true, account: poolAccount, reason: `cgi.createProcessAsUser is false: CGI runs as application pool ${pool.name}'s account ${poolAccount}, whoever the user is` };
  }
  const wanted = tokenAccount(token, poolAccount);
  if (!wanted.ok) return wanted;
  if (wanted.account !== poolAccount && !pool.replaceProcessToken) {
    return {
      ok: false,
      status: 403,
      substatus: 19,
      reason: `CGI would run as ${wanted.account} (${wanted.reason}), but application pool ${pool.name} is not granted replaceProcessToken (IIS: "Replace a process level token")`,
    };
  }
  return { ok: true, account: wanted.account, reason: `cgi.createProcessAsUser: ${wanted.reason}` };
}

function tokenAccount(token: Token, poolAccount: string): CgiIdentity {
  if (token.authPackage === 'Process') return { ok: true, account: poolAccount, reason: `the request runs as the process identity ${token.user.name}, whose OS account is ${poolAccount}` };
  if (token.user.sid === WellKnownSid.Iusr || token.user.sid === WellKnownSid.AnonymousLogon) {
    return { ok: true, account: ANONYMOUS_OS_ACCOUNT, reason: `${token.user.name} runs as the anonymous OS account ${ANONYMOUS_OS_ACCOUNT}` };
  }
  if (token.osAccount) return { ok: true, account: token.osAccount, reason: `${token.user.name} is mapped to the OS account ${token.osAccount}` };
  return {
    ok: false,
    status: 403,
    substatus: 19,
    reason: `${token.user.name} has no OS account to run CGI as (map one: persona user set ${token.user.name.split('\\').pop()} --os-account NAME, or set cgi.createProcessAsUser: false)`,
  };
}
