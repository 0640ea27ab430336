/**
 * The effective DACL of a file or folder (MODEL.md §4), computed from the explicit descriptors Persona stores along
 * the path — Windows' inheritance done at check time ("dynamic") instead of copied into every child.
 *
 * For each level, root first: its explicit ACEs (stored ACEs marked inherited are ignored: Persona computes those),
 * then what it inherits from its parent, unless its descriptor is protected. What a parent passes down, as Windows
 * propagates it:
 *  - to a file: ACEs with (OI), arriving with no inheritance flags;
 *  - to a folder: ACEs with (CI) apply to it and keep (OI)/(CI) to pass on; (OI)-only ACEs arrive inherit-only
 *    (IO), so they reach the files below without applying to the folder;
 *  - (NP): the ACE reaches the children only, as if it had no inheritance flags (an (OI)(NP) ACE reaches files
 *    but not subfolders); (IO) on the parent only means "not for me", the copy applies to the child.
 * Every copy is marked `inherited` and keeps `from`, the path whose descriptor holds the original.
 *
 * Order: Windows keeps a DACL's stored order and AccessCheck walks it as stored, so we do too — the object's explicit
 * ACEs as stored, then its parent's ACEs (in the parent's effective order), then the grandparent's, and so on.
 * When every stored descriptor is canonical (deny before allow, which `persona acl` writes) the result is canonical:
 * explicit deny, explicit allow, then inherited by distance, each deny before allow. A stored descriptor that is not
 * canonical keeps its order, as on Windows, and the reason says so.
 *
 * NULL and missing DACLs: a link with no descriptor inherits normally (the usual Windows case: nothing explicit).
 * `dacl: null` on the object is a NULL DACL (full access); on a protected ancestor it is a NULL DACL for the levels
 * below that have no descriptor of their own (a descriptor below, even empty, has a real DACL: its explicit ACEs
 * and nothing inherited from the NULL one). `dacl: null` on an ancestor that is not protected is a NULL DACL for
 * that folder only; its descendants look through it to what is above. No descriptor anywhere → empty DACL.
 */
import type { Ace, DescriptorLink } from './acl-types.js';

export interface EffectiveAce {
  readonly ace: Ace;
  /** The path whose descriptor holds the ACE (for inherited ACEs, the ancestor). */
  readonly from: string;
}

export interface EffectiveDacl {
  /** null = NULL DACL (full access); [] = empty DACL (no access). Includes inherit-only ACEs, which do not apply. */
  readonly aces: readonly EffectiveAce[] | null;
  readonly reason: string;
}

/** What one level passes to its children. */
type Inheritable =
  | { readonly kind: 'none' } // no descriptor so far
  | { readonly kind: 'null'; readonly at: string } // below a protected NULL DACL
  | { readonly kind: 'list'; readonly aces: readonly EffectiveAce[] };

const NONE: Inheritable = { kind: 'none' };

