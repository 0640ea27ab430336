/**
 * The JSON form of a SecurityDescriptor in the account store, checked in both directions: a bad descriptor is refused
 * when written, and a corrupt row is reported as an Error naming its path when read, instead of reaching the access
 * check as a half-valid object.
 */
import type { Ace, AceFlags, SecurityDescriptor } from '../security/acl-types.js';
import { parseSid } from '../security/sid.js';

const FLAG_NAMES = ['objectInherit', 'containerInherit', 'inheritOnly', 'noPropagate', 'inherited'] as const;

/** Why `value` is not a SecurityDescriptor, or null when it is one (SIDs canonical, masks unsigned 32-bit). */
export function descriptorProblem(value: unknown): string | null {
  if (!isObject(value)) return 'the descriptor is not an object';
  const extra = Object.keys(value).find((k) => k !== 'owner' && k !== 'dacl' && k !== 'protected');
  if (extra !== undefined) return `unknown descriptor field "${extra}"`;
  if (value.owner !== undefined && !isCanonicalSid(value.owner)) return `the owner ${JSON.stringify(value.owner)} is not a SID`;
  if (typeof value.protected !== 'boolean') return '"protected" is not a boolean';
  if (value.dacl === null) return null;
  if (!Array.isArray(value.dacl)) return 'the DACL is neither null nor an array';
  for (const [i, ace] of value.dacl.entries()) {
    const problem = aceProblem(ace);
    if (problem) return `ACE ${i}: ${problem}`;
  }
  return null;
}

function aceProblem(ace: unknown): string | null {
  if (!isObject(ace)) return 'not an object';
  const extra = Object.keys(ace).find((k) => k !== 'type' && k !== 'sid' && k !== 'mask' && k !== 'flags');
  if (extra !== undefined) return `unknown field "${extra}"`;
  if (ace.type !== 'allow' && ace.type !== 'deny') return `type ${JSON.stringify(ace.type)} is neither "allow" nor "deny"`;
  if (!isCanonicalSid(ace.sid)) return `${JSON.stringify(ace.sid)} is not a SID`;
  if (typeof ace.mask !== 'number' || !Number.isInteger(ace.mask) || ace.mask < 0 || ace.mask > 0xffffffff) return `mask ${JSON.stringify(ace.mask)} is not an unsigned 32-bit integer`;
  if (!isObject(ace.flags)) return 'flags is not an object';
  const flags = ace.flags;
  const extraFlag = Object.keys(flags).find((k) => !(FLAG_NAMES as readonly string[]).includes(k));
  if (extraFlag !== undefined) return `unknown flag "${extraFlag}"`;
  const missing = FLAG_NAMES.find((f) => typeof flags[f] !== 'boolean');
  if (missing !== undefined) return `flag "${missing}" is not a boolean`;
  return null;
}

/** The stored text of a descriptor (only the known fields, in a fixed order). Throws an Error when it is not valid. */
export function encodeDescriptor(descriptor: SecurityDescriptor): string {
  const problem = descriptorProblem(descriptor);
  if (problem) throw new Error(`invalid security descriptor: ${problem}`);
  return JSON.stringify(normalise(descriptor));
}

/** The descriptor stored for `path`; throws an Error naming the path when the stored text is not a valid descriptor. */
export function decodeDescriptor(text: string, path: string): SecurityDescriptor {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`the stored ACL of ${path} is corrupt: not JSON`);
  }
  const problem = descriptorProblem(value);
  if (problem) throw new Error(`the stored ACL of ${path} is corrupt: ${problem}`);
  return normalise(value as SecurityDescriptor);
}

function normalise(d: SecurityDescriptor): SecurityDescriptor {
  const dacl = d.dacl === null ? null : Object.freeze(d.dacl.map(normaliseAce));
  return Object.freeze(d.owner !== undefined ? { owner: d.owner, dacl, protected: d.protected } : { dacl, protected: d.protected });
}

function normaliseAce(a: Ace): Ace {
  const flags: AceFlags = Object.freeze({
    objectInherit: a.flags.objectInherit,
    containerInherit: a.flags.containerInherit,
    inheritOnly: a.flags.inheritOnly,
    noPropagate: a.flags.noPropagate,
    inherited: a.flags.inherited,
  });
  return Object.freeze({ type: a.type, sid: a.sid, mask: a.mask, flags });
}

function isCanonicalSid(v: unknown): boolean {
  return typeof v === 'string' && parseSid(v) === v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
