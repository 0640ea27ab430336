/**
 * Which account Digest credentials name, and which stored verifier answers them: the decisions between parsing and
 * verifying, each returning its reason (for the audit log) instead of throwing.
 *
 * - The name a client sends is the name the user typed, and it is hashed as typed: H(typed ":" realm ":" password).
 *   So the account is found by the name with a domain part naming this machine removed (`MACHINE\alice`,
 *   `alice@MACHINE`), but the verifier must be the one made for exactly the typed form — which exists only for the
 *   forms the store keeps (as created, lower case, upper case; digestNameForms). A user who typed `MACHINE\alice`
 *   gets a clear "no verifier for that form" reason, never a wrong-password count.
 * - userhash=true: the username is H(name ":" realm); the store finds the account by its index of those hashes,
 *   and the typed form is the one whose hash matches.
 */
import type { AccountStore, UserRecord } from '../../accounts/types.js';
import { digestNameForms } from '../../accounts/store.js';
import { userhashOf, type DigestHash } from './algorithms.js';
import type { DigestCredentials } from './authorization.js';

export type DigestAccount =
  | { readonly ok: true; readonly user: UserRecord; readonly nameAsTyped: string }
  | {
      readonly ok: false;
      /** The account name for the audit event (what the client sent, or "(userhash)" when it sent a hash). */
      readonly account: string;
      readonly domain: string;
      readonly reason: string;
      /** The name is this machine's but no such user exists (as opposed to a foreign domain). */
      readonly unknownUser: boolean;
    };

/** Strips `MACHINE\` or `@MACHINE` when MACHINE is one of this machine's names (or "."); undefined for a foreign domain. */
export function localName(typed: string, machineNames: readonly string[]): { readonly name: string; readonly domain: string | undefined } {
  const ours = (domain: string) => domain === '.' || machineNames.some((m) => m.toUpperCase() === domain.toUpperCase());
  const backslash = typed.indexOf('\\');
  if (backslash !== -1) {
    const domain = typed.slice(0, backslash);
    return ours(domain) || domain === '' ? { name: typed.slice(backslash + 1), domain: undefined } : { name: typed, domain };
  }
  const at = typed.lastIndexOf('@');
  // An @ that does not name this machine stays part of the name (local names may hold one).
  if (at !== -1 && ours(typed.slice(at + 1))) return { name: typed.slice(0, at), domain: undefined };
  return { name: typed, domain: undefined };
}

export function findDigestAccount(
  credentials: Pick<DigestCredentials, 'username' | 'userhash'>,
  realm: string,
  hash: DigestHash,
  store: Pick<AccountStore, 'findUser' | 'findUserByUserhash' | 'machineName'>,
  machineNames: readonly string[],
): DigestAccount {
  if (credentials.userhash) {
    const user = store.findUserByUserhash(realm, hash, credentials.username);
    if (!user) {
      return { ok: false, account: '(userhash)', domain: store.machineName, unknownUser: true, reason: `no account has the ${hash} userhash the client sent for realm "${realm}" (unknown user, or Digest not enabled for it)` };
    }
    const nameAsTyped = digestNameForms(user.name).find((form) => userhashOf(hash, form, realm) === credentials.username.toLowerCase());
    if (nameAsTyped === undefined) return { ok: false, account: user.name, domain: store.machineName, unknownUser: true, reason: 'the userhash matches none of the account\'s name forms' };
    return { ok: true, user, nameAsTyped };
  }
  const typed = credentials.username;
  const local = localName(typed, machineNames);
  if (local.domain !== undefined) {
    return { ok: false, account: typed, domain: local.domain, unknownUser: false, reason: `domain "${local.domain}" is not this machine (${store.machineName}); domain accounts are not supported yet` };
  }
  const user = local.name === '' ? undefined : store.findUser(local.name);
  if (!user) return { ok: false, account: local.name, domain: store.machineName, unknownUser: true, reason: local.name === '' ? 'no user name was given' : `no local user "${local.name}" on ${store.machineName}` };
  return { ok: true, user, nameAsTyped: typed };
}

export type DigestVerifierLookup = { readonly ok: true; readonly ha1: string } | { readonly ok: false; readonly reason: string };

/** The stored H(nameAsTyped:realm:password) for `hash`, or why there is none. */
export function findDigestVerifier(
  store: Pick<AccountStore, 'digestVerifierOf'>,
  user: UserRecord,
  realm: string,
  hash: DigestHash,
  nameAsTyped: string,
): DigestVerifierLookup {
  const ha1 = store.digestVerifierOf(user.sid, realm, hash, nameAsTyped);
  if (ha1 !== undefined) return { ok: true, ha1 };
  const what = `no Digest verifier for "${user.name}" (realm "${realm}", ${hash}, name typed as "${printable(nameAsTyped)}")`;
  if (!user.digestEnabled) return { ok: false, reason: `${what}: Digest is not enabled for the account (persona user passwd ${user.name} --digest enables it)` };
  const forms = digestNameForms(user.name);
  if (!forms.includes(nameAsTyped)) {
    return { ok: false, reason: `${what}: Digest hashes names as typed, and verifiers exist only for the stored forms ${forms.map((f) => `"${f}"`).join(', ')}` };
  }
  return { ok: false, reason: `${what}: the realm was probably added after the account's last password change (set the password again to make its verifiers)` };
}

/** Names from the wire go into reasons: control characters out, length bounded. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 100);
}
