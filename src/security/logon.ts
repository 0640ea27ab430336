/**
 * logonUser (MODEL.md §2–§3): the only way a token is made from a name and a password. It checks the account in
 * Windows' order, counts a wrong password exactly once toward lockout, answers with Windows' NTSTATUS status and
 * sub-status (as event 4625 shows them), and writes exactly one audit event per call. Clients never learn which
 * check failed (they get 401.1); the audit log and the reason say it for the administrator.
 */
import { randomBytes } from 'node:crypto';
import { verifyNothing } from '../accounts/password.js';
import type { AccountStore, UserRecord } from '../accounts/types.js';
import type { AuditLog } from './audit.js';
import { attachCredentials } from './credentials.js';
import {
  buildToken,
  isPrivilege,
  LogonType,
  logonTypeOf,
  requiredLogonRight,
  tokenSids,
  type AuthPackage,
  type Delegation,
  type LogonMethod,
  type LogonTypeName,
  type Principal,
  type Token,
} from './token.js';

export type NtStatus =
  | 'STATUS_SUCCESS'
  | 'STATUS_LOGON_FAILURE'
  | 'STATUS_WRONG_PASSWORD'
  | 'STATUS_NO_SUCH_USER'
  | 'STATUS_ACCOUNT_DISABLED'
  | 'STATUS_ACCOUNT_LOCKED_OUT'
  | 'STATUS_LOGON_TYPE_NOT_GRANTED'
  | 'STATUS_PASSWORD_EXPIRED'
  | 'STATUS_PASSWORD_MUST_CHANGE'
  | 'STATUS_NTLM_BLOCKED'
  | 'STATUS_TIME_DIFFERENCE_AT_DC'
  | 'STATUS_BAD_BINDINGS'
  | 'STATUS_INVALID_PARAMETER';

export const NTSTATUS_CODES: Record<NtStatus, number> = {
  STATUS_SUCCESS: 0x00000000,
  STATUS_LOGON_FAILURE: 0xc000006d,
  STATUS_WRONG_PASSWORD: 0xc000006a,
  STATUS_NO_SUCH_USER: 0xc0000064,
  STATUS_ACCOUNT_DISABLED: 0xc0000072,
  STATUS_ACCOUNT_LOCKED_OUT: 0xc0000234,
  STATUS_LOGON_TYPE_NOT_GRANTED: 0xc000015b,
  STATUS_PASSWORD_EXPIRED: 0xc0000071,
  STATUS_PASSWORD_MUST_CHANGE: 0xc0000224,
  STATUS_NTLM_BLOCKED: 0xc0000418,
  STATUS_TIME_DIFFERENCE_AT_DC: 0xc0000133,
  STATUS_BAD_BINDINGS: 0xc000035b,
  STATUS_INVALID_PARAMETER: 0xc000000d,
};

/** As event viewers print them: `0xC000006D`, and `0x0` for success. */
export function ntStatusHex(status: NtStatus): string {
  const code = NTSTATUS_CODES[status];
  return code === 0 ? '0x0' : `0x${code.toString(16).toUpperCase().padStart(8, '0')}`;
}

export interface LogonRequest {
  /** As the client gave it: `MACHINE\user`, `user@REALM` or bare `user` (then `domain` is undefined). */
  readonly name: string;
  /** An explicit domain (e.g. from configuration); undefined or '' = take it from `name` or `defaultLogonDomain`. */
  readonly domain: string | undefined;
  readonly password: string;
  readonly logonMethod: LogonMethod;
  readonly authPackage: AuthPackage;
  /** The domain of a bare name; '' or '.' = this machine. */
  readonly defaultLogonDomain: string;
  readonly clientAddress: string;
  /**
   * IIS's anonymous password synchronization: the server makes a token for the configured anonymous account
   * without knowing its password (the IIS subauthenticator), so the password is NOT verified and not counted.
   * Such a token is always a Network logon with no delegable credentials. Set only from configuration, never
   * from anything a client sends.
   */
  readonly passwordSync?: boolean;
  /**
   * A challenge/response proof (NTLM, later Digest) checked instead of `password` (which is then ''): the client
   * proved knowledge of a password-equivalent verifier, so no clear text exists and the logon method must be Network.
   */
  readonly proof?: LogonProof;
}

/** Checks a client's proof against the account's stored verifier, after the lockout check and before the others. */
export interface LogonProof {
  verify(account: UserRecord): ProofResult | Promise<ProofResult>;
}

export type ProofResult =
  | { readonly ok: true; readonly detail?: string }
  | {
      readonly ok: false;
      /** True when the proof was well formed but wrong: counted toward lockout as a wrong password. */
      readonly wrongPassword: boolean;
      readonly status: NtStatus;
      readonly subStatus: NtStatus;
      readonly reason: string;
    };

