/**
 * `persona user …`: local user accounts, like Windows `net user` (adapted: one subcommand per action, SIDs and
 * the lockout state shown, JSON for scripts). What is printed is built field by field from the record, never by
 * copying it, so a verifier can never reach the output even if a store implementation carried one along.
 */
import { spawnSync } from 'node:child_process';
import { nameProblem } from '../accounts/names.js';
import type { AccountStore, UserRecord } from '../accounts/types.js';
import { WellKnownSid, type Sid } from '../security/sid.js';
import { USER_RIGHTS, type UserRight } from '../security/token.js';
import { Exit } from './exit-codes.js';
import type { GlobalOptions } from './options.js';
import { readNewPassword } from './password-input.js';
import { fail, withStore } from './store-access.js';

export interface UserAddOptions {
  readonly fullName?: string;
  readonly description?: string;
  readonly osAccount?: string;
  /** Groups to join instead of the default (Users). */
  readonly group?: readonly string[];
  readonly mustChange?: boolean;
  /** Enable NTLM: the NT hash (password-equivalent) is stored with the password. */
  readonly ntlm?: boolean;
  /** Enable Digest: H(user:realm:password) per Digest realm and hash (password-equivalent) is stored with the password. */
  readonly digest?: boolean;
}

/** Said whenever NTLM is turned on: the administrator must know the database now holds a password equivalent. */
const NTLM_ON_NOTE = 'NTLM enabled: its NT hash is stored, which is password-equivalent (protect the account database)';
/** The same for Digest, whose verifiers are as good as the password for every Digest realm they are made for. */
const DIGEST_ON_NOTE =
  'Digest enabled: H(user:realm:password) is stored for every Digest realm, which is password-equivalent (protect the account database)';

/** After Digest is turned on or its verifiers rewritten: which realms they cover, and what to do when there are none. */
function digestRealmsNote(store: AccountStore): string {
  const realms = store.digestRealms();
  return realms.length === 0
    ? 'persona: warning: there is no Digest realm, so no Digest verifier was stored; add one with persona digest realms add REALM, then set the password again'
    : `persona: Digest verifiers stored for the realm(s) ${realms.map((r) => `"${r}"`).join(', ')}`;
}

export async function userAddCommand(options: GlobalOptions, name: string, opts: UserAddOptions): Promise<number> {
  return withStore(options, async (store) => {
    // Everything that can be checked is checked before the password is asked for: typing it twice and then
    // learning that a group name was misspelt is the worst order.
    const bad = nameProblem(name);
    if (bad) return fail(bad);
    // Users, groups and well-known names share one namespace, as on Windows.
    const taken = store.resolvePrincipal(name);
    if (taken) return fail(`the account ${name} already exists (${store.nameOf(taken.sid)}, ${taken.sid})`);
    const groups = opts.group && opts.group.length > 0 ? dedupe(opts.group) : undefined;
    for (const g of groups ?? []) if (!store.findGroup(g)) return fail(`no such group: ${g}`);
    if (opts.osAccount !== undefined) {
      const problem = osAccountProblem(opts.osAccount);
      if (problem) return fail(problem);
    }
    const read = await readNewPassword(name);
    if ('error' in read) return fail(read.error);
    const user = await store.createUser({
      name,
      password: read.password,
      fullName: opts.fullName,
      description: opts.description,
      osAccount: opts.osAccount,
      groups,
      mustChangePassword: opts.mustChange === true,
      ntlm: opts.ntlm === true,
      digest: opts.digest === true,
    });
    warnMissingOsAccount(user.osAccount);
    const joined = store.groupsOf(user.sid).map((g) => store.nameOf(g.sid));
    console.log(`persona: user ${store.nameOf(user.sid)} created (${user.sid}), member of ${joined.length ? joined.join(', ') : 'no group'}`);
    if (user.ntlmEnabled) console.log(`persona: ${NTLM_ON_NOTE}`);
    if (user.digestEnabled) console.log(`persona: ${DIGEST_ON_NOTE}\n${digestRealmsNote(store)}`);
    return Exit.OK;
  });
}

