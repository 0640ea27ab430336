/**
 * The local account store on SQLite (MODEL.md §2): the AccountStore of types.ts.
 *
 * The server and the CLI are separate processes on one database file, so nothing is cached here: every read is a
 * query (prepared once), and every security-relevant write bumps what cached tokens compare —
 * - the user's `stamp`: password, NTLM or Digest on/off, a Digest realm it had verifiers for removed, enable/disable,
 *   password flags, OS mapping, lock and unlock, the user's group memberships, rights granted to the user's own SID;
 * - the store-wide `epoch`: changes that may touch many users — groups created or removed, rights granted to or
 *   revoked from a group or a well-known SID;
 * - `aclEpoch`: every change of a stored descriptor.
 * Writes that change nothing (adding a right already held, disabling a disabled user) bump nothing.
 *
 * Every write is one BEGIN IMMEDIATE transaction (see database.ts for why IMMEDIATE). Administrative writes commit with
 * synchronous=FULL, so a disable, a password reset or a removal survives a power cut the moment the command returns;
 * the lockout counters the server writes on each failed logon commit with NORMAL: a power cut may forget the last
 * failures (an attacker gets a few more attempts, once), which is not worth an fsync per failed attempt.
 * Slow hashing happens before the transaction, never inside it, so the write lock is held for microseconds.
 */
import { USER_RIGHTS, type UserRight } from '../security/token.js';
import { FIRST_LOCAL_RID, localSid, parseSid, WELL_KNOWN_NAMES, type Sid } from '../security/sid.js';
import type { SecurityDescriptor } from '../security/acl-types.js';
import type { AccountStore, GroupRecord, LockoutPolicy, LockoutState, NewUser, SetPasswordOptions, UserRecord, VerifierAlgorithm } from './types.js';
import { ntHash } from '../auth/ntlm/md4.js';
import { DIGEST_HASHES, HEX_LENGTH, ha1Verifier, userhashOf, type DigestHash } from '../auth/digest/algorithms.js';
import { openDatabase, type Db } from './database.js';
import { BUILTIN_GROUPS, builtinGroupOf, DEFAULT_LOCKOUT_POLICY, DEFAULT_RIGHTS, isReservedName, lockoutPolicyProblem, wellKnownSidOf } from './builtin.js';
import { nameKey, nameProblem } from './names.js';
import { hashPassword, passwordProblem, verifyNothing, verifyPassword, type HashOptions } from './password.js';
import { afterFailure, CLEAR_COUNTERS, lockoutStateAt, type LockoutCounters } from './lockout.js';
import { decodeDescriptor, encodeDescriptor } from './descriptor-codec.js';

export interface StoreOptions {
  /** Algorithm of new password verifiers (default scrypt). Existing verifiers keep theirs until the password changes. */
  readonly verifierAlgorithm?: VerifierAlgorithm;
  /** Cost of new scrypt verifiers (log2 N, default 15). Only tests lower it. */
  readonly scryptLn?: number;
}

/** The kind of the slow password hash in the verifiers table (Digest verifiers have tables of their own: database.ts). */
const PASSWORD_VERIFIER = 'password';
/**
 * The kind of the NT hash (MD4 of the UTF-16LE password, lowercase hex). Its presence IS the account's NTLM switch:
 * one row, so the switch and the hash can never disagree — NTLM on without a hash (or a hash left behind after NTLM
 * was turned off) cannot be represented. Every write of it shares a transaction with the password it comes from.
 */
const NT_VERIFIER = 'nt';
const NT_HEX = /^[0-9a-f]{32}$/;
const MAX_TEXT_LENGTH = 256;
const MAX_REALM_LENGTH = 256;
const HEX = /^[0-9a-f]+$/;
const OS_ACCOUNT = /^(?:[A-Za-z_][A-Za-z0-9._-]{0,31}\$?|\d{1,10})$/;

/**
 * The forms of an account name Digest verifiers are kept for. Digest hashes the user name exactly as the client sent
 * it, while account names compare case-insensitively, so one verifier per name would fail everyone who types `ALICE`
 * for `Alice`. As Active Directory precomputes several variants (WDigest's 29 hashes), we keep: the name as created,
 * lower case and upper case, without duplicates. A form that does not name the same account (`STRASSE` for `straße`:
 * another name key) is left out: logging on as it reaches another account or none, and its userhash could equal
 * another account's.
 */
export function digestNameForms(name: string): string[] {
  const key = nameKey(name);
  return [...new Set([name, name.toLowerCase(), name.toUpperCase()])].filter((form) => nameKey(form) === key);
}

