/**
 * A deliberately plain reference model of Windows DACL evaluation, written apart from src/security/inheritance.ts
 * and access-check.ts (which propagate level by level): here, whether an ancestor's ACE applies to the object is
 * decided directly from its flags and its distance, and the access check is one loop. The property tests compare
 * the two. No exports are used by the code under test.
 */
import type { Ace, DescriptorLink } from '../../src/security/acl-types.js';
import { mapGeneric } from '../../src/security/access-mask.js';
import type { Sid } from '../../src/security/sid.js';

export interface RefAce {
  readonly ace: Ace; // the ACE as stored (flags not rewritten)
  readonly from: string;
}

/** null = NULL DACL; otherwise the ACEs that apply to the object, in evaluation order. */
export function referenceApplicable(chain: readonly DescriptorLink[]): readonly RefAce[] | null {
  const n = chain.length - 1;
  const object = chain[n]!;
  if (object.descriptor?.dacl === null) return null;
  const out: RefAce[] = [];
  let sawList = false;
  for (let j = n; j >= 0; j--) {
    const link = chain[j]!;
    const d = link.descriptor;
    if (!d) continue;
    if (d.dacl === null) {
      if (!d.protected) continue; // a NULL DACL that is not protected is for that folder only
      return sawList ? out : null; // a protected NULL DACL above: open, unless a level below has a real DACL
    }
    sawList = true;
    const distance = n - j;
    for (const ace of d.dacl) {
      if (ace.flags.inherited) continue;
      if (applies(ace, distance, object.isContainer)) out.push({ ace, from: link.path });
    }
    if (d.protected) break;
  }
  return out; // no descriptor at all: empty
}

function applies(ace: Ace, distance: number, objectIsContainer: boolean): boolean {
  const f = ace.flags;
  if (distance === 0) return !f.inheritOnly;
  const reaches = objectIsContainer ? f.containerInherit : f.objectInherit;
  if (distance === 1) return reaches;
  return reaches && !f.noPropagate;
}

export interface RefDecision {
  readonly allowed: boolean;
  readonly deciding: RefAce | null;
  readonly granted: number;
}

export function referenceCheck(sids: ReadonlySet<Sid>, applicable: readonly RefAce[] | null, desired: number): RefDecision {
  const want = mapGeneric(desired);
  if (want === 0) return { allowed: false, deciding: null, granted: 0 };
  if (applicable === null) return { allowed: true, deciding: null, granted: want };
  let granted = 0;
  for (const e of applicable) {
    if (!sids.has(e.ace.sid)) continue;
    const rights = mapGeneric(e.ace.mask);
    if (e.ace.type === 'deny') {
      if (rights & want & ~granted) return { allowed: false, deciding: e, granted };
    } else {
      granted = (granted | (rights & want)) >>> 0;
      if (granted === want) return { allowed: true, deciding: e, granted };
    }
  }
  return { allowed: false, deciding: null, granted };
}