export async function userPasswdCommand(
  options: GlobalOptions,
  name: string,
  opts: { readonly mustChange?: boolean; readonly ntlm?: boolean; readonly digest?: boolean },
): Promise<number> {
  return withStore(options, async (store) => {
    const user = store.findUser(name);
    if (!user) return fail(`no such user: ${name}`);
    const read = await readNewPassword(user.name);
    if ('error' in read) return fail(read.error);
    // Without --ntlm the account keeps its setting: an enabled account gets the new NT hash in the same transaction.
    // The same for Digest: an enabled account gets new verifiers (every realm, hash and name form) in that transaction.
    await store.setPassword(user.name, read.password, { ntlm: opts.ntlm === true, digest: opts.digest === true });
    // A password an administrator sets is current, as `net user NAME *` makes it, unless asked to force a change.
    store.setPasswordFlags(user.name, { passwordExpired: false, mustChangePassword: opts.mustChange === true });
    const note = opts.mustChange ? '; the user must change it at next logon' : '';
    console.log(`persona: password of ${store.nameOf(user.sid)} changed${note}; tokens cached with the old one are no longer used`);
    if (opts.ntlm === true && !user.ntlmEnabled) console.log(`persona: ${NTLM_ON_NOTE}`);
    else if (store.findUserBySid(user.sid)?.ntlmEnabled) console.log('persona: the NT hash for NTLM was replaced with the new password');
    if (opts.digest === true && !user.digestEnabled) console.log(`persona: ${DIGEST_ON_NOTE}\n${digestRealmsNote(store)}`);
    else if (store.findUserBySid(user.sid)?.digestEnabled) console.log(`persona: the Digest verifiers were replaced with the new password\n${digestRealmsNote(store)}`);
    return Exit.OK;
  });
}

export async function userEnableCommand(options: GlobalOptions, name: string): Promise<number> {
  return setDisabled(options, name, false);
}

export async function userDisableCommand(options: GlobalOptions, name: string): Promise<number> {
  return setDisabled(options, name, true);
}

function setDisabled(options: GlobalOptions, name: string, disabled: boolean): Promise<number> {
  return withStore(options, (store) => {
    const user = store.findUser(name);
    if (!user) return fail(`no such user: ${name}`);
    const who = store.nameOf(user.sid);
    if (user.disabled === disabled) {
      console.log(`persona: ${who} is already ${disabled ? 'disabled' : 'enabled'}; nothing changed`);
      return Exit.OK;
    }
    store.setDisabled(user.name, disabled);
    console.log(disabled ? `persona: ${who} disabled: every logon now fails (0xC0000072)` : `persona: ${who} enabled`);
    return Exit.OK;
  });
}

export async function userUnlockCommand(options: GlobalOptions, name: string): Promise<number> {
  return withStore(options, (store) => {
    const user = store.findUser(name);
    if (!user) return fail(`no such user: ${name}`);
    const state = store.lockoutState(user.sid, Date.now());
    store.unlock(user.name);
    const who = store.nameOf(user.sid);
    console.log(state.lockedOut ? `persona: ${who} unlocked; failed attempts reset` : `persona: ${who} was not locked out; failed attempts reset (${state.failures} before)`);
    return Exit.OK;
  });
}

export async function userRemoveCommand(options: GlobalOptions, name: string): Promise<number> {
  return withStore(options, (store) => {
    const user = store.findUser(name);
    if (!user) return fail(`no such user: ${name}`);
    const who = store.nameOf(user.sid);
    store.removeUser(user.name);
    // As on Windows, ACEs naming the SID stay and show as the bare SID; the SID is never given to another account.
    console.log(`persona: user ${who} (${user.sid}) removed; ACL entries naming ${user.sid} no longer match anyone`);
    return Exit.OK;
  });
}

export interface UserSetOptions {
  /** An OS account name or uid; false (--no-os-account) removes the mapping. */
  readonly osAccount?: string | false;
  /** false (--no-ntlm) turns NTLM off; true is refused here, since enabling needs the password (user passwd --ntlm). */
  readonly ntlm?: boolean;
  /** false (--no-digest) turns Digest off; true is refused, like --ntlm (user passwd --digest). */
  readonly digest?: boolean;
}