/** Why `realm` cannot be a Digest realm, or null. It is sent in a quoted-string (RFC 7616 §3.3) and hashed as UTF-8. */
export function digestRealmProblem(realm: string): string | null {
  if (typeof realm !== 'string' || realm === '') return 'a Digest realm must not be empty';
  if ([...realm].length > MAX_REALM_LENGTH) return `a Digest realm must be at most ${MAX_REALM_LENGTH} characters`;
  if (/[\p{Cc}\p{Cs}]/u.test(realm)) return `the Digest realm ${JSON.stringify(realm)} contains a control character or invalid Unicode`;
  if (/["\\]/.test(realm)) return `the Digest realm ${JSON.stringify(realm)} contains " or \\ (it is sent as a quoted-string)`;
  return null;
}

export function openAccountStore(file: string, machine: { machineName: string; machineSid: Sid }, options: StoreOptions = {}): SqliteAccountStore {
  if (typeof machine.machineName !== 'string' || machine.machineName === '' || nameProblem(machine.machineName) !== null) {
    throw new Error(`invalid machine name ${JSON.stringify(machine.machineName)}`);
  }
  if (parseSid(machine.machineSid) !== machine.machineSid) throw new Error(`invalid machine SID ${JSON.stringify(machine.machineSid)}`);
  if (options.verifierAlgorithm !== undefined && options.verifierAlgorithm !== 'scrypt' && options.verifierAlgorithm !== 'argon2id') {
    throw new Error(`unknown verifier algorithm ${JSON.stringify(options.verifierAlgorithm)}`);
  }
  const db = openDatabase(file, { machineName: machine.machineName }, (d) => seed(d, machine.machineSid));
  const stored = (db.prepare(`SELECT machine_sid AS sid FROM meta`).get() as { sid: string } | undefined)?.sid;
  if (stored !== machine.machineSid) {
    db.close();
    throw new Error(`the account database ${file} belongs to machine SID ${stored ?? '(none)'}, not ${machine.machineSid}`);
  }
  return new SqliteAccountStore(db, machine.machineName, machine.machineSid, options);
}

/** The first rows of a new database: meta, the built-in groups and Windows' default rights. */
function seed(db: Db, machineSid: Sid): void {
  const p = DEFAULT_LOCKOUT_POLICY;
  db.prepare(
    `INSERT INTO meta (id, machine_sid, next_rid, epoch, acl_epoch, lockout_threshold, lockout_window, lockout_duration) VALUES (1, ?, ?, 1, 1, ?, ?, ?)`,
  ).run(machineSid, FIRST_LOCAL_RID, p.threshold, p.observationWindowSeconds, p.durationSeconds);
  const group = db.prepare(`INSERT INTO principals (sid, kind, name, name_key, description, builtin) VALUES (?, 'group', ?, ?, ?, 1)`);
  for (const g of BUILTIN_GROUPS) group.run(g.sid, g.name, nameKey(g.name), g.description);
  const right = db.prepare(`INSERT INTO rights (sid, user_right) VALUES (?, ?)`);
  for (const r of DEFAULT_RIGHTS) right.run(r.sid, r.right);
}

interface UserRow {
  sid: string;
  rid: number;
  name: string;
  full_name: string;
  description: string;
  disabled: number;
  password_expired: number;
  must_change_password: number;
  os_account: string | null;
  created_at: string;
  password_changed_at: string | null;
  stamp: number;
  ntlm: number;
  digest: number;
}

interface GroupRow {
  sid: string;
  name: string;
  description: string;
  builtin: number;
}

interface CounterRow {
  failures: number;
  last_failure_at: number | null;
  locked: number;
  locked_until: number | null;
}

interface MetaRow {
  next_rid: number;
  lockout_threshold: number;
  lockout_window: number;
  lockout_duration: number;
}

const USER_COLUMNS = `p.sid, u.rid, p.name, u.full_name, p.description, u.disabled, u.password_expired, u.must_change_password,
  u.os_account, u.created_at, u.password_changed_at, u.stamp,
  EXISTS (SELECT 1 FROM verifiers v WHERE v.sid = p.sid AND v.kind = '${NT_VERIFIER}') AS ntlm,
  EXISTS (SELECT 1 FROM digest_accounts d WHERE d.sid = p.sid) AS digest`;
const USER_FROM = `principals p JOIN users u ON u.sid = p.sid`;
const GROUP_COLUMNS = `p.sid, p.name, p.description, p.builtin`;

/** Every statement is prepared once: currentStamp and the lookups run on every request that misses a cache. */
function prepareStatements(db: Db) {
  return {
    currentStamp: db.prepare(`SELECT u.stamp AS user, m.epoch AS epoch FROM users u CROSS JOIN meta m WHERE u.sid = ?`),
    aclEpoch: db.prepare(`SELECT acl_epoch AS n FROM meta`).pluck(),
    dataVersion: db.prepare(`PRAGMA data_version`).pluck(),
    meta: db.prepare(`SELECT next_rid, lockout_threshold, lockout_window, lockout_duration FROM meta`),
    userByKey: db.prepare(`SELECT ${USER_COLUMNS} FROM ${USER_FROM} WHERE p.name_key = ?`),
    userBySid: db.prepare(`SELECT ${USER_COLUMNS} FROM ${USER_FROM} WHERE p.sid = ?`),
    users: db.prepare(`SELECT ${USER_COLUMNS} FROM ${USER_FROM} ORDER BY p.name_key`),
    groupByKey: db.prepare(`SELECT ${GROUP_COLUMNS} FROM principals p WHERE p.name_key = ? AND p.kind = 'group'`),
    groupBySid: db.prepare(`SELECT ${GROUP_COLUMNS} FROM principals p WHERE p.sid = ? AND p.kind = 'group'`),
    groups: db.prepare(`SELECT ${GROUP_COLUMNS} FROM principals p WHERE p.kind = 'group' ORDER BY p.name_key`),
    principalByKey: db.prepare(`SELECT sid, kind FROM principals WHERE name_key = ?`),
    principalBySid: db.prepare(`SELECT sid, kind, name, builtin FROM principals WHERE sid = ?`),
    insertPrincipal: db.prepare(`INSERT INTO principals (sid, kind, name, name_key, description, builtin) VALUES (?, ?, ?, ?, ?, 0)`),
    insertUser: db.prepare(
      `INSERT INTO users (sid, rid, full_name, must_change_password, os_account, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    setVerifier: db.prepare(`INSERT INTO verifiers (sid, kind, value) VALUES (?, ?, ?) ON CONFLICT (sid, kind) DO UPDATE SET value = excluded.value`),
    verifier: db.prepare(`SELECT value FROM verifiers WHERE sid = ? AND kind = ?`).pluck(),
    deleteVerifier: db.prepare(`DELETE FROM verifiers WHERE sid = ? AND kind = ?`),
    takeRid: db.prepare(`UPDATE meta SET next_rid = next_rid + 1 RETURNING next_rid - 1 AS rid`).pluck(),
    bumpEpoch: db.prepare(`UPDATE meta SET epoch = epoch + 1`),
    bumpAclEpoch: db.prepare(`UPDATE meta SET acl_epoch = acl_epoch + 1`),
    bumpStamp: db.prepare(`UPDATE users SET stamp = stamp + 1 WHERE sid = ?`),
    passwordChanged: db.prepare(`UPDATE users SET password_changed_at = ?, password_expired = 0, must_change_password = 0, stamp = stamp + 1 WHERE sid = ?`),
    setDisabled: db.prepare(`UPDATE users SET disabled = ?, stamp = stamp + 1 WHERE sid = ? AND disabled <> ?`),
    setFlags: db.prepare(
      `UPDATE users SET password_expired = ?, must_change_password = ?, stamp = stamp + 1 WHERE sid = ? AND (password_expired <> ? OR must_change_password <> ?)`,
    ),
    setOsAccount: db.prepare(`UPDATE users SET os_account = ?, stamp = stamp + 1 WHERE sid = ? AND os_account IS NOT ?`),
    deletePrincipal: db.prepare(`DELETE FROM principals WHERE sid = ?`),
    deleteRightsOf: db.prepare(`DELETE FROM rights WHERE sid = ?`),
    addMember: db.prepare(`INSERT OR IGNORE INTO members (group_sid, user_sid) VALUES (?, ?)`),
    removeMember: db.prepare(`DELETE FROM members WHERE group_sid = ? AND user_sid = ?`),
    members: db.prepare(`SELECT ${USER_COLUMNS} FROM members m JOIN principals p ON p.sid = m.user_sid JOIN users u ON u.sid = p.sid WHERE m.group_sid = ? ORDER BY p.name_key`),
    groupsOf: db.prepare(`SELECT ${GROUP_COLUMNS} FROM members m JOIN principals p ON p.sid = m.group_sid WHERE m.user_sid = ? ORDER BY p.name_key`),
    grant: db.prepare(`INSERT OR IGNORE INTO rights (sid, user_right) VALUES (?, ?)`),
    revoke: db.prepare(`DELETE FROM rights WHERE sid = ? AND user_right = ?`),
    rightsOfSid: db.prepare(`SELECT user_right FROM rights WHERE sid = ?`).pluck(),
    rights: db.prepare(`SELECT sid, user_right FROM rights ORDER BY user_right, sid`),
    setPolicy: db.prepare(`UPDATE meta SET lockout_threshold = ?, lockout_window = ?, lockout_duration = ?`),
    counters: db.prepare(`SELECT failures, last_failure_at, locked, locked_until FROM users WHERE sid = ?`),
    setCounters: db.prepare(`UPDATE users SET failures = ?, last_failure_at = ?, locked = ?, locked_until = ? WHERE sid = ?`),
    resetFailures: db.prepare(`UPDATE users SET failures = 0, last_failure_at = NULL WHERE sid = ? AND (failures <> 0 OR last_failure_at IS NOT NULL)`),
    descriptor: db.prepare(`SELECT descriptor FROM descriptors WHERE path = ?`).pluck(),
    descriptors: db.prepare(`SELECT path, descriptor FROM descriptors ORDER BY path`),
    putDescriptor: db.prepare(`INSERT INTO descriptors (path, descriptor) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET descriptor = excluded.descriptor`),
    deleteDescriptor: db.prepare(`DELETE FROM descriptors WHERE path = ?`),
    digestEnabled: db.prepare(`SELECT 1 FROM digest_accounts WHERE sid = ?`).pluck(),
    enableDigest: db.prepare(`INSERT OR IGNORE INTO digest_accounts (sid) VALUES (?)`),
    disableDigest: db.prepare(`DELETE FROM digest_accounts WHERE sid = ?`), // cascades to the verifiers
    deleteDigestVerifiers: db.prepare(`DELETE FROM digest_verifiers WHERE sid = ?`),
    insertDigestVerifier: db.prepare(`INSERT INTO digest_verifiers (sid, realm, hash, username, ha1, userhash) VALUES (?, ?, ?, ?, ?, ?)`),
    digestVerifier: db.prepare(
      `SELECT v.ha1, p.name FROM digest_verifiers v JOIN principals p ON p.sid = v.sid WHERE v.sid = ? AND v.realm = ? AND v.hash = ? AND v.username = ?`,
    ),
    byUserhash: db.prepare(`SELECT sid, username FROM digest_verifiers WHERE realm = ? AND hash = ? AND userhash = ? LIMIT 2`),
    digestRealms: db.prepare(`SELECT realm FROM digest_realms ORDER BY rowid`).pluck(),
    digestRealm: db.prepare(`SELECT 1 FROM digest_realms WHERE realm = ?`).pluck(),
    insertDigestRealm: db.prepare(`INSERT INTO digest_realms (realm) VALUES (?)`),
    deleteDigestRealm: db.prepare(`DELETE FROM digest_realms WHERE realm = ?`), // cascades to its verifiers
    digestAccounts: db.prepare(`SELECT count(*) FROM digest_accounts`).pluck(),
    bumpStampsInRealm: db.prepare(`UPDATE users SET stamp = stamp + 1 WHERE sid IN (SELECT DISTINCT sid FROM digest_verifiers WHERE realm = ?)`),
  };
}

export class SqliteAccountStore implements AccountStore {
  readonly machineName: string;
  readonly machineSid: Sid;
  private readonly machineKey: string;
  private readonly algorithm: VerifierAlgorithm;
  private readonly hashOptions: HashOptions;
  private synchronous: 'NORMAL' | 'FULL' = 'NORMAL';
  private localWrites = 0;
  private versionMemo: string | undefined;
  private readonly q: ReturnType<typeof prepareStatements>;

  constructor(
    private readonly db: Db,
    machineName: string,
    machineSid: Sid,
    options: StoreOptions,
  ) {
    this.machineName = machineName;
    this.machineSid = machineSid;
    this.machineKey = nameKey(machineName);
    this.algorithm = options.verifierAlgorithm ?? 'scrypt';
    this.hashOptions = options.scryptLn !== undefined ? { scryptLn: options.scryptLn } : {};
    this.q = prepareStatements(db);
  }

  // ---- users ----

  async createUser(user: NewUser): Promise<UserRecord> {
    const name = user.name;
    this.checkNewName(name);
    const problem = passwordProblem(user.password);
    if (problem) throw new Error(problem);
    const fullName = this.checkText('full name', user.fullName ?? '');
    const description = this.checkText('description', user.description ?? '');
    const osAccount = user.osAccount === undefined ? null : this.checkOsAccount(user.osAccount);
    const ntlm = checkNtlmOption(user.ntlm);
    const digest = checkSwitchOption('digest', user.digest);
    const groupNames = user.groups ?? ['Users'];
    for (const g of groupNames) this.requireGroup(g); // fail before the slow hash
    const verifier = await hashPassword(user.password, this.algorithm, this.hashOptions);
    const sid = this.write(() => {
      this.checkNameFree(name); // again, under the write lock: another process may have taken it meanwhile
      const groups = [...new Set(groupNames.map((g) => this.requireGroup(g).sid))];
      const rid = this.q.takeRid.get() as number;
      const sid = localSid(this.machineSid, rid);
      const now = new Date().toISOString();
      this.q.insertPrincipal.run(sid, 'user', name, nameKey(name), description);
      this.q.insertUser.run(sid, rid, fullName, user.mustChangePassword ? 1 : 0, osAccount, now, now);
      this.q.setVerifier.run(sid, PASSWORD_VERIFIER, verifier);
      if (ntlm) this.q.setVerifier.run(sid, NT_VERIFIER, ntHash(user.password).toString('hex'));
      if (digest) this.writeDigestVerifiers(sid, name, user.password);
      for (const g of groups) this.q.addMember.run(g, sid);
      return sid;
    });
    return this.findUserBySid(sid)!;
  }

  findUser(name: string): UserRecord | undefined {
    const local = this.localName(name);
    if (local === undefined) return undefined;
    const row = this.q.userByKey.get(nameKey(local)) as UserRow | undefined;
    return row && toUser(row);
  }

  findUserBySid(sid: Sid): UserRecord | undefined {
    const row = this.q.userBySid.get(sid) as UserRow | undefined;
    return row && toUser(row);
  }

  listUsers(): UserRecord[] {
    return (this.q.users.all() as UserRow[]).map(toUser);
  }

  async setPassword(name: string, password: string, options: SetPasswordOptions = {}): Promise<void> {
    const problem = passwordProblem(password);
    if (problem) throw new Error(problem);
    const enable = checkNtlmOption(options.ntlm);
    const enableDigest = checkSwitchOption('digest', options.digest);
    const { sid } = this.requireUser(name);
    const verifier = await hashPassword(password, this.algorithm, this.hashOptions);
    this.write(() => {
      // By SID, not name: if the account was removed (and the name reused) meanwhile, this must not touch the new one.
      if (this.q.passwordChanged.run(new Date().toISOString(), sid).changes === 0) throw new Error(`the user "${name}" was removed meanwhile`);
      this.q.setVerifier.run(sid, PASSWORD_VERIFIER, verifier);
      // The switch is read here, under the write lock, not before the slow hash: another process may have turned
      // NTLM off meanwhile, and an NT hash of the old password must never outlive the change.
      const ntlm = enable || this.q.verifier.get(sid, NT_VERIFIER) !== undefined;
      if (ntlm) this.q.setVerifier.run(sid, NT_VERIFIER, ntHash(password).toString('hex'));
      else this.q.deleteVerifier.run(sid, NT_VERIFIER);
      // The same for Digest: read under the lock; every old verifier goes, the new ones come, in this transaction.
      if (enableDigest || this.q.digestEnabled.get(sid) !== undefined) this.writeDigestVerifiers(sid, this.findUserBySid(sid)!.name, password);
    });
  }

  disableNtlm(name: string): void {
    this.write(() => {
      const { sid } = this.requireUser(name);
      // Already off: nothing changed, nothing bumped (as every other no-op write).
      if (this.q.deleteVerifier.run(sid, NT_VERIFIER).changes > 0) this.q.bumpStamp.run(sid);
    });
  }

  ntHashOf(sid: Sid): Buffer | undefined {
    const stored = this.q.verifier.get(sid, NT_VERIFIER) as string | undefined;
    // A malformed value (only a hand-edited database has one) fails closed, like an account without NTLM.
    return stored !== undefined && NT_HEX.test(stored) ? Buffer.from(stored, 'hex') : undefined;
  }

  disableDigest(name: string): void {
    this.write(() => {
      const { sid } = this.requireUser(name);
      // Deleting the switch cascades to every verifier of the account (database.ts). Already off: nothing bumped.
      if (this.q.disableDigest.run(sid).changes > 0) this.q.bumpStamp.run(sid);
    });
  }

  digestVerifierOf(sid: Sid, realm: string, hash: DigestHash, nameAsTyped: string): string | undefined {
    if (!DIGEST_HASHES.includes(hash) || typeof realm !== 'string' || typeof nameAsTyped !== 'string') return undefined;
    const row = this.q.digestVerifier.get(sid, realm, hash, nameAsTyped) as { ha1: string; name: string } | undefined;
    if (row === undefined) return undefined;
    // Only for a form of the account's current name: should names ever change, a verifier of the old name (which
    // hashes the old name) must not log on under the new one, even if a rename forgot to delete it.
    if (!digestNameForms(row.name).includes(nameAsTyped)) return undefined;
    // A malformed value (only a hand-edited database has one) fails closed, like an account without Digest.
    return row.ha1.length === HEX_LENGTH[hash] && HEX.test(row.ha1) ? row.ha1 : undefined;
  }

  findUserByUserhash(realm: string, hash: DigestHash, userhashHex: string): UserRecord | undefined {
    if (!DIGEST_HASHES.includes(hash) || typeof realm !== 'string' || typeof userhashHex !== 'string') return undefined;
    if (userhashHex.length !== HEX_LENGTH[hash]) return undefined;
    const wanted = userhashHex.toLowerCase(); // stored lower case; clients may send either
    if (!HEX.test(wanted)) return undefined;
    const rows = this.q.byUserhash.all(realm, hash, wanted) as { sid: string; username: string }[];
    // Two accounts with one userhash cannot arise (forms keep their account's name key, and name keys are unique);
    // if a hand-edited database had them, answering either would be a guess: fail closed.
    if (rows.length !== 1) return undefined;
    const user = this.findUserBySid(rows[0]!.sid);
    return user && digestNameForms(user.name).includes(rows[0]!.username) ? user : undefined;
  }

  digestRealms(): string[] {
    return this.q.digestRealms.all() as string[];
  }

  addDigestRealm(realm: string): number {
    const problem = digestRealmProblem(realm);
    if (problem) throw new Error(problem);
    return this.write(() => {
      if (this.q.digestRealm.get(realm) !== undefined) throw new Error(`the Digest realm "${realm}" is already there`);
      this.q.insertDigestRealm.run(realm);
      // Nothing to bump: no logon that worked before stops working.
      return this.q.digestAccounts.get() as number;
    });
  }

  removeDigestRealm(realm: string): number {
    return this.write(() => {
      if (typeof realm !== 'string' || this.q.digestRealm.get(realm) === undefined) throw new Error(`there is no Digest realm "${realm}"`);
      // Cached tokens of Digest logons in this realm must not outlive its verifiers: bump their accounts first.
      const affected = this.q.bumpStampsInRealm.run(realm).changes;
      this.q.deleteDigestRealm.run(realm);
      return affected;
    });
  }

  setDisabled(name: string, disabled: boolean): void {
    this.write(() => {
      const { sid } = this.requireUser(name);
      const v = disabled ? 1 : 0;
      this.q.setDisabled.run(v, sid, v);
    });
  }

  setPasswordFlags(name: string, flags: { passwordExpired?: boolean; mustChangePassword?: boolean }): void {
    this.write(() => {
      const user = this.requireUser(name);
      const expired = (flags.passwordExpired ?? user.passwordExpired) ? 1 : 0;
      const mustChange = (flags.mustChangePassword ?? user.mustChangePassword) ? 1 : 0;
      this.q.setFlags.run(expired, mustChange, user.sid, expired, mustChange);
    });
  }

  setOsAccount(name: string, osAccount: string | null): void {
    const value = osAccount === null ? null : this.checkOsAccount(osAccount);
    this.write(() => {
      const { sid } = this.requireUser(name);
      this.q.setOsAccount.run(value, sid, value);
    });
  }

  removeUser(name: string): void {
    this.write(() => {
      const { sid } = this.requireUser(name);
      // Cascades to the verifiers and memberships. Cached tokens of the user die with it: currentStamp answers undefined.
      this.q.deletePrincipal.run(sid);
      this.q.deleteRightsOf.run(sid);
    });
  }

  async verifyPassword(user: UserRecord, password: string): Promise<boolean> {
    const stored = this.q.verifier.get(user.sid, PASSWORD_VERIFIER) as string | undefined;
    // Without a verifier, still spend a verification's time: answers must not tell which accounts have one.
    if (stored === undefined) return verifyNothing(password);
    return verifyPassword(stored, password);
  }

  currentStamp(sid: Sid): { readonly user: number; readonly epoch: number } | undefined {
    return this.q.currentStamp.get(sid) as { user: number; epoch: number } | undefined;
  }

  // ---- groups ----

  createGroup(name: string, description = ''): GroupRecord {
    this.checkNewName(name);
    const text = this.checkText('description', description);
    const sid = this.write(() => {
      this.checkNameFree(name);
      const sid = localSid(this.machineSid, this.q.takeRid.get() as number);
      this.q.insertPrincipal.run(sid, 'group', name, nameKey(name), text);
      this.q.bumpEpoch.run();
      return sid;
    });
    return toGroup(this.q.groupBySid.get(sid) as GroupRow);
  }

  findGroup(name: string): GroupRecord | undefined {
    const { domain, name: bare } = splitDomain(name);
    if (domain !== undefined && nameKey(domain) === 'builtin') {
      const row = this.q.groupByKey.get(nameKey(bare)) as GroupRow | undefined;
      return row && row.builtin ? toGroup(row) : undefined;
    }
    const local = this.localName(name);
    if (local === undefined) return undefined;
    const row = this.q.groupByKey.get(nameKey(local)) as GroupRow | undefined;
    return row && toGroup(row);
  }

  listGroups(): GroupRecord[] {
    return (this.q.groups.all() as GroupRow[]).map(toGroup);
  }

  removeGroup(name: string): void {
    this.write(() => {
      const group = this.requireGroup(name);
      if (group.builtin) throw new Error(`the built-in group "${group.name}" cannot be removed`);
      this.q.deletePrincipal.run(group.sid); // cascades to the memberships
      this.q.deleteRightsOf.run(group.sid);
      this.q.bumpEpoch.run();
    });
  }

  addMember(group: string, user: string): void {
    this.write(() => {
      const g = this.requireGroup(group);
      const u = this.requireUser(user);
      if (this.q.addMember.run(g.sid, u.sid).changes === 0) throw new Error(`"${u.name}" is already a member of "${g.name}"`);
      this.q.bumpStamp.run(u.sid);
    });
  }

  removeMember(group: string, user: string): void {
    this.write(() => {
      const g = this.requireGroup(group);
      const u = this.requireUser(user);
      if (this.q.removeMember.run(g.sid, u.sid).changes === 0) throw new Error(`"${u.name}" is not a member of "${g.name}"`);
      this.q.bumpStamp.run(u.sid);
    });
  }

  members(group: string): UserRecord[] {
    const g = this.requireGroup(group);
    return (this.q.members.all(g.sid) as UserRow[]).map(toUser);
  }

  groupsOf(userSid: Sid): GroupRecord[] {
    return (this.q.groupsOf.all(userSid) as GroupRow[]).map(toGroup);
  }

  // ---- rights ----

  grantRight(principal: string, right: UserRight): void {
    this.changeRight(principal, right, true);
  }

  revokeRight(principal: string, right: UserRight): void {
    this.changeRight(principal, right, false);
  }

  private changeRight(principal: string, right: UserRight, grant: boolean): void {
    if (!(USER_RIGHTS as readonly string[]).includes(right)) throw new Error(`unknown user right "${String(right)}"; known: ${USER_RIGHTS.join(', ')}`);
    this.write(() => {
      const p = this.resolvePrincipal(principal);
      if (!p) throw new Error(`no account or group named "${principal}"`);
      const changed = (grant ? this.q.grant.run(p.sid, right) : this.q.revoke.run(p.sid, right)).changes > 0;
      if (!changed) return;
      // A right of one user invalidates that user's tokens; a right of a group or well-known SID, anyone's.
      if (this.q.bumpStamp.run(p.sid).changes === 0) this.q.bumpEpoch.run();
    });
  }

  rightsOf(sids: Iterable<Sid>): Set<UserRight> {
    const rights = new Set<UserRight>();
    for (const sid of new Set(sids)) for (const r of this.q.rightsOfSid.all(sid) as UserRight[]) rights.add(r);
    return rights;
  }

  listRights(): { readonly right: UserRight; readonly sid: Sid; readonly name: string }[] {
    return (this.q.rights.all() as { sid: string; user_right: UserRight }[]).map((r) => ({ right: r.user_right, sid: r.sid, name: this.nameOf(r.sid) }));
  }

  // ---- lockout ----

  lockoutPolicy(): LockoutPolicy {
    const m = this.q.meta.get() as MetaRow;
    return { threshold: m.lockout_threshold, observationWindowSeconds: m.lockout_window, durationSeconds: m.lockout_duration };
  }

  setLockoutPolicy(policy: LockoutPolicy): void {
    const problem = lockoutPolicyProblem(policy);
    if (problem) throw new Error(problem);
    this.write(() => {
      this.q.setPolicy.run(policy.threshold, policy.observationWindowSeconds, policy.durationSeconds);
    });
  }

  lockoutState(sid: Sid, now: number): LockoutState {
    const row = this.q.counters.get(sid) as CounterRow | undefined;
    return lockoutStateAt(row ? toCounters(row) : CLEAR_COUNTERS, this.lockoutPolicy(), now);
  }

  recordFailure(sid: Sid, now: number): LockoutState {
    return this.write(() => {
      const row = this.q.counters.get(sid) as CounterRow | undefined;
      const policy = this.lockoutPolicy();
      if (!row) return lockoutStateAt(CLEAR_COUNTERS, policy, now); // not an account of this store: nothing to count
      const { next, lockedNow } = afterFailure(toCounters(row), policy, now);
      this.q.setCounters.run(next.failures, next.lastFailureAt, next.locked ? 1 : 0, next.lockedUntil, sid);
      if (lockedNow) this.q.bumpStamp.run(sid);
      return lockoutStateAt(next, policy, now);
    }, 'NORMAL');
  }

  resetFailures(sid: Sid): void {
    // Called after each successful logon: when there is nothing to reset (the usual case), do not take the write lock.
    const row = this.q.counters.get(sid) as CounterRow | undefined;
    if (!row || (row.failures === 0 && row.last_failure_at === null)) return;
    this.write(() => {
      this.q.resetFailures.run(sid);
    }, 'NORMAL');
  }

  unlock(name: string): void {
    this.write(() => {
      const { sid } = this.requireUser(name);
      const row = this.q.counters.get(sid) as CounterRow;
      this.q.setCounters.run(0, null, 0, null, sid);
      if (row.locked) this.q.bumpStamp.run(sid);
    });
  }

  // ---- names ----

  resolvePrincipal(nameOrSid: string): { readonly sid: Sid; readonly name: string } | undefined {
    if (typeof nameOrSid !== 'string') return undefined;
    const text = nameOrSid.trim();
    // SID strings: `*S-1-…` (icacls) or `S-1-…`. Any valid SID resolves, known or not (icacls accepts unknown SIDs).
    const sidText = text.startsWith('*') ? text.slice(1) : /^s-1-/i.test(text) ? text : undefined;
    if (sidText !== undefined) {
      const sid = parseSid(sidText);
      return sid === null ? undefined : { sid, name: this.nameOf(sid) };
    }
    const { domain, name } = splitDomain(text);
    let sid: Sid | undefined;
    if (domain === undefined) {
      sid = (this.q.principalByKey.get(nameKey(name)) as { sid: string } | undefined)?.sid ?? wellKnownSidOf(name);
    } else if (nameKey(domain) === 'nt authority') {
      sid = wellKnownSidOf(text);
    } else if (nameKey(domain) === 'builtin') {
      sid = this.findGroup(text)?.sid;
    } else if (domain === '.' || nameKey(domain) === this.machineKey) {
      sid = (this.q.principalByKey.get(nameKey(name)) as { sid: string } | undefined)?.sid;
    }
    return sid === undefined ? undefined : { sid, name: this.nameOf(sid) };
  }

  nameOf(sid: Sid): string {
    const builtin = builtinGroupOf(sid);
    if (builtin) return `BUILTIN\\${builtin.name}`;
    const wellKnown = WELL_KNOWN_NAMES[sid];
    if (wellKnown !== undefined) return wellKnown;
    const row = this.q.principalBySid.get(sid) as { name: string } | undefined;
    return row ? `${this.machineName}\\${row.name}` : sid;
  }

  // ---- ACL descriptors ----

  getDescriptor(path: string): SecurityDescriptor | undefined {
    const text = this.q.descriptor.get(path) as string | undefined;
    return text === undefined ? undefined : decodeDescriptor(text, path);
  }

  setDescriptor(path: string, descriptor: SecurityDescriptor | null): void {
    if (typeof path !== 'string' || path === '') throw new Error('a descriptor path must be a non-empty string');
    const text = descriptor === null ? null : encodeDescriptor(descriptor);
    this.write(() => {
      const before = this.q.descriptor.get(path) as string | undefined;
      if ((before ?? null) === text) return;
      if (text === null) this.q.deleteDescriptor.run(path);
      else this.q.putDescriptor.run(path, text);
      this.q.bumpAclEpoch.run();
    });
  }

  listDescriptors(): { readonly path: string; readonly descriptor: SecurityDescriptor }[] {
    return (this.q.descriptors.all() as { path: string; descriptor: string }[]).map((r) => ({ path: r.path, descriptor: decodeDescriptor(r.descriptor, r.path) }));
  }

  aclEpoch(): number {
    return this.q.aclEpoch.get() as number;
  }

  changeVersion(): string {
    if (this.versionMemo === undefined) {
      this.versionMemo = `${this.q.dataVersion.get() as number}.${this.localWrites}`;
      setImmediate(() => {
        this.versionMemo = undefined;
      }).unref();
    }
    return this.versionMemo;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- helpers ----

  /**
   * Inside a write transaction: turns Digest on for the account and replaces all its verifiers with ones made from
   * `password` for every realm, hash and form of `name`. A few dozen fast hashes: microseconds under the lock.
   */
  private writeDigestVerifiers(sid: Sid, name: string, password: string): void {
    this.q.enableDigest.run(sid);
    this.q.deleteDigestVerifiers.run(sid);
    const forms = digestNameForms(name);
    for (const realm of this.digestRealms()) {
      for (const hash of DIGEST_HASHES) {
        for (const form of forms) this.q.insertDigestVerifier.run(sid, realm, hash, form, ha1Verifier(hash, form, realm, password), userhashOf(hash, form, realm));
      }
    }
  }

  /** Runs `fn` as one BEGIN IMMEDIATE transaction, committed with the given durability. */
  private write<T>(fn: () => T, synchronous: 'NORMAL' | 'FULL' = 'FULL'): T {
    if (this.synchronous !== synchronous) {
      this.db.pragma(`synchronous = ${synchronous}`);
      this.synchronous = synchronous;
    }
    try {
      return this.db.transaction(fn).immediate();
    } finally {
      // data_version does not count this handle's own commits: its writes are counted here.
      this.localWrites++;
      this.versionMemo = undefined;
    }
  }

  /** The account name inside `MACHINE\name` or `.\name`, `name` itself, or undefined for another domain. */
  private localName(text: string): string | undefined {
    if (typeof text !== 'string') return undefined;
    const { domain, name } = splitDomain(text);
    if (domain === undefined) return name;
    return domain === '.' || nameKey(domain) === this.machineKey ? name : undefined;
  }

  private requireUser(name: string): UserRecord {
    const user = this.findUser(name);
    if (!user) throw new Error(`no user named "${name}"`);
    return user;
  }

  private requireGroup(name: string): GroupRecord {
    const group = this.findGroup(name);
    if (!group) throw new Error(`no group named "${name}"`);
    return group;
  }

  private checkNewName(name: string): void {
    const problem = nameProblem(name);
    if (problem) throw new Error(problem);
    if (isReservedName(name)) throw new Error(`the name "${name}" is a well-known account name`);
    this.checkNameFree(name);
  }

  private checkNameFree(name: string): void {
    const taken = this.q.principalByKey.get(nameKey(name)) as { kind: string } | undefined;
    if (taken) throw new Error(`the name "${name}" is already used by a ${taken.kind}`);
  }

  private checkText(what: string, text: string): string {
    if (typeof text !== 'string') throw new Error(`the ${what} must be a string`);
    if ([...text].length > MAX_TEXT_LENGTH) throw new Error(`the ${what} is longer than ${MAX_TEXT_LENGTH} characters`);
    if (/[\p{Cc}\p{Cs}]/u.test(text)) throw new Error(`the ${what} contains a control character or invalid Unicode`);
    return text;
  }

  private checkOsAccount(account: string): string {
    if (typeof account !== 'string' || !OS_ACCOUNT.test(account)) {
      throw new Error(`the OS account ${JSON.stringify(account)} is not a valid user name or numeric uid`);
    }
    return account;
  }
}

/** The `ntlm` option of createUser and setPassword: only a real boolean, so `"false"` from a script cannot enable it. */
function checkNtlmOption(value: unknown): boolean {
  return checkSwitchOption('ntlm', value);
}

/** A scheme switch option (`ntlm`, `digest`): only a real boolean, so `"false"` from a script cannot enable it. */
function checkSwitchOption(option: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new Error(`the ${option} option must be true or false, not ${JSON.stringify(value)}`);
  return value;
}

/** `DOMAIN\name` → domain and name; a bare name has no domain. */
function splitDomain(text: string): { readonly domain: string | undefined; readonly name: string } {
  const i = text.indexOf('\\');
  return i < 0 ? { domain: undefined, name: text } : { domain: text.slice(0, i), name: text.slice(i + 1) };
}

function toUser(r: UserRow): UserRecord {
  return Object.freeze({
    sid: r.sid,
    rid: r.rid,
    name: r.name,
    fullName: r.full_name,
    description: r.description,
    disabled: r.disabled !== 0,
    passwordExpired: r.password_expired !== 0,
    mustChangePassword: r.must_change_password !== 0,
    osAccount: r.os_account ?? undefined,
    createdAt: r.created_at,
    passwordChangedAt: r.password_changed_at ?? undefined,
    ntlmEnabled: r.ntlm !== 0,
    digestEnabled: r.digest !== 0,
    stamp: r.stamp,
  });
}

function toGroup(r: GroupRow): GroupRecord {
  return Object.freeze({ sid: r.sid, name: r.name, description: r.description, builtin: r.builtin !== 0 });
}

function toCounters(r: CounterRow): LockoutCounters {
  return { failures: r.failures, lastFailureAt: r.last_failure_at, locked: r.locked !== 0, lockedUntil: r.locked_until };
}
