/**
 * The local account store's contract (MODEL.md §2): users, groups, rights, lockout, verifiers and file ACLs.
 * Implemented on SQLite by store.ts; the server and the CLI (separate processes) share one database, so every
 * security-relevant change bumps a stamp that the server's caches compare on use.
 */
import type { SecurityDescriptor } from '../security/acl-types.js';
import type { Sid } from '../security/sid.js';
import type { UserRight } from '../security/token.js';
import type { DigestHash } from '../auth/digest/algorithms.js';

export interface UserRecord {
  readonly sid: Sid;
  readonly rid: number;
  /** The account name as created (case preserved; names compare case-insensitively). */
  readonly name: string;
  readonly fullName: string;
  readonly description: string;
  readonly disabled: boolean;
  readonly passwordExpired: boolean;
  readonly mustChangePassword: boolean;
  /** OS account processes run as for this user (CGI as the user), or undefined. */
  readonly osAccount: string | undefined;
  readonly createdAt: string;
  readonly passwordChangedAt: string | undefined;
  /**
   * NTLM may log this account on: the store then keeps its NT hash (password-equivalent), written with every password
   * change. Off by default; it can only be turned on together with a password, since the hash is made from it.
   */
  readonly ntlmEnabled: boolean;
  /**
   * Digest may log this account on: the store then keeps H(user:realm:password) for every Digest realm, hash and form
   * of the name (password-equivalent), written with every password change. Off by default; turned on only together
   * with a password, like NTLM. An enabled account lacks verifiers for realms added after its last password change.
   */
  readonly digestEnabled: boolean;
  /** Bumped by every change that must invalidate cached tokens of this user (password, flags, lockout, groups, rights). */
  readonly stamp: number;
}

export interface GroupRecord {
  readonly sid: Sid;
  readonly name: string;
  readonly description: string;
  /** Built-in groups (Administrators, Users, Guests, IIS_IUSRS) cannot be removed. */
  readonly builtin: boolean;
}

export interface LockoutPolicy {
  /** Failed attempts that lock the account; 0 = never (Windows' default). */
  readonly threshold: number;
  /** Failures older than this no longer count. */
  readonly observationWindowSeconds: number;
  /** How long a lockout lasts; 0 = until an administrator unlocks. */
  readonly durationSeconds: number;
}

export interface LockoutState {
  readonly failures: number;
  readonly lockedOut: boolean;
  /** Epoch ms when the lockout ends; null while not locked or when locked until unlocked. */
  readonly lockedUntil: number | null;
}

export type VerifierAlgorithm = 'scrypt' | 'argon2id';

export interface NewUser {
  readonly name: string;
  readonly password: string;
  readonly fullName?: string;
  readonly description?: string;
  readonly osAccount?: string;
  /** Group names to join (default: Users). */
  readonly groups?: readonly string[];
  readonly mustChangePassword?: boolean;
  /** Enable NTLM for the account, storing its NT hash (default false). */
  readonly ntlm?: boolean;
  /** Enable Digest for the account, storing its Digest verifiers (default false). */
  readonly digest?: boolean;
}

export interface SetPasswordOptions {
  /** Enable NTLM (and store the NT hash) with this password; absent or false keeps the account's current setting. */
  readonly ntlm?: boolean;
  /** Enable Digest (and store its verifiers) with this password; absent or false keeps the account's current setting. */
  readonly digest?: boolean;
}

export interface AccountStore {
  readonly machineName: string;
  readonly machineSid: Sid;