export async function userSetCommand(options: GlobalOptions, name: string, opts: UserSetOptions): Promise<number> {
  return withStore(options, (store) => {
    const user = store.findUser(name);
    if (!user) return fail(`no such user: ${name}`);
    const who = store.nameOf(user.sid);
    // Everything is checked before anything is changed: a refused option leaves the account as it was.
    if (opts.ntlm === true) return fail(`enabling NTLM needs the password (the NT hash is made from it): persona user passwd ${user.name} --ntlm`);
    if (opts.digest === true) return fail(`enabling Digest needs the password (its verifiers are made from it): persona user passwd ${user.name} --digest`);
    if (opts.osAccount === undefined && opts.ntlm === undefined && opts.digest === undefined) {
      return fail('nothing to set: give --os-account U, --no-os-account, --no-ntlm or --no-digest');
    }
    if (typeof opts.osAccount === 'string') {
      const problem = osAccountProblem(opts.osAccount);
      if (problem) return fail(problem);
    }
    if (opts.osAccount === false) {
      store.setOsAccount(user.name, null);
      console.log(`persona: ${who} has no OS account now; processes for it run as the process identity or are refused (403.19)`);
    } else if (opts.osAccount !== undefined) {
      store.setOsAccount(user.name, opts.osAccount);
      warnMissingOsAccount(opts.osAccount);
      console.log(`persona: ${who} now maps to the OS account ${opts.osAccount}`);
    }
    if (opts.ntlm === false) {
      store.disableNtlm(user.name);
      console.log(
        user.ntlmEnabled
          ? `persona: NTLM disabled for ${who}; its NT hash is deleted and NTLM logons now fail`
          : `persona: NTLM was not enabled for ${who}; nothing changed`,
      );
    }
    if (opts.digest === false) {
      store.disableDigest(user.name);
      console.log(
        user.digestEnabled
          ? `persona: Digest disabled for ${who}; its Digest verifiers are deleted and Digest logons now fail`
          : `persona: Digest was not enabled for ${who}; nothing changed`,
      );
    }
    return Exit.OK;
  });
}

/** The public view of a user: every field chosen here, nothing secret. */
export interface UserView {
  readonly name: string;
  readonly qualifiedName: string;
  readonly sid: Sid;
  readonly rid: number;
  readonly fullName: string;
  readonly description: string;
  readonly disabled: boolean;
  readonly lockedOut: boolean;
  readonly failedAttempts: number;
  /** ISO time the lockout ends; null while not locked, or locked until an administrator unlocks. */
  readonly lockedUntil: string | null;
  readonly passwordExpired: boolean;
  readonly mustChangePassword: boolean;
  readonly passwordChangedAt: string | null;
  readonly createdAt: string;
  readonly osAccount: string | null;
  /** Whether NTLM may log the account on (its NT hash is stored); never the hash. */
  readonly ntlmEnabled: boolean;
  /** Whether Digest may log the account on (its Digest verifiers are stored); never a verifier. */
  readonly digestEnabled: boolean;
}

export interface UserDetails extends UserView {
  /** The store's Digest realms the account has verifiers for (empty when Digest is off). */
  readonly digestRealms: readonly string[];
  /** The store's Digest realms an enabled account has none for yet (added after its last password change). */
  readonly digestRealmsPending: readonly string[];
  readonly groups: readonly { readonly sid: Sid; readonly name: string }[];
  /** Rights the account holds at logon, each with the principals it holds them through. */
  readonly rights: readonly { readonly right: UserRight; readonly via: readonly { readonly sid: Sid; readonly name: string }[] }[];
}

export function userView(store: AccountStore, user: UserRecord, now: number): UserView {
  const lockout = store.lockoutState(user.sid, now);
  return {
    name: user.name,
    qualifiedName: store.nameOf(user.sid),
    sid: user.sid,
    rid: user.rid,
    fullName: user.fullName,
    description: user.description,
    disabled: user.disabled,
    lockedOut: lockout.lockedOut,
    failedAttempts: lockout.failures,
    lockedUntil: lockout.lockedUntil === null ? null : new Date(lockout.lockedUntil).toISOString(),
    passwordExpired: user.passwordExpired,
    mustChangePassword: user.mustChangePassword,
    passwordChangedAt: user.passwordChangedAt ?? null,
    createdAt: user.createdAt,
    osAccount: user.osAccount ?? null,
    ntlmEnabled: user.ntlmEnabled,
    digestEnabled: user.digestEnabled,
  };
}

