/**
 * The token a login would produce, per scheme, without the secret: the same account checks and token construction
 * `logonUser` runs after a secret is verified (`accountToken`), the scheme's own preconditions (Basic over TLS or
 * loopback, an NT hash for NTLM, Digest verifiers for the realm), and the anonymous tokens the server makes. Nothing is
 * audited and no lockout is counted: an explanation is not a logon.
 */
import type { AccountStore } from '../accounts/types.js';
import type { AuthenticationSettings } from '../config/schema.js';
import { accountToken, splitAccountName } from '../security/logon.js';
import { iusrToken, processIdentityToken } from '../security/process-identity.js';
import type { Token } from '../security/token.js';
import { WELL_KNOWN_NAMES } from '../security/sid.js';
import type { ExplainScheme, LoginReport, TokenInfo } from './model.js';

export interface LoginInput {
  readonly store: AccountStore;
  readonly settings: AuthenticationSettings;
  readonly scheme: ExplainScheme;
  readonly user: string | undefined;
  readonly pool: string;
  /** The OS account the pool's worker runs as (the process identity's account). */
  readonly poolAccount: string;
  /** The connection is TLS, or from this machine: Basic is offered on such connections only unless allowCleartext. */
  readonly secure: boolean;
  readonly loopback: boolean;
}

const BUILT_IN_ANONYMOUS = new Set(['iusr', 'nt authority\\iusr']);

export function previewLogin(input: LoginInput): { readonly report: LoginReport; readonly token?: Token } {
  const { store, settings, scheme } = input;
  const refuse = (status: string, reason: string): { report: LoginReport } => ({ report: { scheme, ok: false, status, reason } });
  const made = (token: Token, reason: string, caching: string): { report: LoginReport; token: Token } => ({ report: { scheme, ok: true, reason, token: tokenInfo(token, store, caching) }, token });

  if (scheme === 'anonymous') {
    const a = settings.anonymous;
    if (!a.enabled) return refuse('401.2', 'anonymous authentication is disabled for this URL: the client must log on');
    if (a.userName === '') {
      return made(processIdentityToken(input.pool, input.poolAccount), `anonymous.userName is "": anonymous requests run as the process identity (pool ${input.pool})`, 'one token per pool, reused by every anonymous request');
    }
    if (BUILT_IN_ANONYMOUS.has(a.userName.toLowerCase())) {
      return made(iusrToken(a.logonMethod), `anonymous requests run as the built-in ${WELL_KNOWN_NAMES['S-1-5-17']} (anonymous.userName ${a.userName})`, 'one IUSR token, reused by every anonymous request');
    }
    const method = a.passwordSync ? 'Network' : a.logonMethod;
    // Password sync (IIS "Allow IIS to control password") checks no password: logonUser skips only that step.
    const how = a.passwordSync
      ? `anonymous requests log on as the configured account ${a.userName} with password sync: a network token, made without checking a password, that holds none`
      : `anonymous requests log on as the configured account ${a.userName} with logonMethod ${a.logonMethod}, if its configured password is right`;
    return account(input, a.userName, method, 'Anonymous', a.passwordSync, how, a.passwordSync ? 'token cache (userTokenTTL), keyed on the account' : 'token cache (userTokenTTL), keyed on the account and password');
  }
  if (scheme === 'negotiate' || scheme === 'cert') {
    return refuse('401.2', `${scheme === 'cert' ? 'client certificates' : 'Negotiate (Kerberos)'} are not implemented in this Persona yet: the server never offers or accepts them`);
  }
  if (input.user === undefined) return refuse('401.1', `a ${scheme} login needs a user (--as USER)`);
  if (scheme === 'basic') {
    const b = settings.basic;
    if (!b.enabled) return refuse('401.2', 'Basic is not enabled for this URL');
    if (!(input.secure || input.loopback || b.allowCleartext)) return refuse('403.4', 'Basic sends the password in clear: this URL accepts it only over HTTPS or from this machine (authentication.basic.allowCleartext)');
    return account(input, input.user, b.logonMethod, 'Basic', false, `Basic logon with logonMethod ${b.logonMethod}, if the password is right`, 'token cache (userTokenTTL), keyed on a keyed hash of the credentials; dropped at once when the account changes');
  }
  if (scheme === 'ntlm') {
    if (!settings.ntlm.enabled) return refuse('401.2', 'NTLM is not enabled for this URL');
    const user = store.findUser(splitAccountName(input.user, '', store.machineName).name);
    if (user && !user.ntlmEnabled) return refuse('401.1', `${user.name} has no NT hash stored, so NTLM cannot verify them (persona user passwd ${user.name} --ntlm)`);
    const persist = settings.ntlm.authPersistSingleRequest ? 'authPersistSingleRequest: every request authenticates again' : 'kept on the keep-alive connection (authPersistSingleRequest: false), for its host, until the account changes';
    return account(input, input.user, 'Network', 'NTLM', false, 'NTLMv2 logon (a network logon), if the response proves the password', persist);
  }
  // digest
  const d = settings.digest;
  if (!d.enabled) return refuse('401.2', 'Digest is not enabled for this URL');
  const realm = d.realm || store.machineName;
  const user = store.findUser(splitAccountName(input.user, '', store.machineName).name);
  if (user && !user.digestEnabled) return refuse('401.1', `${user.name} has no Digest verifiers (persona user passwd ${user.name} --digest)`);
  if (!store.digestRealms().includes(realm)) return refuse('401.1', `the Digest realm "${realm}" has no verifiers in the account store (persona digest realms add "${realm}", then set the passwords again)`);
  return account(input, input.user, 'Network', 'Digest', false, `Digest logon (${d.algorithms.join(', ')}; realm "${realm}"), a network logon, if the response proves the password`, 'token cache per nonce: later requests with the same nonce and a higher nc reuse the logon');
}

