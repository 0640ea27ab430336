/**
 * Security identifiers, Windows style (MODEL.md §2). A SID is kept as its canonical string form `S-1-<authority>-<sub>…`;
 * local accounts are `<machine SID>-<RID>` with RIDs from 1000.
 */
export type Sid = string;

export const WellKnownSid = {
  Everyone: 'S-1-1-0',
  CreatorOwner: 'S-1-3-0',
  Network: 'S-1-5-2',
  Batch: 'S-1-5-3',
  Interactive: 'S-1-5-4',
  Service: 'S-1-5-6',
  AnonymousLogon: 'S-1-5-7',
  AuthenticatedUsers: 'S-1-5-11',
  /** NT AUTHORITY\IUSR, the built-in anonymous account of IIS 7+. */
  Iusr: 'S-1-5-17',
  LocalSystem: 'S-1-5-18',
  LocalService: 'S-1-5-19',
  NetworkService: 'S-1-5-20',
  Administrators: 'S-1-5-32-544',
  Users: 'S-1-5-32-545',
  Guests: 'S-1-5-32-546',
  IisIusrs: 'S-1-5-32-568',
} as const;

/** Display names of the well-known SIDs, as Windows shows them. */
export const WELL_KNOWN_NAMES: Readonly<Record<string, string>> = {
  [WellKnownSid.Everyone]: 'Everyone',
  [WellKnownSid.CreatorOwner]: 'CREATOR OWNER',
  [WellKnownSid.Network]: 'NT AUTHORITY\\NETWORK',
  [WellKnownSid.Batch]: 'NT AUTHORITY\\BATCH',
  [WellKnownSid.Interactive]: 'NT AUTHORITY\\INTERACTIVE',
  [WellKnownSid.Service]: 'NT AUTHORITY\\SERVICE',
  [WellKnownSid.AnonymousLogon]: 'NT AUTHORITY\\ANONYMOUS LOGON',
  [WellKnownSid.AuthenticatedUsers]: 'NT AUTHORITY\\Authenticated Users',
  [WellKnownSid.Iusr]: 'NT AUTHORITY\\IUSR',
  [WellKnownSid.LocalSystem]: 'NT AUTHORITY\\SYSTEM',
  [WellKnownSid.LocalService]: 'NT AUTHORITY\\LOCAL SERVICE',
  [WellKnownSid.NetworkService]: 'NT AUTHORITY\\NETWORK SERVICE',
  [WellKnownSid.Administrators]: 'BUILTIN\\Administrators',
  [WellKnownSid.Users]: 'BUILTIN\\Users',
  [WellKnownSid.Guests]: 'BUILTIN\\Guests',
  [WellKnownSid.IisIusrs]: 'BUILTIN\\IIS_IUSRS',
};

/** The first RID given to local accounts and groups. */
export const FIRST_LOCAL_RID = 1000;

const SID_PATTERN = /^S-1-(\d{1,13})(-\d{1,10})*$/;

/** The canonical form of a SID string (upper-case S, no leading zeros), or null when it is not a SID. */
export function parseSid(text: string): Sid | null {
  const t = text.trim().toUpperCase();
  if (!SID_PATTERN.test(t)) return null;
  const parts = t.split('-');
  const authority = Number(parts[2]);
  if (!Number.isSafeInteger(authority) || authority >= 2 ** 48) return null;
  const subs = parts.slice(3).map(Number);
  if (subs.length > 15 || subs.some((n) => n > 0xffffffff)) return null;
  return ['S', '1', String(authority), ...subs.map(String)].join('-');
}

export function ridOf(sid: Sid): number {
  return Number(sid.slice(sid.lastIndexOf('-') + 1));
}

export function localSid(machineSid: Sid, rid: number): Sid {
  return `${machineSid}-${rid}`;
}

/** True when `sid` is an account of the machine whose SID is `machineSid`. */
export function isLocalAccountSid(sid: Sid, machineSid: Sid): boolean {
  return sid.startsWith(machineSid + '-') && sid.split('-').length === machineSid.split('-').length + 1;
}