export function userDetails(store: AccountStore, user: UserRecord, now: number): UserDetails {
  const groups = store.groupsOf(user.sid).map((g) => ({ sid: g.sid, name: store.nameOf(g.sid) }));
  // The SIDs every logon of the account carries whatever its type: itself, its groups, Everyone and Authenticated
  // Users (the logon-type groups depend on the logon, so rights granted to them are not shown here).
  const sids = new Set<Sid>([user.sid, ...groups.map((g) => g.sid), WellKnownSid.Everyone, WellKnownSid.AuthenticatedUsers]);
  const grants = store.listRights().filter((r) => sids.has(r.sid));
  const rights = USER_RIGHTS.flatMap((right) => {
    const via = grants.filter((g) => g.right === right).map((g) => ({ sid: g.sid, name: store.nameOf(g.sid) }));
    return via.length ? [{ right, via }] : [];
  });
  // Which realms have verifiers, asked through the only reader there is; the answer is used as a yes or no, never shown.
  const realms = user.digestEnabled ? store.digestRealms() : [];
  const covered = (realm: string) => store.digestVerifierOf(user.sid, realm, 'SHA-256', user.name) !== undefined;
  return {
    ...userView(store, user, now),
    digestRealms: realms.filter(covered),
    digestRealmsPending: realms.filter((r) => !covered(r)),
    groups,
    rights,
  };
}

export async function userListCommand(options: GlobalOptions, opts: { readonly json?: boolean }): Promise<number> {
  return withStore(options, (store) => {
    const now = Date.now();
    const users = store.listUsers().map((u) => userView(store, u, now));
    if (opts.json) {
      console.log(JSON.stringify(users, null, 2));
      return Exit.OK;
    }
    const lines = [`User accounts for \\\\${store.machineName}`, ''];
    if (users.length === 0) lines.push('(no users; create one with persona user add NAME)');
    else {
      const width = Math.max(4, ...users.map((u) => u.name.length)) + 2;
      const fullWidth = Math.max(9, ...users.map((u) => u.fullName.length)) + 2;
      lines.push('Name'.padEnd(width) + 'Full name'.padEnd(fullWidth) + 'Status');
      for (const u of users) lines.push(u.name.padEnd(width) + u.fullName.padEnd(fullWidth) + status(u));
    }
    console.log(lines.join('\n'));
    return Exit.OK;
  });
}

export async function userShowCommand(options: GlobalOptions, name: string, opts: { readonly json?: boolean }): Promise<number> {
  return withStore(options, (store) => {
    const user = store.findUser(name);
    if (!user) return fail(`no such user: ${name}`);
    const d = userDetails(store, user, Date.now());
    if (opts.json) {
      console.log(JSON.stringify(d, null, 2));
      return Exit.OK;
    }
    const yesNo = (b: boolean) => (b ? 'Yes' : 'No');
    const locked = d.lockedOut ? `Yes, ${d.lockedUntil ? `until ${d.lockedUntil}` : 'until an administrator unlocks it'} (persona user unlock ${d.name})` : `No (${d.failedAttempts} failed attempt(s) counted)`;
    const rows: [string, string][] = [
      ['User name', d.name],
      ['Qualified name', d.qualifiedName],
      ['Full name', d.fullName],
      ['Comment', d.description],
      ['SID', d.sid],
      ['Account active', yesNo(!d.disabled)],
      ['Account locked out', locked],
      ['Password last set', d.passwordChangedAt ?? 'never'],
      ['Password expired', yesNo(d.passwordExpired)],
      ['User must change password', yesNo(d.mustChangePassword)],
      ['OS account', d.osAccount ?? '(none)'],
      ['NTLM', d.ntlmEnabled ? 'enabled (NT hash stored: password-equivalent)' : 'disabled'],
      ['Digest', digestLine(d)],
      ['Created', d.createdAt],
    ];
    const lines = rows.map(([k, v]) => `${k.padEnd(30)}${v}`);
    const list = (title: string, items: string[]) => {
      if (items.length === 0) lines.push(`${title.padEnd(30)}(none)`);
      items.forEach((item, i) => lines.push(`${(i === 0 ? title : '').padEnd(30)}${item}`));
    };
    list('Local group memberships', d.groups.map((g) => g.name));
    list('User rights', d.rights.map((r) => `${r.right} (via ${r.via.map((v) => v.name).join(', ')})`));
    console.log(lines.join('\n'));
    return Exit.OK;
  });
}

