/**
 * `persona acl …`: Windows-style DACLs on physical paths, like icacls: show, /grant, /deny, /remove,
 * /inheritance:e|d|r, /reset. Persona stores only each path's own (explicit) descriptor; what a path inherits is
 * computed from its ancestors (inheritance.ts), so `show` walks the chain from `/` to the path.
 *
 * The edits (addAces, removeSids, disableInheritance) are pure functions of the stored descriptor; the commands
 * only read, apply one of them and write the result back in one store call, so each command is one atomic change.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AccountStore } from '../accounts/types.js';
import type { Ace, AceFlags, DescriptorLink, SecurityDescriptor } from '../security/acl-types.js';
import { formatAce, formatMask, parseAceSpec } from '../security/ace-syntax.js';
import { ancestry } from '../security/acl-resolver.js';
import { effectiveDacl, type EffectiveAce } from '../security/inheritance.js';
import { parseSid, type Sid } from '../security/sid.js';
import { Exit } from './exit-codes.js';
import type { GlobalOptions } from './options.js';
import { fail, withStore } from './store-access.js';

export interface AclTarget {
  /** Canonical absolute path: the key descriptors are stored under. */
  readonly path: string;
  readonly exists: boolean;
  readonly isContainer: boolean;
}

/**
 * The canonical form of a physical path: absolute, and with symbolic links resolved as far as the path exists
 * (the nearest existing ancestor's realpath plus the rest), so an ACL set through a link lands on the path the
 * server checks. A path that does not exist yet is a folder when written with a trailing slash, else a file.
 */
export async function aclTarget(text: string): Promise<AclTarget | { error: string }> {
  if (text === '') return { error: 'the path is empty' };
  if (text.includes('\0')) return { error: 'the path contains a NUL character' };
  const absolute = path.resolve(text);
  const real = await realpath(absolute).catch(() => undefined);
  if (real !== undefined) {
    const stats = await stat(real).catch(() => undefined);
    return { path: real, exists: true, isContainer: stats?.isDirectory() ?? false };
  }
  const rest: string[] = [];
  let existing = absolute;
  for (;;) {
    const parent = path.dirname(existing);
    rest.unshift(path.basename(existing));
    existing = parent;
    const resolved = await realpath(existing).catch(() => undefined);
    if (resolved !== undefined) return { path: path.join(resolved, ...rest), exists: false, isContainer: text.endsWith('/') };
    if (parent === path.dirname(parent)) return { path: absolute, exists: false, isContainer: text.endsWith('/') };
  }
}

/** Every path from `/` down to the target, each with its stored descriptor: root first, object last — the chain the server checks. */
export function descriptorChain(store: AccountStore, target: AclTarget): DescriptorLink[] {
  const paths = ancestry(target.path);
  return paths.map((p, i) => ({ path: p, isContainer: i < paths.length - 1 || target.isContainer, descriptor: store.getDescriptor(p) }));
}

const sameInheritance = (a: AceFlags, b: AceFlags): boolean =>
  a.objectInherit === b.objectInherit && a.containerInherit === b.containerInherit && a.inheritOnly === b.inheritOnly && a.noPropagate === b.noPropagate;

/**
 * icacls /grant and /deny: adds explicit ACEs. An ACE of the same type, SID and inheritance flags as an existing
 * explicit one merges into it (masks OR-ed), as Windows' SetEntriesInAcl does, instead of piling up duplicates.
 * New deny ACEs go before the explicit allow ACEs and new allow ACEs after the explicit ones: canonical order.
 * A NULL DACL becomes a DACL holding just the new ACEs (granting something to one SID ends "full access to all").
 */
export function addAces(dacl: readonly Ace[] | null, added: readonly Ace[]): Ace[] {
  const result = [...(dacl ?? [])];
  for (const ace of added) {
    const explicit = { ...ace, flags: { ...ace.flags, inherited: false } };
    const same = result.findIndex((a) => !a.flags.inherited && a.type === explicit.type && a.sid === explicit.sid && sameInheritance(a.flags, explicit.flags));
    if (same !== -1) {
      result[same] = { ...result[same]!, mask: (result[same]!.mask | explicit.mask) >>> 0 };
      continue;
    }
    const afterExplicit = result.reduce((end, a, i) => (a.flags.inherited ? end : i + 1), 0);
    const firstAllow = result.findIndex((a) => !a.flags.inherited && a.type === 'allow');
    result.splice(explicit.type === 'deny' && firstAllow !== -1 ? firstAllow : afterExplicit, 0, explicit);
  }
  return result;
}

/** icacls /remove: every explicit ACE (allow and deny) of these SIDs. Inherited ones belong to the ancestors. */
export function removeSids(dacl: readonly Ace[] | null, sids: ReadonlySet<Sid>): { dacl: Ace[] | null; removed: number } {
  if (dacl === null) return { dacl: null, removed: 0 };
  const kept = dacl.filter((a) => a.flags.inherited || !sids.has(a.sid));
  return { dacl: kept, removed: dacl.length - kept.length };
}