  createUser(user: NewUser): Promise<UserRecord>;
  findUser(name: string): UserRecord | undefined;
  findUserBySid(sid: Sid): UserRecord | undefined;
  listUsers(): UserRecord[];
  /**
   * Sets the password: the slow hash and, when NTLM is enabled for the account (or `options.ntlm` enables it), the NT
   * hash, in one transaction; a stale NT hash of an account without NTLM is deleted in the same transaction.
   */
  setPassword(name: string, password: string, options?: SetPasswordOptions): Promise<void>;
  /** Turns NTLM off for the account and deletes its NT hash (bumps the stamp when anything changed). */
  disableNtlm(name: string): void;
  /**
   * The stored NT hash (16 bytes) of an account with NTLM enabled, else undefined. The only way to read it: it is in
   * no record, so no listing or display can carry it by accident.
   */
  ntHashOf(sid: Sid): Buffer | undefined;
  /** Turns Digest off for the account and deletes all its Digest verifiers (bumps the stamp when anything changed). */
  disableDigest(name: string): void;
  /**
   * The stored H(nameAsTyped:realm:password) as lower-case hex, for an account with Digest enabled, a realm of the
   * store, and `nameAsTyped` exactly one of the forms kept for the account's name (as created, lower case, upper case);
   * else undefined, as for a malformed stored value (fail closed). In no record, like the NT hash.
   */
  digestVerifierOf(sid: Sid, realm: string, hash: DigestHash, nameAsTyped: string): string | undefined;
  /**
   * The account whose userhash H(name:realm) (RFC 7616 §3.4.4) is `userhashHex` (either case) for one of its name
   * forms, by index; undefined when none (or, which cannot happen by construction, more than one) matches.
   */
  findUserByUserhash(realm: string, hash: DigestHash, userhashHex: string): UserRecord | undefined;
  /** The realms Digest verifiers are made for, in the order they were added (initially the machine name). */
  digestRealms(): string[];
  /**
   * Adds a realm. Verifiers are made from the password, so Digest accounts get one for it only at their next password
   * change: returns how many Digest-enabled accounts have none for it yet (all of them). Throws when the realm is
   * invalid (empty, over 256 characters, a control character, `"` or `\`) or already there.
   */
  addDigestRealm(realm: string): number;
  /** Removes a realm and deletes its verifiers (bumping those accounts' stamps); returns how many accounts had one. */
  removeDigestRealm(realm: string): number;
  setDisabled(name: string, disabled: boolean): void;
  setPasswordFlags(name: string, flags: { passwordExpired?: boolean; mustChangePassword?: boolean }): void;
  setOsAccount(name: string, osAccount: string | null): void;
  removeUser(name: string): void;
  /** Constant-time verification against the stored slow hash; false for users without one. */
  verifyPassword(user: UserRecord, password: string): Promise<boolean>;
  /** The current stamp of a user plus the store-wide epoch (group and rights changes): what cached tokens compare. */
  currentStamp(sid: Sid): { readonly user: number; readonly epoch: number } | undefined;

  createGroup(name: string, description?: string): GroupRecord;
  findGroup(name: string): GroupRecord | undefined;
  listGroups(): GroupRecord[];
  removeGroup(name: string): void;
  addMember(group: string, user: string): void;
  removeMember(group: string, user: string): void;
  members(group: string): UserRecord[];
  groupsOf(userSid: Sid): GroupRecord[];

  /** `principal` is a user or group name, or a SID string (well-known SIDs such as Everyone allowed). */
  grantRight(principal: string, right: UserRight): void;
  revokeRight(principal: string, right: UserRight): void;
  /** Rights held by any of these SIDs. */
  rightsOf(sids: Iterable<Sid>): Set<UserRight>;
  listRights(): { readonly right: UserRight; readonly sid: Sid; readonly name: string }[];

  lockoutPolicy(): LockoutPolicy;
  setLockoutPolicy(policy: LockoutPolicy): void;
  lockoutState(sid: Sid, now: number): LockoutState;
  /** Counts one failed attempt (atomically) and locks the account when the policy says so. */
  recordFailure(sid: Sid, now: number): LockoutState;
  resetFailures(sid: Sid): void;
  unlock(name: string): void;

  /** Resolves a user or group name (`name`, `MACHINE\name`), a well-known name (`Everyone`, `IUSR`…) or a SID string. */
  resolvePrincipal(nameOrSid: string): { readonly sid: Sid; readonly name: string } | undefined;
  /** The display name of a SID (`MACHINE\alice`, `BUILTIN\Users`), or the SID itself when unknown. */
  nameOf(sid: Sid): string;

  getDescriptor(path: string): SecurityDescriptor | undefined;
  setDescriptor(path: string, descriptor: SecurityDescriptor | null): void;
  listDescriptors(): { readonly path: string; readonly descriptor: SecurityDescriptor }[];
  /** Bumped by every ACL change, so servers can drop cached effective ACLs. */
  aclEpoch(): number;
  /**
   * Changes whenever anything in the store may have changed, in this process or another (SQLite's data_version plus
   * this handle's own writes). Read once per event-loop iteration and then answered from memory, so caches can ask on
   * every request for free. Causality holds: a request sent after a commit returned is handled in a later iteration,
   * whose first read sees the commit.
   */
  changeVersion(): string;

  close(): void;
}
