/**
 * icacls-style ACE text (MODEL.md §4, `persona acl`): parsing what an administrator types (`alice:(OI)(CI)R`,
 * `*S-1-5-32-545:(RX)`, `bob:(RD,WD)`) and writing what `icacls` displays (`BUILTIN\Users:(OI)(CI)(RX)`).
 *
 * Grammar, as icacls documents it: `principal:` then inheritance flags `(OI)(CI)(IO)(NP)(I)`, then the rights,
 * either one simple right (`N F M RX R W D`), bare or in parentheses, or a comma-separated list in parentheses of
 * simple and specific rights (`DE RC WDAC WO S AS MA GR GW GE GA RD WD AD REA WEA X DC RA WA`). Everything is
 * case-insensitive, as in icacls (`(d,wdac)` is its own example). A principal is a name the resolver knows or
 * `*` followed by a SID. The `(DENY)` marker of icacls' display form is accepted too, so displayed text can be
 * pasted back, but only where the caller asked for a deny ACE.
 */
import { FileRight, GenericRight, SimpleRight } from './access-mask.js';
import type { Ace, AceFlags } from './acl-types.js';
import { parseSid, type Sid } from './sid.js';

export type ResolvePrincipal = (nameOrSid: string) => { sid: Sid; name: string } | undefined;

/** Longest spec we read: far above any real one, and it bounds the work done on untrusted text. */
const MAX_SPEC_LENGTH = 1024;

const ACCESS_SYSTEM_SECURITY = 0x0100_0000;
const MAXIMUM_ALLOWED = 0x0200_0000;

/** Simple rights in the order icacls tries them when it displays a mask; N (no access) is the empty mask. */
const SIMPLE: readonly (readonly [string, number])[] = [
  ['F', SimpleRight.F],
  ['M', SimpleRight.M],
  ['RX', SimpleRight.RX],
  ['R', SimpleRight.R],
  ['W', SimpleRight.W],
  ['D', SimpleRight.D],
];

/** Specific rights in icacls' order (its `/?` text), which is also the order it displays them in. */
const SPECIFIC: readonly (readonly [string, number])[] = [
  ['DE', FileRight.DELETE],
  ['RC', FileRight.READ_CONTROL],
  ['WDAC', FileRight.WRITE_DAC],
  ['WO', FileRight.WRITE_OWNER],
  ['S', FileRight.SYNCHRONIZE],
  ['AS', ACCESS_SYSTEM_SECURITY],
  ['MA', MAXIMUM_ALLOWED],
  ['GR', GenericRight.READ],
  ['GW', GenericRight.WRITE],
  ['GE', GenericRight.EXECUTE],
  ['GA', GenericRight.ALL],
  ['RD', FileRight.READ_DATA],
  ['WD', FileRight.WRITE_DATA],
  ['AD', FileRight.APPEND_DATA],
  ['REA', FileRight.READ_EA],
  ['WEA', FileRight.WRITE_EA],
  ['X', FileRight.EXECUTE],
  ['DC', FileRight.DELETE_CHILD],
  ['RA', FileRight.READ_ATTRIBUTES],
  ['WA', FileRight.WRITE_ATTRIBUTES],
];

/** Every bit icacls has a name for; other bits can be displayed (as hex) but not typed. */
export const NAMED_RIGHTS_MASK = SPECIFIC.reduce((m, [, bit]) => (m | bit) >>> 0, 0);

const SIMPLE_BY_NAME = new Map<string, number>([['N', 0], ...SIMPLE]);
const RIGHT_BY_NAME = new Map<string, number>([...SIMPLE_BY_NAME, ...SPECIFIC]);
const SIMPLE_NAMES = 'N, F, M, RX, R, W, D';
const SPECIFIC_NAMES = SPECIFIC.map(([n]) => n).join(', ');

const FLAG_NAMES = ['OI', 'CI', 'IO', 'NP', 'I'] as const;
type FlagName = (typeof FLAG_NAMES)[number];
const FLAG_KEY: Record<FlagName, keyof AceFlags> = {
  OI: 'objectInherit',
  CI: 'containerInherit',
  IO: 'inheritOnly',
  NP: 'noPropagate',
  I: 'inherited',
};

/**
 * Parses one `principal:perm` spec into an ACE of the given type, or says exactly what is wrong with it.
 * Never throws, whatever the text.
 */