/**
 * icacls /inheritance:d: the object's own ACEs, then copies of what it inherits now, made explicit, and the
 * descriptor protected: the object keeps exactly the access it had, but no longer follows its parents. An object
 * under a NULL DACL (full access, see inheritance.ts) keeps it as its own NULL DACL, for the same reason.
 */
export function disableInheritance(own: SecurityDescriptor | undefined, effective: readonly EffectiveAce[] | null): SecurityDescriptor {
  if (effective === null) return { ...own, dacl: null, protected: true };
  const explicit = (own?.dacl ?? []).filter((a) => !a.flags.inherited);
  const copied = effective.filter((e) => e.ace.flags.inherited).map((e) => ({ ...e.ace, flags: { ...e.ace.flags, inherited: false } }));
  return { ...own, dacl: [...explicit, ...copied], protected: true };
}

export interface AclShowJson {
  readonly path: string;
  readonly exists: boolean;
  readonly isContainer: boolean;
  /** Whether this path has a descriptor of its own (else it only inherits). */
  readonly stored: boolean;
  readonly owner: { readonly sid: Sid; readonly name: string } | null;
  readonly protected: boolean;
  /** True for a NULL DACL (everyone full access); `aces` is then empty. */
  readonly nullDacl: boolean;
  /** True when no path in the chain has a descriptor: every access is denied. */
  readonly noAclInChain: boolean;
  readonly aces: readonly {
    readonly type: 'allow' | 'deny';
    readonly sid: Sid;
    readonly name: string;
    readonly mask: number;
    readonly rights: string;
    readonly flags: AceFlags;
    readonly inherited: boolean;
    readonly from: string;
    readonly text: string;
  }[];
  readonly reason: string;
}

export function aclShowJson(store: AccountStore, target: AclTarget): AclShowJson {
  const chain = descriptorChain(store, target);
  const own = chain.at(-1)!.descriptor;
  const effective = effectiveDacl(chain);
  const nameOf = (sid: Sid) => store.nameOf(sid);
  return {
    path: target.path,
    exists: target.exists,
    isContainer: target.isContainer,
    stored: own !== undefined,
    owner: own?.owner ? { sid: own.owner, name: nameOf(own.owner) } : null,
    protected: own?.protected ?? false,
    nullDacl: effective.aces === null,
    noAclInChain: chain.every((l) => l.descriptor === undefined),
    aces: (effective.aces ?? []).map((e) => ({
      type: e.ace.type,
      sid: e.ace.sid,
      name: nameOf(e.ace.sid),
      mask: e.ace.mask,
      rights: formatMask(e.ace.mask),
      flags: e.ace.flags,
      inherited: e.ace.flags.inherited,
      from: e.from,
      text: formatAce(e.ace, nameOf),
    })),
    reason: effective.reason,
  };
}

export function formatAclShow(show: AclShowJson): string {
  const kind = show.exists ? (show.isContainer ? 'folder' : 'file') : `${show.isContainer ? 'folder' : 'file'}, does not exist yet`;
  const lines = [`${show.path}  (${kind})`];
  lines.push(`  owner:        ${show.owner ? `${show.owner.name} (${show.owner.sid})` : '(not set)'}`);
  lines.push(`  inheritance:  ${show.protected ? 'disabled (protected: nothing is inherited from the parent)' : 'enabled'}`);
  lines.push(`  descriptor:   ${show.stored ? 'stored for this path' : 'none of its own (everything shown is inherited)'}`);
  if (show.noAclInChain) {
    lines.push('', `no ACL applies: every access is denied; run persona acl grant ${quoteArg(show.path)} 'Administrators:(OI)(CI)F' (or grant on a parent folder) to give access`);
    return lines.join('\n');
  }
  if (show.nullDacl) {
    lines.push('', 'NULL DACL: everyone has full access', `  ${show.reason}`);
    return lines.join('\n');
  }
  lines.push('');
  if (show.aces.length === 0) lines.push('  (empty DACL: every access is denied)');
  const width = Math.max(0, ...show.aces.map((a) => a.text.length)) + 2;
  for (const a of show.aces) lines.push(`  ${a.inherited ? a.text.padEnd(width) + `from ${a.from}` : a.text}`);
  lines.push('', `  ${show.reason}`);
  return lines.join('\n');
}

