/**
 * What a new account store starts with (MODEL.md §2, iis-reference.md §7): the built-in groups with their fixed SIDs,
 * Windows' default user-rights assignments for a member server, and the well-known principals names resolve to.
 */
import { WellKnownSid, type Sid } from '../security/sid.js';
import type { UserRight } from '../security/token.js';
import type { LockoutPolicy } from './types.js';
import { nameKey } from './names.js';

export interface BuiltinGroup {
  readonly sid: Sid;
  readonly name: string;
  readonly description: string;
}

/** The built-in (BUILTIN\…) groups. Windows' own descriptions. */
export const BUILTIN_GROUPS: readonly BuiltinGroup[] = [
  { sid: WellKnownSid.Administrators, name: 'Administrators', description: 'Administrators have complete and unrestricted access to the computer/domain' },
  { sid: WellKnownSid.Users, name: 'Users', description: 'Users are prevented from making accidental or intentional system-wide changes and can run most applications' },
  { sid: WellKnownSid.Guests, name: 'Guests', description: 'Guests have the same access as members of the Users group by default, except for the Guest account which is further restricted' },
  { sid: WellKnownSid.IisIusrs, name: 'IIS_IUSRS', description: 'Built-in group used by Internet Information Services.' },
];

/**
 * Windows' default assignments (member server with IIS 10; Backup Operators and the other groups we do not model are
 * left out). SeTcbPrivilege is held by nobody: only LocalSystem has it inherently.
 */
export const DEFAULT_RIGHTS: readonly { readonly right: UserRight; readonly sid: Sid }[] = [
  { right: 'SeInteractiveLogonRight', sid: WellKnownSid.Administrators },
  { right: 'SeInteractiveLogonRight', sid: WellKnownSid.Users },
  { right: 'SeNetworkLogonRight', sid: WellKnownSid.Everyone },
  { right: 'SeNetworkLogonRight', sid: WellKnownSid.Administrators },
  { right: 'SeNetworkLogonRight', sid: WellKnownSid.Users },
  { right: 'SeBatchLogonRight', sid: WellKnownSid.Administrators },
  { right: 'SeBatchLogonRight', sid: WellKnownSid.IisIusrs },
  { right: 'SeImpersonatePrivilege', sid: WellKnownSid.Administrators },
  { right: 'SeImpersonatePrivilege', sid: WellKnownSid.IisIusrs },
  { right: 'SeImpersonatePrivilege', sid: WellKnownSid.Service },
  { right: 'SeAssignPrimaryTokenPrivilege', sid: WellKnownSid.LocalService },
  { right: 'SeAssignPrimaryTokenPrivilege', sid: WellKnownSid.NetworkService },
];

/** Windows' default: never lock (threshold 0); window and duration 30 minutes for when an administrator sets a threshold. */
export const DEFAULT_LOCKOUT_POLICY: LockoutPolicy = { threshold: 0, observationWindowSeconds: 1800, durationSeconds: 1800 };

/** Windows' limits: threshold up to 999; window and duration up to 99999 minutes. */
export const MAX_LOCKOUT_THRESHOLD = 999;
export const MAX_LOCKOUT_SECONDS = 99999 * 60;

/** Why a lockout policy cannot be set, or null (Windows' rules, in seconds rather than minutes). */
export function lockoutPolicyProblem(policy: LockoutPolicy): string | null {
  const { threshold, observationWindowSeconds: window, durationSeconds: duration } = policy;
  const isCount = (n: unknown, max: number): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
  if (!isCount(threshold, MAX_LOCKOUT_THRESHOLD)) return `the lockout threshold must be an integer from 0 to ${MAX_LOCKOUT_THRESHOLD}`;
  if (!isCount(window, MAX_LOCKOUT_SECONDS) || window < 1) return `the observation window must be an integer from 1 to ${MAX_LOCKOUT_SECONDS} seconds`;
  if (!isCount(duration, MAX_LOCKOUT_SECONDS)) return `the lockout duration must be an integer from 0 (until unlocked) to ${MAX_LOCKOUT_SECONDS} seconds`;
  // Windows: the counter must reset no later than a lockout ends, or an account would relock on its next failure.
  if (duration !== 0 && duration < window) return 'the lockout duration must be 0 (until unlocked) or at least the observation window';
  return null;
}

/** SIDs that are not accounts of this store but that names resolve to (everything in WELL_KNOWN_NAMES but the built-in groups). */
const WELL_KNOWN_ALIASES: readonly { readonly sid: Sid; readonly names: readonly string[] }[] = [
  { sid: WellKnownSid.Everyone, names: ['Everyone'] },
  { sid: WellKnownSid.CreatorOwner, names: ['CREATOR OWNER'] },
  { sid: WellKnownSid.Network, names: ['NETWORK', 'NT AUTHORITY\\NETWORK'] },
  { sid: WellKnownSid.Batch, names: ['BATCH', 'NT AUTHORITY\\BATCH'] },
  { sid: WellKnownSid.Interactive, names: ['INTERACTIVE', 'NT AUTHORITY\\INTERACTIVE'] },
  { sid: WellKnownSid.Service, names: ['SERVICE', 'NT AUTHORITY\\SERVICE'] },
  { sid: WellKnownSid.AnonymousLogon, names: ['ANONYMOUS LOGON', 'NT AUTHORITY\\ANONYMOUS LOGON'] },
  { sid: WellKnownSid.AuthenticatedUsers, names: ['Authenticated Users', 'NT AUTHORITY\\Authenticated Users'] },
  { sid: WellKnownSid.Iusr, names: ['IUSR', 'NT AUTHORITY\\IUSR'] },
  { sid: WellKnownSid.LocalSystem, names: ['SYSTEM', 'NT AUTHORITY\\SYSTEM'] },
  { sid: WellKnownSid.LocalService, names: ['LOCAL SERVICE', 'NT AUTHORITY\\LOCAL SERVICE'] },
  { sid: WellKnownSid.NetworkService, names: ['NETWORK SERVICE', 'NT AUTHORITY\\NETWORK SERVICE'] },
];

const WELL_KNOWN_BY_KEY: ReadonlyMap<string, Sid> = new Map(WELL_KNOWN_ALIASES.flatMap(({ sid, names }) => names.map((n) => [nameKey(n), sid] as const)));

/** The well-known SID a name (bare or `NT AUTHORITY\…`, case-insensitive) stands for; built-in groups are not here. */
export function wellKnownSidOf(name: string): Sid | undefined {
  return WELL_KNOWN_BY_KEY.get(nameKey(name));
}

/** True for the bare well-known names, which cannot be taken by a user or group (Windows: "the account already exists"). */
export function isReservedName(name: string): boolean {
  return !name.includes('\\') && WELL_KNOWN_BY_KEY.has(nameKey(name));
}

/** The built-in group a SID is, if any. */
export function builtinGroupOf(sid: Sid): BuiltinGroup | undefined {
  return BUILTIN_GROUPS.find((g) => g.sid === sid);
}