/** chain: root first, object last, one link per path level (a folder with no descriptor is still a link). */
export function effectiveDacl(chain: readonly DescriptorLink[]): EffectiveDacl {
  const object = chain[chain.length - 1];
  if (!object) return { aces: [], reason: 'empty DACL: the descriptor chain is empty (no path to check), so nobody has access' };
  const broken = chainProblem(chain);
  if (broken) return { aces: [], reason: `empty DACL: the descriptor chain is broken (${broken}), so nobody has access` };

  let state: Inheritable = NONE;
  let notes: string[] = []; // facts about levels that still matter to the object
  for (const [i, link] of chain.entries()) {
    const isObject = i === chain.length - 1;
    const fromParent = inherit(state, link.isContainer);
    const d = link.descriptor;
    if (!d) {
      state = fromParent;
      continue;
    }
    if (d.dacl === null) {
      if (isObject) {
        return { aces: null, reason: `NULL DACL set on ${link.path}${d.protected ? ' (protected)' : ''}: everyone has full access` };
      }
      if (d.protected) {
        state = { kind: 'null', at: link.path };
        notes = [];
      } else {
        // Not protected: a NULL DACL for this folder only; what is above still flows through it.
        state = fromParent;
        notes.push(`${link.path} has a NULL DACL that is not protected, which applies to that folder only`);
      }
      continue;
    }
    const ignored = d.dacl.filter((a) => a.flags.inherited).length;
    const explicit = d.dacl.filter((a) => !a.flags.inherited).map((ace) => ({ ace, from: link.path }));
    if (d.protected) notes = [`inheritance is blocked at ${link.path} (protected)`];
    if (ignored > 0) notes.push(`${ignored} ACE(s) stored as inherited at ${link.path} ignored (inherited ACEs are computed)`);
    if (!isCanonical(explicit.map((e) => e.ace))) notes.push(`the ACEs stored at ${link.path} put an allow before a deny; kept in stored order, as Windows does`);
    const inherited = !d.protected && fromParent.kind === 'list' ? fromParent.aces : [];
    state = { kind: 'list', aces: [...explicit, ...inherited] };
  }

  const tail = notes.length > 0 ? `; ${notes.join('; ')}` : '';
  switch (state.kind) {
    case 'none':
      return {
        aces: [],
        reason:
          `empty DACL: no security descriptor on ${object.path} or any folder above it up to ${chain[0]?.path}, so nobody has access` +
          ` (Persona writes one on the root at init: is the root descriptor missing?)${tail}`,
      };
    case 'null':
      return { aces: null, reason: `NULL DACL: inherited from the protected NULL DACL at ${state.at} (nothing set below it); everyone has full access${tail}` };
    case 'list':
      return { aces: state.aces, reason: describe(object.path, state.aces) + tail };
  }
}

/** What a level with the given inheritable state passes to a child file (isContainer false) or folder. */
function inherit(state: Inheritable, isContainer: boolean): Inheritable {
  if (state.kind !== 'list') return state;
  const out: EffectiveAce[] = [];
  for (const e of state.aces) {
    const ace = inheritedCopy(e.ace, isContainer);
    if (ace) out.push({ ace, from: e.from });
  }
  return { kind: 'list', aces: out };
}

function inheritedCopy(ace: Ace, isContainer: boolean): Ace | null {
  const { objectInherit: oi, containerInherit: ci, noPropagate: np } = ace.flags;
  const plain = { objectInherit: false, containerInherit: false, inheritOnly: false, noPropagate: false, inherited: true };
  if (!isContainer) return oi ? { ...ace, flags: plain } : null;
  if (np) return ci ? { ...ace, flags: plain } : null; // applies to this folder, goes no further
  if (ci) return { ...ace, flags: { ...plain, objectInherit: oi, containerInherit: true } };
  if (oi) return { ...ace, flags: { ...plain, objectInherit: true, inheritOnly: true } }; // for the files below only
  return null;
}

/** Deny ACEs before allow ACEs (Windows' canonical order within one group). */
export function isCanonical(aces: readonly Ace[]): boolean {
  let seenAllow = false;
  for (const a of aces) {
    if (a.type === 'allow') seenAllow = true;
    else if (seenAllow) return false;
  }
  return true;
}

function chainProblem(chain: readonly DescriptorLink[]): string | null {
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1]!;
    const child = chain[i]!;
    if (!parent.isContainer) return `${parent.path} is a file but has ${child.path} below it`;
    const base = parent.path.endsWith('/') ? parent.path : parent.path + '/';
    const rest = child.path.startsWith(base) ? child.path.slice(base.length) : '';
    if (rest === '' || rest.includes('/')) return `${child.path} is not directly inside ${parent.path}`;
  }
  return null;
}

function describe(path: string, aces: readonly EffectiveAce[]): string {
  if (aces.length === 0) return `empty DACL on ${path}: no explicit ACE and none inherited, so nobody has access`;
  const groups: { from: string; n: number }[] = [];
  for (const e of aces) {
    const last = groups[groups.length - 1];
    if (last && last.from === e.from) last.n++;
    else groups.push({ from: e.from, n: 1 });
  }
  const parts = groups.map((g) => (g.from === path ? `${g.n} explicit` : `${g.n} inherited from ${g.from}`));
  return `${aces.length} ACE(s) on ${path}: ${parts.join(', ')}`;
}