export function parseAceSpec(text: string, resolve: ResolvePrincipal, type: 'allow' | 'deny'): Ace | { error: string } {
  if (text.length > MAX_SPEC_LENGTH) return { error: `ACE spec is ${text.length} characters long; at most ${MAX_SPEC_LENGTH} are accepted` };
  const spec = text.trim();
  const colon = spec.indexOf(':');
  if (colon < 0) return { error: `'${spec}' has no ':' between the principal and the rights (e.g. alice:(OI)(CI)R)` };
  if (spec.indexOf(':', colon + 1) >= 0) return { error: `'${spec}' has more than one ':'; the form is principal:rights` };
  const who = spec.slice(0, colon).trim();
  const what = spec.slice(colon + 1).trim();

  const sid = principalSid(who, resolve);
  if (typeof sid !== 'string') return sid;
  const perm = parsePerm(what, type);
  if ('error' in perm) return { error: `'${spec}': ${perm.error}` };
  return { type, sid, mask: perm.mask, flags: perm.flags };
}

function principalSid(who: string, resolve: ResolvePrincipal): Sid | { error: string } {
  if (who === '') return { error: 'no principal before the \':\' (a name, or * and a SID)' };
  if (who.startsWith('*')) {
    const sid = parseSid(who.slice(1));
    // icacls takes any well-formed SID after '*', mapped to an account or not (a deleted account's SID is still valid).
    return sid ?? { error: `'${who}' is not a SID: after '*' comes a SID such as S-1-5-32-545` };
  }
  const found = resolve(who);
  if (!found) return { error: `unknown principal '${who}' (no such user, group or well-known name; use *S-1-… for a SID)` };
  return found.sid;
}

interface Perm {
  mask: number;
  flags: AceFlags;
}

function parsePerm(text: string, type: 'allow' | 'deny'): Perm | { error: string } {
  const flags: Record<keyof AceFlags, boolean> = {
    objectInherit: false,
    containerInherit: false,
    inheritOnly: false,
    noPropagate: false,
    inherited: false,
  };
  let mask: number | undefined;
  let deny = false;
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i] ?? '')) {
      i++; // blanks between groups, as in `(OI) (CI) R`, mean nothing
      continue;
    }
    let token: string;
    let bare: boolean;
    if (text[i] === '(') {
      const close = text.indexOf(')', i);
      if (close < 0) return { error: `'(' at position ${i + 1} of the rights is never closed` };
      token = text.slice(i + 1, close).trim();
      if (token.includes('(')) return { error: `'(' inside parentheses in '${text.slice(i, close + 1)}'` };
      i = close + 1;
      bare = false;
    } else if (text[i] === ')') {
      return { error: `')' without '(' in the rights '${text}'` };
    } else {
      const open = text.indexOf('(', i);
      const end = open < 0 ? text.length : open;
      token = text.slice(i, end).trim();
      i = end;
      bare = true;
    }
    const upper = token.toUpperCase();
    if (token === '') return { error: 'empty parentheses in the rights' };

    if (!bare && (FLAG_NAMES as readonly string[]).includes(upper)) {
      if (mask !== undefined) return { error: `inheritance flag (${upper}) after the rights: flags come first, e.g. (OI)(CI)R` };
      const key = FLAG_KEY[upper as FlagName];
      if (flags[key]) return { error: `inheritance flag (${upper}) given twice` };
      flags[key] = true;
      continue;
    }
    if (!bare && upper === 'DENY') {
      // The marker icacls shows on deny ACEs; typed into a grant it would silently flip the meaning, so refuse.
      if (type !== 'deny') return { error: '(DENY) in a grant: use deny to add a deny ACE' };
      if (mask !== undefined) return { error: '(DENY) after the rights: it comes before them, e.g. (OI)(DENY)(W)' };
      if (deny) return { error: '(DENY) given twice' };
      deny = true;
      continue;
    }
    if (mask !== undefined) return { error: `more than one set of rights ('${token}' after the first); list them in one pair of parentheses, e.g. (R,W)` };
    const parsed = bare ? parseBareRight(upper, token) : parseRightList(upper, token);
    if (typeof parsed !== 'number') return parsed;
    mask = parsed;
  }
  if (mask === undefined) return { error: `no rights after the flags; give a simple right (${SIMPLE_NAMES}) or a list such as (RD,WD)` };

  // IO or NP on an ACE that is inherited by nothing would make it apply nowhere (IO) or mean nothing (NP).
  const inheritable = flags.objectInherit || flags.containerInherit;
  if (flags.inheritOnly && !inheritable) return { error: '(IO) needs (OI) or (CI): an inherit-only ACE that is not inherited applies to nothing' };
  if (flags.noPropagate && !inheritable) return { error: '(NP) needs (OI) or (CI): it limits inheritance, and this ACE is not inherited' };
  return { mask, flags };
}