export type LogonResult =
  | { ok: true; token: Token }
  | { ok: false; status: NtStatus; subStatus: NtStatus; reason: string /* for logs only */ };

/**
 * Splits the name forms of MODEL.md §2: `DOMAIN\user` (first backslash), `user@REALM` (last @: the name part
 * may itself hold an @), bare `user` (the default logon domain). `.` and an empty domain mean this machine, and
 * come back as `machineName`, so callers compare one spelling.
 */
export function splitAccountName(raw: string, defaultLogonDomain: string, machineName: string): { name: string; domain: string } {
  const local = (domain: string): string => (domain === '' || domain === '.' ? machineName : domain);
  const backslash = raw.indexOf('\\');
  if (backslash !== -1) {
    const domain = raw.slice(0, backslash);
    return { name: raw.slice(backslash + 1), domain: domain === '' ? local(defaultLogonDomain) : local(domain) };
  }
  const at = raw.lastIndexOf('@');
  if (at !== -1) {
    const realm = raw.slice(at + 1);
    return { name: raw.slice(0, at), domain: realm === '' ? local(defaultLogonDomain) : local(realm) };
  }
  return { name: raw, domain: local(defaultLogonDomain) };
}

function isThisMachine(domain: string, machineName: string): boolean {
  // NetBIOS names compare case-insensitively.
  return domain === '.' || domain.toUpperCase() === machineName.toUpperCase();
}

/** Windows' logon ids are 64-bit LUIDs; random ones keep logons of the server and the CLI distinct. */
function newLogonId(): string {
  return `0x${randomBytes(8).toString('hex')}`;
}

function delegationFor(method: LogonMethod): Delegation {
  switch (method) {
    case 'ClearText':
      return { kind: 'password', reason: 'a ClearText logon keeps the password, so the server can reach other machines as the user (NetworkCleartext)' };
    case 'Interactive':
      return { kind: 'password', reason: 'an Interactive logon keeps the password, so the server can reach other machines as the user' };
    case 'Batch':
      return { kind: 'password', reason: 'a Batch logon keeps the password, so the server can reach other machines as the user' };
    case 'Network':
      return { kind: 'none', reason: 'a network logon holds no credentials: the token cannot reach other machines as the user (the double hop fails)' };
  }
}

/**
 * Verifies `request` against the store and returns a token, or the NTSTATUS reason it failed. Checks, in order:
 * the domain is this machine; the user exists; not locked out (a lockout whose duration ended is none); the
 * password (a wrong one counted once, which may lock the account); not disabled; password not expired and not to
 * be changed; the logon right for the logon type (with `passwordSync`, everything but the password). Writes one
 * audit event (4624 or 4625). Throws only when the store itself fails (an infrastructure error, not a logon failure).
 */