function account(
  input: LoginInput,
  typed: string,
  method: 'Interactive' | 'Batch' | 'Network' | 'ClearText',
  authPackage: Token['authPackage'],
  sync: boolean,
  reason: string,
  caching: string,
): { report: LoginReport; token?: Token } {
  const { store, scheme } = input;
  const { name, domain } = splitAccountName(typed, '', store.machineName);
  if (domain.toUpperCase() !== store.machineName.toUpperCase()) {
    return { report: { scheme, ok: false, status: '401.1', reason: `domain "${domain}" is not this machine (${store.machineName}); domain accounts are not supported yet (STATUS_NO_SUCH_USER)` } };
  }
  const user = store.findUser(name);
  if (!user) return { report: { scheme, ok: false, status: '401.1', reason: `no local user "${name}" on ${store.machineName} (STATUS_NO_SUCH_USER)` } };
  const lockout = store.lockoutState(user.sid, Date.now());
  if (lockout.lockedOut) return { report: { scheme, ok: false, status: '401.1', reason: `${user.name} is locked out (STATUS_ACCOUNT_LOCKED_OUT)` } };
  const made = accountToken(store, user, method, authPackage, sync, Date.now());
  if (!made.ok) return { report: { scheme, ok: false, status: '401.1', reason: `${made.reason} (${made.status})` } };
  return { report: { scheme, ok: true, reason, token: tokenInfo(made.token, store, caching) }, token: made.token };
}

export function tokenInfo(token: Token, store: AccountStore, caching: string): TokenInfo {
  const name = (sid: string, given?: string): string => given ?? WELL_KNOWN_NAMES[sid] ?? store.nameOf(sid);
  return {
    user: { sid: token.user.sid, name: token.user.name },
    groups: token.groups.map((g) => ({ sid: g.sid, name: name(g.sid, g.name) })),
    logonType: token.logonType,
    authPackage: token.authPackage,
    privileges: [...token.privileges],
    delegable: token.delegation.kind !== 'none',
    delegation: token.delegation.reason,
    osAccount: token.osAccount ?? null,
    caching,
  };
}