const quoteArg = (s: string): string => (/^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export async function aclShowCommand(options: GlobalOptions, pathText: string, opts: { readonly json?: boolean }): Promise<number> {
  const target = await aclTarget(pathText);
  if ('error' in target) return fail(target.error);
  return withStore(options, (store) => {
    const show = aclShowJson(store, target);
    console.log(opts.json ? JSON.stringify(show, null, 2) : formatAclShow(show));
    return Exit.OK;
  });
}

export async function aclGrantCommand(options: GlobalOptions, pathText: string, specs: readonly string[]): Promise<number> {
  return addCommand(options, pathText, specs, 'allow');
}

export async function aclDenyCommand(options: GlobalOptions, pathText: string, specs: readonly string[]): Promise<number> {
  return addCommand(options, pathText, specs, 'deny');
}

async function addCommand(options: GlobalOptions, pathText: string, specs: readonly string[], type: 'allow' | 'deny'): Promise<number> {
  const target = await aclTarget(pathText);
  if ('error' in target) return fail(target.error);
  return withStore(options, (store) => {
    const aces: Ace[] = [];
    // All specs are parsed before anything is written: one bad spec changes nothing.
    for (const spec of specs) {
      const parsed = parseAceSpec(spec, (n) => store.resolvePrincipal(n), type);
      if ('error' in parsed) return fail(`${spec}: ${parsed.error}; nothing changed`);
      aces.push(parsed);
    }
    const own = store.getDescriptor(target.path);
    const note = own?.dacl === null ? ' (it had a NULL DACL, full access for everyone; now only these ACEs and inherited ones apply)' : '';
    store.setDescriptor(target.path, { ...own, dacl: addAces(own?.dacl ?? [], aces), protected: own?.protected ?? false });
    const verb = type === 'allow' ? 'granted' : 'denied';
    console.log(`persona: ${target.path}: ${verb} ${aces.map((a) => formatAce(a, (s) => store.nameOf(s))).join(', ')}${note}`);
    return Exit.OK;
  });
}

export async function aclRemoveCommand(options: GlobalOptions, pathText: string, principals: readonly string[]): Promise<number> {
  const target = await aclTarget(pathText);
  if ('error' in target) return fail(target.error);
  return withStore(options, (store) => {
    const sids = new Set<Sid>();
    for (const p of principals) {
      // A bare SID is accepted even when no account has it any more: removing orphaned ACEs is the usual reason.
      const sid = store.resolvePrincipal(p)?.sid ?? parseSid(p.replace(/^\*/, ''));
      if (!sid) return fail(`no such principal: ${p}; nothing changed`);
      sids.add(sid);
    }
    const names = [...sids].map((s) => store.nameOf(s)).join(', ');
    const own = store.getDescriptor(target.path);
    const { dacl, removed } = removeSids(own?.dacl ?? [], sids);
    const inheritedLeft = (effectiveDacl(descriptorChain(store, target)).aces ?? []).filter((e) => e.ace.flags.inherited && sids.has(e.ace.sid));
    const still = inheritedLeft.length
      ? `; inherited ACEs for them remain (from ${[...new Set(inheritedLeft.map((e) => e.from))].join(', ')}): change them there, or run persona acl inherit ${quoteArg(target.path)} disable first`
      : '';
    if (!own || removed === 0) {
      console.log(`persona: ${target.path}: no explicit ACE for ${names}; nothing changed${still}`);
      return Exit.OK;
    }
    store.setDescriptor(target.path, { ...own, dacl });
    console.log(`persona: ${target.path}: removed ${removed} explicit ACE(s) for ${names}${still}`);
    return Exit.OK;
  });
}

export type InheritMode = 'enable' | 'disable' | 'remove';

export async function aclInheritCommand(options: GlobalOptions, pathText: string, mode: InheritMode): Promise<number> {
  const target = await aclTarget(pathText);
  if ('error' in target) return fail(target.error);
  return withStore(options, (store) => {
    const own = store.getDescriptor(target.path);
    if (mode === 'enable') {
      if (!own?.protected) {
        console.log(`persona: ${target.path} already inherits from its parent; nothing changed`);
        return Exit.OK;
      }
      store.setDescriptor(target.path, { ...own, protected: false });
      console.log(`persona: ${target.path}: inheritance enabled; ACEs from the parent apply again after the explicit ones`);
      return Exit.OK;
    }
    if (own?.protected) {
      console.log(`persona: ${target.path}: inheritance is already disabled; nothing changed`);
      return Exit.OK;
    }
    if (mode === 'disable') {
      const effective = effectiveDacl(descriptorChain(store, target));
      const next = disableInheritance(own, effective.aces);
      store.setDescriptor(target.path, next);
      const copied = (effective.aces ?? []).filter((e) => e.ace.flags.inherited).length;
      console.log(`persona: ${target.path}: inheritance disabled; ${copied} inherited ACE(s) copied as explicit ones`);
      return Exit.OK;
    }
    const next: SecurityDescriptor = { ...own, dacl: own ? own.dacl : [], protected: true };
    store.setDescriptor(target.path, next);
    const empty = next.dacl !== null && next.dacl.length === 0;
    console.log(`persona: ${target.path}: inheritance removed; only its own ACEs apply${empty ? ' — it has none, so every access is denied' : ''}`);
    return Exit.OK;
  });
}

export async function aclResetCommand(options: GlobalOptions, pathText: string): Promise<number> {
  const target = await aclTarget(pathText);
  if ('error' in target) return fail(target.error);
  return withStore(options, (store) => {
    if (!store.getDescriptor(target.path)) {
      console.log(`persona: ${target.path} has no descriptor of its own; nothing changed`);
      return Exit.OK;
    }
    store.setDescriptor(target.path, null);
    console.log(`persona: ${target.path}: its own descriptor is dropped; it now only inherits from its parent`);
    return Exit.OK;
  });
}
