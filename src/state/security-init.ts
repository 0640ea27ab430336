/**
 * The security state a new installation starts with (issue 3): a root ACL every path inherits from —
 * Administrators and SYSTEM full control, Users read & execute — and, with the demo site, a user to log in with, IUSR
 * allowed to read the public part, and a secure folder only Users may read.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openAccountStore } from '../accounts/store.js';
import type { AccountStore } from '../accounts/types.js';
import { SimpleRight } from '../security/access-mask.js';
import type { Ace, AceFlags } from '../security/acl-types.js';
import { WellKnownSid, type Sid } from '../security/sid.js';

const INHERIT: AceFlags = { objectInherit: true, containerInherit: true, inheritOnly: false, noPropagate: false, inherited: false };
const allow = (sid: Sid, mask: number): Ace => ({ type: 'allow', sid, mask, flags: INHERIT });

export const DEMO_USER = 'alice';

/**
 * Opens the account store; when this call creates the database it also writes the root ACL, so whichever comes
 * first — `persona serve` or an account command — starts from the same defaults. (Deciding on "the database is
 * new" rather than "no ACL exists" means an administrator who removes the root ACL is not overruled later.)
 */
export function openInitialisedStore(
  file: string,
  machine: { machineName: string; machineSid: Sid },
  passwordHash: 'scrypt' | 'argon2id' = 'scrypt',
): { store: AccountStore; created: boolean } {
  const created = !existsSync(file);
  const store = openAccountStore(file, machine, { verifierAlgorithm: passwordHash });
  if (created) writeRootAcl(store);
  return { store, created };
}

export function writeRootAcl(store: AccountStore): void {
  store.setDescriptor(path.sep, {
    dacl: [allow(WellKnownSid.Administrators, SimpleRight.F), allow(WellKnownSid.LocalSystem, SimpleRight.F), allow(WellKnownSid.Users, SimpleRight.RX)],
    protected: true,
  });
}

/** Creates the demo's account and ACLs; returns the lines that tell the user how to log in. */
export async function initDemoSecurity(store: AccountStore, demoRoot: string, port: number): Promise<string[]> {
  const wwwroot = path.join(demoRoot, 'wwwroot');
  const password = process.env.PERSONA_DEMO_PASSWORD || randomBytes(9).toString('base64url');
  if (!store.findUser(DEMO_USER)) {
    await store.createUser({ name: DEMO_USER, password, fullName: 'Alice (demo)', description: 'Demo account created on first run', groups: ['Users'], ntlm: true, digest: true });
  }
  store.setDescriptor(wwwroot, { dacl: [allow(WellKnownSid.Iusr, SimpleRight.RX)], protected: false });
  store.setDescriptor(path.join(wwwroot, 'secure'), {
    dacl: [allow(WellKnownSid.Administrators, SimpleRight.F), allow(WellKnownSid.LocalSystem, SimpleRight.F), allow(WellKnownSid.Users, SimpleRight.RX)],
    protected: true,
  });
  return [
    `demo login: ${DEMO_USER} / ${password}  (NTLM, Digest or Basic, http://127.0.0.1:${port}/secure/)`,
    `  change it: persona user passwd ${DEMO_USER}`,
  ];
}