/** Bare rights (no parentheses) are one simple right: `RD` bare would be ambiguous (read data, or R then D?). */
function parseBareRight(upper: string, token: string): number | { error: string } {
  const bit = SIMPLE_BY_NAME.get(upper);
  if (bit !== undefined) return bit;
  if (RIGHT_BY_NAME.has(upper) || upper.includes(',')) {
    return { error: `'${token}' must be in parentheses: without them only one simple right (${SIMPLE_NAMES}) is accepted` };
  }
  return { error: `unknown right '${token}': simple rights are ${SIMPLE_NAMES}; specific rights, in parentheses, are ${SPECIFIC_NAMES}` };
}

function parseRightList(upper: string, token: string): number | { error: string } {
  const names = upper.split(',').map((n) => n.trim());
  let mask = 0;
  for (const [k, name] of names.entries()) {
    if (name === '') return { error: `empty right in the list '(${token})'` };
    const bit = RIGHT_BY_NAME.get(name);
    if (bit === undefined) {
      const original = token.split(',')[k]?.trim() ?? name;
      return { error: `unknown right '${original}': simple rights are ${SIMPLE_NAMES}; specific rights are ${SPECIFIC_NAMES}` };
    }
    if (name === 'N' && names.length > 1) return { error: `N (no access) cannot be combined with other rights in '(${token})'` };
    mask = (mask | bit) >>> 0;
  }
  return mask;
}

/**
 * A mask as icacls displays it, without the parentheses: `N` for nothing, the simple right when the mask is exactly
 * one, otherwise the simple rights it contains followed by the remaining specific rights (`RX,W`, `W,D,RC,DC`,
 * `RC,RD,REA,X,RA`, `DE,DC` — as icacls prints them: delete is `D` after a simple right and `DE` alone).
 * Two choices keep the text lossless where icacls is not: GENERIC_ALL is `GA` (icacls prints `F`, which is a
 * different mask) and bits icacls has no name for are shown in hex (`0x200`); those cannot be typed back.
 */
export function formatMask(mask: number): string {
  const m = mask >>> 0;
  if (m === 0) return 'N';
  for (const [name, bits] of SIMPLE) if (m === bits) return name;
  const parts: string[] = [];
  let covered = 0;
  for (const [name, bits] of SIMPLE) {
    if (name === 'D') continue;
    if ((m & bits) >>> 0 === bits && (covered & bits) >>> 0 !== bits) {
      parts.push(name);
      covered = (covered | bits) >>> 0;
    }
  }
  if (parts.length > 0 && m & FileRight.DELETE && !(covered & FileRight.DELETE)) {
    parts.push('D');
    covered = (covered | FileRight.DELETE) >>> 0;
  }
  for (const [name, bit] of SPECIFIC) {
    if (m & bit && !(covered & bit)) parts.push(name);
  }
  const unnamed = (m & ~NAMED_RIGHTS_MASK) >>> 0;
  if (unnamed) parts.push(`0x${unnamed.toString(16)}`);
  return parts.join(',');
}

/**
 * An ACE in icacls' display form: `BUILTIN\Users:(OI)(CI)(RX)`, `NT AUTHORITY\SYSTEM:(I)(F)`,
 * `Everyone:(OI)(CI)(DENY)(W)` — flags in icacls' order (I)(OI)(CI)(IO)(NP), then (DENY), then the rights.
 * A SID with no name (`nameOf` returns the SID) is written `*S-1-…` so that the text is valid input again.
 */
export function formatAce(ace: Ace, nameOf: (sid: Sid) => string): string {
  const name = nameOf(ace.sid);
  const who = name === ace.sid || parseSid(name) === ace.sid ? `*${ace.sid}` : name;
  const f = ace.flags;
  const flags =
    (f.inherited ? '(I)' : '') +
    (f.objectInherit ? '(OI)' : '') +
    (f.containerInherit ? '(CI)' : '') +
    (f.inheritOnly ? '(IO)' : '') +
    (f.noPropagate ? '(NP)' : '');
  return `${who}:${flags}${ace.type === 'deny' ? '(DENY)' : ''}(${formatMask(ace.mask)})`;
}
