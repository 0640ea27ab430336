/**
 * Tokens that are not made from a password: the process identity (IIS's application pool identity, used for
 * anonymous requests when `userName` is empty and by filters) and the built-in IUSR account. Neither holds
 * credentials Persona could forward, so both are non-delegable.
 */
import { createHash, randomBytes } from 'node:crypto';
import { WellKnownSid, WELL_KNOWN_NAMES, type Sid } from './sid.js';
import { buildToken, logonTypeOf, type LogonMethod, type Token, type UserRight } from './token.js';

/**
 * Case mapping one UTF-16 code unit to one, as Windows' Rtl*caseUnicodeString do; JavaScript's full mappings can
 * change the length ('İ' → 'i̇'), which would give a different SID than Windows for such a name.
 */
function downcaseLikeWindows(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text[i]!;
    const lower = unit.toLowerCase();
    out += lower.length === 1 ? lower : unit;
  }
  return out;
}

/**
 * The virtual account SID of an application pool: S-1-5-82 followed by the SHA-1 of the pool name in UTF-16LE,
 * read as five little-endian 32-bit sub-authorities. The name is LOWER-cased (unlike NT SERVICE\ SIDs, which
 * upper-case): that is what reproduces the published DefaultAppPool SID
 * S-1-5-82-3006700770-424185619-1745488364-794895919-4004696415, so ACLs written for `IIS APPPOOL\<pool>` mean
 * the same thing here as on Windows.
 */
export function applicationPoolSid(pool: string): Sid {
  const digest = createHash('sha1').update(Buffer.from(downcaseLikeWindows(pool), 'utf16le')).digest();
  const subs: number[] = [];
  for (let i = 0; i < 5; i++) subs.push(digest.readUInt32LE(i * 4));
  return `S-1-5-82-${subs.join('-')}`;
}

/** Windows' logon ids are 64-bit; random ones keep tokens from different processes distinct in the audit log. */
function newLogonId(): string {
  return `0x${randomBytes(8).toString('hex')}`;
}

/**
 * The rights an IIS 10 application pool identity holds (iis-reference §7): it impersonates request tokens
 * (through IIS_IUSRS) and may start processes as another user (SeAssignPrimaryTokenPrivilege, needed for CGI as
 * the user; without it 403.19).
 */
const POOL_PRIVILEGES: readonly UserRight[] = ['SeImpersonatePrivilege', 'SeAssignPrimaryTokenPrivilege'];

/**
 * The token of `IIS APPPOOL\<pool>`: member of IIS_IUSRS (IIS 7+ injects it into every pool token), a Batch logon
 * (IIS 7.5+ pools log on as batch jobs), package 'Process'. `osUser` is the Linux account the process runs as.
 */
export function processIdentityToken(pool: string, osUser: string): Token {
  return buildToken({
    user: { sid: applicationPoolSid(pool), name: `IIS APPPOOL\\${pool}` },
    accountGroups: [{ sid: WellKnownSid.IisIusrs, name: WELL_KNOWN_NAMES[WellKnownSid.IisIusrs]! }],
    privileges: POOL_PRIVILEGES,
    logonType: 'Batch',
    authPackage: 'Process',
    delegation: {
      kind: 'none',
      reason: 'the process identity has no password Persona knows: it reaches other machines only as the machine itself, never as a user',
    },
    osAccount: osUser,
    logonId: newLogonId(),
    issuedAt: Date.now(),
  });
}

/**
 * NT AUTHORITY\IUSR, IIS 7+'s built-in anonymous account: no groups of its own (not Users — so "Users: read" never
 * opens a folder to anonymous requests), package Anonymous (so no Authenticated Users either).
 */
export function iusrToken(logonMethod: LogonMethod): Token {
  return buildToken({
    user: { sid: WellKnownSid.Iusr, name: WELL_KNOWN_NAMES[WellKnownSid.Iusr]! },
    accountGroups: [],
    privileges: [],
    logonType: logonTypeOf(logonMethod),
    authPackage: 'Anonymous',
    delegation: {
      kind: 'none',
      reason: 'IUSR has no password: the built-in anonymous account appears as anonymous on the network and cannot be delegated',
    },
    osAccount: undefined,
    logonId: newLogonId(),
    issuedAt: Date.now(),
  });
}
