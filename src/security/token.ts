/**
 * Access tokens (MODEL.md §3): who a request is, as the access check and every identity decision see it.
 * A token is an immutable value that can be logged and explained; the clear-text secret a ClearText/Interactive/
 * Batch logon keeps for delegation is NOT part of it — it lives in credentials.ts, reachable only from the token.
 */
import { WellKnownSid, WELL_KNOWN_NAMES, type Sid } from './sid.js';

/** Logon types (names as in the audit events; numbers are the event's LogonType field). */
export const LogonType = {
  Interactive: 2,
  Network: 3,
  Batch: 4,
  Service: 5,
  NetworkCleartext: 8,
} as const;
export type LogonTypeName = keyof typeof LogonType;

/** IIS `logonMethod` (MD_LOGON_METHOD): 0 Interactive, 1 Batch, 2 Network, 3 ClearText (default). */
export const LOGON_METHODS = ['Interactive', 'Batch', 'Network', 'ClearText'] as const;
export type LogonMethod = (typeof LOGON_METHODS)[number];

export function logonTypeOf(method: LogonMethod): LogonTypeName {
  switch (method) {
    case 'Interactive':
      return 'Interactive';
    case 'Batch':
      return 'Batch';
    case 'Network':
      return 'Network';
    case 'ClearText':
      return 'NetworkCleartext';
  }
}

/** The user right an account needs for a logon of this type (MODEL.md §2). */
export function requiredLogonRight(type: LogonTypeName): UserRight {
  switch (type) {
    case 'Interactive':
      return 'SeInteractiveLogonRight';
    case 'Batch':
      return 'SeBatchLogonRight';
    case 'Service':
      return 'SeServiceLogonRight';
    case 'Network':
    case 'NetworkCleartext':
      return 'SeNetworkLogonRight';
  }
}

/** The logon-type group a token carries (INTERACTIVE, NETWORK, BATCH, SERVICE). ClearText logons are network logons. */
export function logonGroupOf(type: LogonTypeName): Sid {
  switch (type) {
    case 'Interactive':
      return WellKnownSid.Interactive;
    case 'Batch':
      return WellKnownSid.Batch;
    case 'Service':
      return WellKnownSid.Service;
    case 'Network':
    case 'NetworkCleartext':
      return WellKnownSid.Network;
  }
}

export const USER_RIGHTS = [
  'SeInteractiveLogonRight',
  'SeNetworkLogonRight',
  'SeBatchLogonRight',
  'SeServiceLogonRight',
  'SeTcbPrivilege',
  'SeImpersonatePrivilege',
  'SeAssignPrimaryTokenPrivilege',
] as const;
export type UserRight = (typeof USER_RIGHTS)[number];

/** Rights that are privileges (carried in the token); the *LogonRight ones are only checked at logon. */
export function isPrivilege(right: UserRight): boolean {
  return right.endsWith('Privilege');
}

export type AuthPackage = 'Anonymous' | 'Basic' | 'Digest' | 'NTLM' | 'Kerberos' | 'Certificate' | 'Process';

export interface Principal {
  readonly sid: Sid;
  /** `MACHINE\name`, `DOMAIN\name`, or a well-known name such as `NT AUTHORITY\IUSR`. */
  readonly name: string;
}

/** Whether the token can reach another machine as its user (the double hop, MODEL.md §6), and why. */
export interface Delegation {
  readonly kind: 'password' | 'kerberos-ticket' | 'none';
  readonly reason: string;
}

export interface Token {
  readonly user: Principal;
  /** Every group SID the access check matches, with names: account groups, Everyone, Authenticated Users, logon group. */
  readonly groups: readonly Principal[];
  readonly privileges: readonly UserRight[];
  readonly logonType: LogonTypeName;
  readonly authPackage: AuthPackage;
  readonly delegation: Delegation;
  /** The OS account processes run as for this user (CGI as the user); undefined when the account has no mapping. */
  readonly osAccount: string | undefined;
  /** Unique per logon, for the audit log and traces (Windows' logon id). */
  readonly logonId: string;
  readonly issuedAt: number;
}

/** What a logon supplies: the token less the groups buildToken adds (Everyone, Authenticated Users, logon group). */
export type TokenInput = Omit<Token, 'groups'> & { readonly accountGroups: readonly Principal[] };

const principal = (sid: Sid): Principal => ({ sid, name: WELL_KNOWN_NAMES[sid] ?? sid });

/**
 * Builds a token with the groups Windows adds at logon: Everyone; Authenticated Users unless the request is
 * anonymous (package Anonymous, whatever account the anonymous user maps to, or ANONYMOUS LOGON) — so granting
 * Authenticated Users never lets anonymous requests in; the logon-type group. Duplicates are removed, order is
 * stable (account groups first).
 */
export function buildToken(input: TokenInput): Token {
  const anonymous = input.authPackage === 'Anonymous' || input.user.sid === WellKnownSid.AnonymousLogon;
  // ANONYMOUS LOGON is not in Everyone (Windows' default since XP: "Let Everyone permissions apply to anonymous
  // users" is off); IUSR is, as on IIS 7+.
  const anonymousLogon = input.user.sid === WellKnownSid.AnonymousLogon;
  const implicit = [...(anonymousLogon ? [] : [WellKnownSid.Everyone]), ...(anonymous ? [] : [WellKnownSid.AuthenticatedUsers]), logonGroupOf(input.logonType)];
  const seen = new Set<Sid>([input.user.sid]);
  const groups: Principal[] = [];
  for (const g of [...input.accountGroups, ...implicit.map(principal)]) {
    if (seen.has(g.sid)) continue;
    seen.add(g.sid);
    groups.push(g);
  }
  return Object.freeze({
    user: input.user,
    groups: Object.freeze(groups),
    privileges: Object.freeze([...new Set(input.privileges.filter(isPrivilege))]),
    logonType: input.logonType,
    authPackage: input.authPackage,
    delegation: input.delegation,
    osAccount: input.osAccount,
    logonId: input.logonId,
    issuedAt: input.issuedAt,
  });
}

/** Every SID the access check matches for this token: the user and all groups. */
export function tokenSids(token: Token): ReadonlySet<Sid> {
  return new Set([token.user.sid, ...token.groups.map((g) => g.sid)]);
}

/** Anonymous requests: the anonymous authentication method, or an anonymous NTLM logon (ANONYMOUS LOGON). */
export function isAnonymousToken(token: Token): boolean {
  return token.authPackage === 'Anonymous' || token.user.sid === WellKnownSid.AnonymousLogon;
}
