/**
 * `persona rights …`: user rights assignment (Windows' Local Security Policy → User Rights Assignment, or
 * `ntrights`). Principals are anything the store resolves: users, groups, well-known names, SIDs.
 */
import type { AccountStore } from '../accounts/types.js';
import { USER_RIGHTS, type UserRight } from '../security/token.js';
import { Exit } from './exit-codes.js';
import type { GlobalOptions } from './options.js';
import { fail, withStore } from './store-access.js';

/** The right's canonical name; Windows compares these names case-insensitively. */
export function parseUserRight(text: string): UserRight | { error: string } {
  const found = USER_RIGHTS.find((r) => r.toLowerCase() === text.trim().toLowerCase());
  return found ?? { error: `no such user right: ${text} (one of ${USER_RIGHTS.join(', ')})` };
}

type Resolved = { readonly sid: string; readonly name: string };

function resolveBoth(store: AccountStore, principal: string, rightText: string): { who: Resolved; right: UserRight } | { error: string } {
  const right = parseUserRight(rightText);
  if (typeof right !== 'string') return right;
  const who = store.resolvePrincipal(principal);
  if (!who) return { error: `no such principal: ${principal} (a user, a group, a well-known name such as Everyone, or a SID)` };
  return { who, right };
}

const holds = (store: AccountStore, sid: string, right: UserRight): boolean => store.listRights().some((r) => r.sid === sid && r.right === right);

export async function rightsGrantCommand(options: GlobalOptions, principal: string, rightText: string): Promise<number> {
  return withStore(options, (store) => {
    const r = resolveBoth(store, principal, rightText);
    if ('error' in r) return fail(r.error);
    const name = store.nameOf(r.who.sid);
    if (holds(store, r.who.sid, r.right)) {
      console.log(`persona: ${name} already holds ${r.right}; nothing changed`);
      return Exit.OK;
    }
    store.grantRight(r.who.sid, r.right);
    console.log(`persona: ${r.right} granted to ${name} (${r.who.sid})`);
    return Exit.OK;
  });
}

export async function rightsRevokeCommand(options: GlobalOptions, principal: string, rightText: string): Promise<number> {
  return withStore(options, (store) => {
    const r = resolveBoth(store, principal, rightText);
    if ('error' in r) return fail(r.error);
    const name = store.nameOf(r.who.sid);
    // Not an idempotent success: someone revoking a right expects it gone, and a right held through a group (say
    // SeNetworkLogonRight through Everyone) is not removed by revoking it from the user.
    if (!holds(store, r.who.sid, r.right)) {
      const others = store.listRights().filter((g) => g.right === r.right).map((g) => store.nameOf(g.sid));
      const note = others.length ? `; it is held by ${others.join(', ')}` : '';
      return fail(`${name} does not hold ${r.right} itself; nothing changed${note}`);
    }
    store.revokeRight(r.who.sid, r.right);
    console.log(`persona: ${r.right} revoked from ${name} (${r.who.sid})`);
    return Exit.OK;
  });
}

export async function rightsListCommand(options: GlobalOptions, opts: { readonly json?: boolean }): Promise<number> {
  return withStore(options, (store) => {
    const grants = store.listRights();
    const table = USER_RIGHTS.map((right) => ({
      right,
      principals: grants.filter((g) => g.right === right).map((g) => ({ sid: g.sid, name: store.nameOf(g.sid) })),
    }));
    if (opts.json) {
      console.log(JSON.stringify(table, null, 2));
      return Exit.OK;
    }
    const width = Math.max(...USER_RIGHTS.map((r) => r.length)) + 2;
    console.log(table.map((t) => t.right.padEnd(width) + (t.principals.length ? t.principals.map((p) => p.name).join(', ') : '(nobody)')).join('\n'));
    return Exit.OK;
  });
}
