/**
 * `persona group …`: local groups and their members, like Windows `net localgroup`. Membership changes name
 * several users at once; every name is checked before anything changes, so a typo in the third name does not
 * leave the first two half-applied.
 */
import type { AccountStore, GroupRecord, UserRecord } from '../accounts/types.js';
import { Exit } from './exit-codes.js';
import type { GlobalOptions } from './options.js';
import { fail, withStore } from './store-access.js';

export async function groupAddCommand(options: GlobalOptions, name: string, opts: { readonly description?: string }): Promise<number> {
  return withStore(options, (store) => {
    if (store.findGroup(name)) return fail(`the group ${name} already exists`);
    const group = store.createGroup(name, opts.description);
    console.log(`persona: group ${store.nameOf(group.sid)} created (${group.sid})`);
    return Exit.OK;
  });
}

export async function groupRemoveCommand(options: GlobalOptions, name: string): Promise<number> {
  return withStore(options, (store) => {
    const group = store.findGroup(name);
    if (!group) return fail(`no such group: ${name}`);
    if (group.builtin) return fail(`${store.nameOf(group.sid)} is a built-in group and cannot be removed`);
    store.removeGroup(group.name);
    console.log(`persona: group ${store.nameOf(group.sid)} (${group.sid}) removed; ACL entries naming ${group.sid} no longer match anyone`);
    return Exit.OK;
  });
}

export async function groupListCommand(options: GlobalOptions, opts: { readonly json?: boolean }): Promise<number> {
  return withStore(options, (store) => {
    const groups = store.listGroups().map((g) => ({ ...groupView(store, g), members: store.members(g.name).length }));
    if (opts.json) {
      console.log(JSON.stringify(groups, null, 2));
      return Exit.OK;
    }
    const width = Math.max(...groups.map((g) => g.qualifiedName.length), 4) + 2;
    const lines = [`Groups for \\\\${store.machineName}`, '', 'Name'.padEnd(width) + 'Members  Description'];
    for (const g of groups) lines.push(g.qualifiedName.padEnd(width) + String(g.members).padEnd(9) + g.description);
    console.log(lines.join('\n'));
    return Exit.OK;
  });
}

export async function groupMembersListCommand(options: GlobalOptions, groupName: string, opts: { readonly json?: boolean }): Promise<number> {
  return withStore(options, (store) => {
    const group = store.findGroup(groupName);
    if (!group) return fail(`no such group: ${groupName}`);
    const members = store.members(group.name).map((u) => ({ name: u.name, qualifiedName: store.nameOf(u.sid), sid: u.sid }));
    if (opts.json) {
      console.log(JSON.stringify({ ...groupView(store, group), members }, null, 2));
      return Exit.OK;
    }
    const lines = [`Group      ${store.nameOf(group.sid)} (${group.sid})`, `Comment    ${group.description}`, '', 'Members', ''];
    if (members.length === 0) lines.push('(none)');
    for (const m of members) lines.push(`${m.qualifiedName}  ${m.sid}`);
    console.log(lines.join('\n'));
    return Exit.OK;
  });
}

export async function groupMembersAddCommand(options: GlobalOptions, groupName: string, users: readonly string[]): Promise<number> {
  return changeMembers(options, groupName, users, 'add');
}

export async function groupMembersRemoveCommand(options: GlobalOptions, groupName: string, users: readonly string[]): Promise<number> {
  return changeMembers(options, groupName, users, 'remove');
}

function changeMembers(options: GlobalOptions, groupName: string, names: readonly string[], change: 'add' | 'remove'): Promise<number> {
  return withStore(options, (store) => {
    const group = store.findGroup(groupName);
    if (!group) return fail(`no such group: ${groupName}`);
    const planned = planMembers(store, group, names, change);
    if ('error' in planned) return fail(planned.error);
    for (const user of planned.users) {
      if (change === 'add') store.addMember(group.name, user.name);
      else store.removeMember(group.name, user.name);
    }
    const who = planned.users.map((u) => store.nameOf(u.sid)).join(', ');
    const what = change === 'add' ? `added to ${store.nameOf(group.sid)}` : `removed from ${store.nameOf(group.sid)}`;
    console.log(`persona: ${who} ${what}; their cached tokens are no longer used`);
    return Exit.OK;
  });
}

/** Resolves every name and checks each change makes sense (Windows' errors 1377/1378), before any is made. */
function planMembers(store: AccountStore, group: GroupRecord, names: readonly string[], change: 'add' | 'remove'): { users: UserRecord[] } | { error: string } {
  const current = new Set(store.members(group.name).map((u) => u.sid));
  const users: UserRecord[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    const user = store.findUser(name);
    if (!user) return { error: store.findGroup(name) ? `${name} is a group; only users can be members of a group` : `no such user: ${name}` };
    if (seen.has(user.sid)) continue;
    seen.add(user.sid);
    const member = current.has(user.sid);
    if (change === 'add' && member) return { error: `${store.nameOf(user.sid)} is already a member of ${store.nameOf(group.sid)}; nothing changed` };
    if (change === 'remove' && !member) return { error: `${store.nameOf(user.sid)} is not a member of ${store.nameOf(group.sid)}; nothing changed` };
    users.push(user);
  }
  return { users };
}

function groupView(store: AccountStore, g: GroupRecord) {
  return { name: g.name, qualifiedName: store.nameOf(g.sid), sid: g.sid, description: g.description, builtin: g.builtin };
}