/** The Digest row of `user show`: on or off, the realms covered, the ones waiting for a password change. */
function digestLine(d: UserDetails): string {
  if (!d.digestEnabled) return 'disabled';
  const quoted = (realms: readonly string[]) => realms.map((r) => `"${r}"`).join(', ');
  const pending = d.digestRealmsPending.length ? `no verifier yet for ${quoted(d.digestRealmsPending)} (set the password again)` : '';
  if (d.digestRealms.length === 0) return pending ? `enabled; ${pending}` : 'enabled, but there is no Digest realm (persona digest realms add REALM)';
  return `enabled for realms ${quoted(d.digestRealms)} (verifiers stored: password-equivalent)${pending ? `; ${pending}` : ''}`;
}

function status(u: UserView): string {
  const parts = [u.disabled ? 'disabled' : 'active'];
  if (u.lockedOut) parts.push('locked out');
  if (u.passwordExpired) parts.push('password expired');
  if (u.mustChangePassword) parts.push('must change password');
  return parts.join(', ');
}

function dedupe(names: readonly string[]): string[] {
  const seen = new Set<string>();
  return names.filter((n) => {
    const key = n.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The OS account is a Linux user name (or a numeric uid) that processes for this user will run as; it ends up in
 * setuid decisions, so anything that is not plainly a user name is refused here rather than interpreted later.
 */
export function osAccountProblem(account: string): string | null {
  if (/^\d{1,10}$/.test(account)) return null;
  if (/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/.test(account)) return null;
  return `${JSON.stringify(account)} is not an OS user name (letters, digits, _ . -, at most 32, not starting with - or a digit) or a numeric uid`;
}

/** A mapping to an account this machine does not know is allowed (it may be created later) but said aloud. */
function warnMissingOsAccount(account: string | undefined): void {
  if (account === undefined) return;
  // `id` asks NSS, so LDAP/SSSD users count too, which reading /etc/passwd would miss.
  const r = spawnSync('id', ['-u', '--', account], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) console.error(`persona: warning: there is no OS account ${account} on this machine yet; processes run as this user will fail until it exists`);
}

// ---- persona digest realms ----

/** `persona digest realms [list]`: the realms the store makes Digest verifiers for. */
export async function digestRealmsListCommand(options: GlobalOptions, opts: { readonly json?: boolean }): Promise<number> {
  return withStore(options, (store) => {
    const realms = store.digestRealms();
    if (opts.json) console.log(JSON.stringify(realms));
    else if (realms.length === 0) console.log('(no Digest realm: Digest logons fail; add one with persona digest realms add REALM)');
    else console.log(realms.join('\n'));
    return Exit.OK;
  });
}

/** `persona digest realms add REALM`: verifiers for it come with each Digest account's next password change. */
export async function digestRealmsAddCommand(options: GlobalOptions, realm: string): Promise<number> {
  return withStore(options, (store) => {
    const lacking = store.addDigestRealm(realm);
    console.log(`persona: Digest realm "${realm}" added`);
    if (lacking > 0) {
      // Verifiers are made from the password, which the store does not keep: only a password change can add them.
      const names = store.listUsers().filter((u) => u.digestEnabled).map((u) => u.name);
      console.log(
        `persona: ${lacking} account(s) with Digest enabled have no verifier for it until their password is next set (persona user passwd NAME): ${names.join(', ')}`,
      );
    }
    return Exit.OK;
  });
}

/** `persona digest realms remove REALM`: its verifiers are deleted at once. */
export async function digestRealmsRemoveCommand(options: GlobalOptions, realm: string): Promise<number> {
  return withStore(options, (store) => {
    const affected = store.removeDigestRealm(realm);
    console.log(`persona: Digest realm "${realm}" removed; the verifiers of ${affected} account(s) for it are deleted`);
    if (store.digestRealms().length === 0) console.error('persona: warning: no Digest realm remains, so every Digest logon fails until one is added');
    return Exit.OK;
  });
}