export async function logonUser(store: AccountStore, request: LogonRequest, audit: AuditLog, now: () => number = Date.now): Promise<LogonResult> {
  const { name, domain } =
    request.domain === undefined || request.domain === ''
      ? splitAccountName(request.name, request.defaultLogonDomain, store.machineName)
      : { name: request.name, domain: request.domain };
  const sync = request.passwordSync === true;
  // Without a verified password the token must not be a kind that claims to hold one.
  const method: LogonMethod = sync || request.proof !== undefined ? 'Network' : request.logonMethod;
  const logonType: LogonTypeName = logonTypeOf(method);
  const common = { logonType: LogonType[logonType], package: request.authPackage, clientAddress: request.clientAddress };

  const fail = (status: NtStatus, subStatus: NtStatus, reason: string, user?: UserRecord): LogonResult => {
    audit.write({
      eventId: 4625,
      // As typed for an unknown account (Windows' "Account For Which Logon Failed"), as stored for a known one.
      account: user?.name ?? name,
      domain: user === undefined ? domain : store.machineName,
      ...(user === undefined ? {} : { sid: user.sid }),
      ...common,
      status,
      subStatus,
      statusCode: ntStatusHex(status),
      subStatusCode: ntStatusHex(subStatus),
      reason,
    });
    return { ok: false, status, subStatus, reason };
  };
  // Unknown user and wrong password share the status 0xC000006D and differ in the sub-status, as in event 4625;
  // the other failures carry their own status and sub-status 0x0.
  const failAs = (status: NtStatus, reason: string, user: UserRecord): LogonResult => fail(status, 'STATUS_SUCCESS', reason, user);

  if (!isThisMachine(domain, store.machineName)) {
    return fail('STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER', `domain "${domain}" is not this machine (${store.machineName}); domain accounts are not supported yet`);
  }
  const user = name === '' ? undefined : store.findUser(name);
  if (user === undefined) {
    // As long as checking a real password: response time must not tell which account names exist. (A proof costs
    // a few HMACs whatever the account, so it has nothing to equalise.)
    if (request.proof === undefined) await verifyNothing(request.password);
    return fail('STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER', name === '' ? 'no user name was given' : `no local user "${name}" on ${store.machineName}`);
  }

  const at = now();
  const lockout = store.lockoutState(user.sid, at);
  // The store answers for `at`; the explicit test keeps an ended lockout from refusing logons whatever it says.
  if (lockout.lockedOut && (lockout.lockedUntil === null || lockout.lockedUntil > at)) {
    const until = lockout.lockedUntil === null ? 'until an administrator unlocks it' : `until ${new Date(lockout.lockedUntil).toISOString()}`;
    return failAs('STATUS_ACCOUNT_LOCKED_OUT', `the account is locked out ${until}`, user);
  }

  const countFailure = (what: string): LogonResult => {
    // Counted here and only here: one attempt, one failure (IIS 7.5 counted Basic failures twice).
    const after = store.recordFailure(user.sid, now());
    const counted = `${after.failures} failed attempt${after.failures === 1 ? '' : 's'} counted`;
    return fail('STATUS_LOGON_FAILURE', 'STATUS_WRONG_PASSWORD', `${what} (${counted}${after.lockedOut ? '; the account is now locked out' : ''})`, user);
  };
  let proofDetail: string | undefined;
  if (request.proof !== undefined) {
    const proof = await request.proof.verify(user);
    if (!proof.ok) return proof.wrongPassword ? countFailure(proof.reason) : fail(proof.status, proof.subStatus, proof.reason, user);
    proofDetail = proof.detail;
  } else if (!sync && !(await store.verifyPassword(user, request.password))) {
    return countFailure('wrong password');
  }

  // Read again: the slow hash took long enough for the CLI to disable or remove the account meanwhile.
  const account = store.findUserBySid(user.sid);
  if (account === undefined) {
    return fail('STATUS_LOGON_FAILURE', 'STATUS_NO_SUCH_USER', `the local user "${user.name}" was removed during the logon`);
  }
  const made = accountToken(store, account, method, request.authPackage, sync, at);
  if (!made.ok) return failAs(made.status, made.reason, account);
  const token = made.token;
  if (lockout.failures > 0) store.resetFailures(account.sid);
  if (token.delegation.kind === 'password' && !sync && request.proof === undefined) attachCredentials(token, { domain: store.machineName, user: account.name, password: request.password });
  audit.write({
    eventId: 4624,
    account: account.name,
    domain: store.machineName,
    sid: account.sid,
    ...common,
    logonId: token.logonId,
    ...(proofDetail !== undefined && { detail: proofDetail }),
  });
  return { ok: true, token };
}

/**
 * The checks that follow a verified secret, and the token they give: not disabled, password neither expired nor to be
 * changed, the logon right for the logon type; then the token with the account's groups and privileges. Pure over the
 * store's state (no audit, no lockout counting): logonUser uses it after checking the secret, and `explain` uses it
 * to show the token a login would produce (credentials are never attached here).
 */
export function accountToken(
  store: AccountStore,
  account: UserRecord,
  method: LogonMethod,
  authPackage: AuthPackage,
  passwordSync: boolean,
  at: number,
): { readonly ok: true; readonly token: Token } | { readonly ok: false; readonly status: NtStatus; readonly reason: string } {
  if (account.disabled) return { ok: false, status: 'STATUS_ACCOUNT_DISABLED', reason: 'the account is disabled' };
  if (account.passwordExpired) return { ok: false, status: 'STATUS_PASSWORD_EXPIRED', reason: 'the password has expired' };
  if (account.mustChangePassword) return { ok: false, status: 'STATUS_PASSWORD_MUST_CHANGE', reason: 'the password must be changed before the first logon' };
  const logonType = logonTypeOf(method);
  const principal: Principal = { sid: account.sid, name: `${store.machineName}\\${account.name}` };
  const accountGroups: Principal[] = store.groupsOf(account.sid).map((g) => ({ sid: g.sid, name: store.nameOf(g.sid) }));
  const input = {
    user: principal,
    accountGroups,
    privileges: [],
    logonType,
    authPackage,
    delegation: delegationFor(method),
    osAccount: account.osAccount,
    logonId: newLogonId(),
    issuedAt: at,
  };
  // Rights are held by the user, its groups and the well-known groups the token will carry (Everyone, Authenticated
  // Users, the logon-type group) — exactly the SIDs of the token, so revoking a right from Everyone or Users counts.
  const rights = store.rightsOf(tokenSids(buildToken(input)));
  const needed = requiredLogonRight(logonType);
  if (!rights.has(needed)) {
    return {
      ok: false,
      status: 'STATUS_LOGON_TYPE_NOT_GRANTED',
      reason: `the account does not hold ${needed}, needed for a ${logonType} logon (logonMethod ${method}${passwordSync ? ', password sync' : ''})`,
    };
  }
  return { ok: true, token: buildToken({ ...input, privileges: [...rights].filter(isPrivilege) }) };
}
