/**
 * Windows AccessCheck over an effective DACL (MODEL.md §4): a pure function from the token's SIDs, the DACL and
 * the desired access to the decision, the ACE that decided it and a reason that names SIDs and paths.
 *
 * Generic bits are mapped to file rights, in `desired` and in every ACE. A NULL DACL grants everything, an empty one
 * nothing. Otherwise the ACEs are walked in order, skipping inherit-only ACEs and ACEs for SIDs the token does not
 * hold: a deny ACE covering any desired right not yet granted refuses at once; allow ACEs add rights; the allow ACE
 * that completes the desired rights decides. Rights still missing at the end → denied, decided by no ACE.
 *
 * As Windows, asking for nothing (desired 0) is refused: there is nothing to grant, and a caller that asks for
 * nothing has a bug. MAXIMUM_ALLOWED and ACCESS_SYSTEM_SECURITY get no special meaning: they are plain bits here,
 * which only an ACE naming them grants (Persona never asks for them).
 */
import { mapGeneric } from './access-mask.js';
import { formatAce, formatMask } from './ace-syntax.js';
import type { AccessDecision } from './acl-types.js';
import type { EffectiveAce, EffectiveDacl } from './inheritance.js';
import { WELL_KNOWN_NAMES, type Sid } from './sid.js';

/**
 * `desired` in the decision is the mapped mask that was checked; `granted` is what had been granted when the
 * decision was made (all of `desired` when allowed; the partial grant when denied, for explanations).
 */
/** One ACE as the walk met it, for `explain`: what it did to the request. */
export interface AceWalkStep {
  readonly ace: EffectiveAce;
  readonly effect: 'inherit-only' | 'not in token' | 'no effect' | 'granted' | 'denied';
  /** The rights it granted or denied (mapped), when it did. */
  readonly rights: number;
}

export function accessCheck(sids: ReadonlySet<Sid>, dacl: EffectiveDacl, desired: number, onAce?: (step: AceWalkStep) => void): AccessDecision {
  const want = mapGeneric(desired);
  const decision = (allowed: boolean, granted: number, deciding: EffectiveAce | null, reason: string): AccessDecision => ({
    allowed,
    desired: want,
    granted: granted >>> 0,
    decidingAce: deciding?.ace ?? null,
    decidingAcePath: deciding?.from ?? null,
    reason,
  });

  if (want === 0) return decision(false, 0, null, 'denied: no access right was asked for (desired access is 0)');
  if (dacl.aces === null) return decision(true, want, null, `allowed: ${formatMask(want)} granted by a NULL DACL (${dacl.reason})`);
  if (dacl.aces.length === 0) return decision(false, 0, null, `denied: ${formatMask(want)} refused by an empty DACL (${dacl.reason})`);

  let granted = 0;
  const contributors: EffectiveAce[] = [];
  for (const e of dacl.aces) {
    if (e.ace.flags.inheritOnly || !sids.has(e.ace.sid)) {
      onAce?.({ ace: e, effect: e.ace.flags.inheritOnly ? 'inherit-only' : 'not in token', rights: 0 });
      continue;
    }
    const rights = mapGeneric(e.ace.mask);
    const missing = (want & ~granted) >>> 0;
    if (e.ace.type === 'deny') {
      const refused = (rights & missing) >>> 0;
      if (refused) {
        onAce?.({ ace: e, effect: 'denied', rights: refused });
        const before = granted ? `; ${formatMask(granted)} had been granted before it` : '';
        return decision(false, granted, e, `denied: ${describeAce(e)} denies ${formatMask(refused)} of the ${formatMask(want)} asked for${before}`);
      }
      onAce?.({ ace: e, effect: 'no effect', rights: 0 });
      continue;
    }
    const added = (rights & missing) >>> 0;
    onAce?.({ ace: e, effect: added ? 'granted' : 'no effect', rights: added });
    if (!added) continue;
    granted = (granted | added) >>> 0;
    contributors.push(e);
    if (granted === want) {
      const others = contributors.length > 1 ? ` (with ${contributors.slice(0, -1).map(describeAce).join(', ')})` : '';
      return decision(true, granted, e, `allowed: ${describeAce(e)} completes the grant of ${formatMask(want)}${others}`);
    }
  }
  const missing = (want & ~granted) >>> 0;
  const partial = granted ? `; only ${formatMask(granted)} granted, by ${contributors.map(describeAce).join(', ')}` : '; no ACE grants any of it';
  return decision(
    false,
    granted,
    null,
    `denied: no ACE grants ${formatMask(missing)} of the ${formatMask(want)} asked for to the token's SIDs (${[...sids].map(sidLabel).join(', ')})${partial}`,
  );
}

/** `allow ACE BUILTIN\Users:(I)(OI)(CI)(RX) [S-1-5-32-545] inherited from /srv/www` */
function describeAce(e: EffectiveAce): string {
  const where = e.ace.flags.inherited ? `inherited from ${e.from}` : `set on ${e.from}`;
  return `${e.ace.type} ACE ${formatAce(e.ace, nameOf)} [${e.ace.sid}] ${where}`;
}

function nameOf(sid: Sid): string {
  return WELL_KNOWN_NAMES[sid] ?? sid;
}

function sidLabel(sid: Sid): string {
  const name = WELL_KNOWN_NAMES[sid];
  return name ? `${name} ${sid}` : sid;
}
