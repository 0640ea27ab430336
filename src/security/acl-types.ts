/**
 * Windows DACL shapes (MODEL.md §4). An ACE grants or denies an access mask to a SID; inheritance flags say where
 * it flows: OI (to files), CI (to folders), IO (not to the object itself), NP (one level only), and `inherited`
 * marks ACEs that came from a parent rather than being set on the object.
 */
import type { Sid } from './sid.js';

export interface AceFlags {
  readonly objectInherit: boolean; // (OI)
  readonly containerInherit: boolean; // (CI)
  readonly inheritOnly: boolean; // (IO)
  readonly noPropagate: boolean; // (NP)
  readonly inherited: boolean; // (I)
}

export interface Ace {
  readonly type: 'allow' | 'deny';
  readonly sid: Sid;
  /** Access mask; may contain generic bits, which the access check maps to file rights. */
  readonly mask: number;
  readonly flags: AceFlags;
}

/**
 * What Persona stores for one path. `dacl: null` is a NULL DACL (everyone has full access); `[]` is an empty DACL
 * (nobody has any access). `protected` blocks inheritance from the parent (icacls /inheritance:d or :r).
 */
export interface SecurityDescriptor {
  readonly owner?: Sid;
  readonly dacl: readonly Ace[] | null;
  readonly protected: boolean;
}

/** One link of the chain from the root to the object: the stored descriptor (if any) of each path. */
export interface DescriptorLink {
  /** Canonical absolute physical path. */
  readonly path: string;
  readonly isContainer: boolean;
  readonly descriptor: SecurityDescriptor | undefined;
}

/** The access check's answer, with what decided it (for logs, the detailed error page and `explain`). */
export interface AccessDecision {
  readonly allowed: boolean;
  readonly desired: number;
  readonly granted: number;
  /** The ACE that decided: the deny ACE that refused, or the allow ACE that completed the grant; null for NULL/empty DACL or no match. */
  readonly decidingAce: Ace | null;
  /** Where the deciding ACE is set (the path whose descriptor holds it, for inherited ACEs the ancestor). */
  readonly decidingAcePath: string | null;
  readonly reason: string;
}
