/** Windows AccessCheck over effective DACLs: the classic cases, and agreement with a plain reference model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { accessCheck } from '../../src/security/access-check.js';
import { effectiveDacl } from '../../src/security/inheritance.js';
import { parseAceSpec } from '../../src/security/ace-syntax.js';
import { DesiredAccess, FileRight as R, GenericRight, SimpleRight, FILE_ALL_ACCESS } from '../../src/security/access-mask.js';
import type { Ace, DescriptorLink, SecurityDescriptor } from '../../src/security/acl-types.js';
import { WellKnownSid, WELL_KNOWN_NAMES, type Sid } from '../../src/security/sid.js';
import { referenceApplicable, referenceCheck } from './acl-reference.js';
import { arbChain, arbDesired, arbSids } from './acl-arbitraries.js';

const ALICE = 'S-1-5-21-1-2-3-1001';
const BOB = 'S-1-5-21-1-2-3-1002';
const NAMES = new Map<string, Sid>([
  ['alice', ALICE],
  ['bob', BOB],
  ...Object.entries(WELL_KNOWN_NAMES).map(([sid, name]) => [name.slice(name.lastIndexOf('\\') + 1).toLowerCase(), sid] as [string, Sid]),
]);
function ace(spec: string): Ace {
  const type = spec.slice(0, spec.indexOf(' ')) as 'allow' | 'deny';
  const r = parseAceSpec(spec.slice(spec.indexOf(' ') + 1), (n) => {
    const sid = NAMES.get(n.toLowerCase());
    return sid ? { sid, name: n } : undefined;
  }, type);
  if ('error' in r) throw new Error(r.error);
  return r;
}
const sd = (aces: readonly Ace[] | null, isProtected = false): SecurityDescriptor => ({ dacl: aces, protected: isProtected });
const dir = (path: string, descriptor?: SecurityDescriptor): DescriptorLink => ({ path, isContainer: true, descriptor });
const file = (path: string, descriptor?: SecurityDescriptor): DescriptorLink => ({ path, isContainer: false, descriptor });

/** A token's SIDs: the user, Everyone, Authenticated Users, Users (what buildToken gives a local user). */
const alice = new Set([ALICE, WellKnownSid.Everyone, WellKnownSid.AuthenticatedUsers, WellKnownSid.Users, WellKnownSid.Network]);
const anonymous = new Set([WellKnownSid.Iusr, WellKnownSid.Everyone, WellKnownSid.Network]);

function check(sids: ReadonlySet<Sid>, chain: DescriptorLink[], desired: number) {
  return accessCheck(sids, effectiveDacl(chain), desired);
}

test('deny before allow: the first matching deny refuses, even with a full allow after it', () => {
  const f = [file('/f', sd([ace('deny alice:(WD,AD)'), ace('allow Users:F')]))];
  const write = check(alice, f, DesiredAccess.writeFile);
  assert.equal(write.allowed, false);
  assert.equal(write.decidingAce?.sid, ALICE);
  assert.equal(write.decidingAcePath, '/f');
  assert.match(write.reason, /deny ACE \*S-1-5-21-1-2-3-1001:\(DENY\)\(WD,AD\) \[S-1-5-21-1-2-3-1001\] set on \/f denies WD,AD/);
  // The deny does not cover reading: the allow grants it.
  const read = check(alice, f, DesiredAccess.readFile);
  assert.equal(read.allowed, true);
  assert.equal(read.decidingAce?.sid, WellKnownSid.Users);
  // Bob is not in Users' deny… but neither in any ACE here besides Users: not a member, no access.
  assert.equal(check(new Set([BOB]), f, DesiredAccess.readFile).allowed, false);
});

test('icacls W includes SYNCHRONIZE, which reading asks for: deny W refuses reads too, as on Windows', () => {
  const f = [file('/f', sd([ace('deny alice:W'), ace('allow Users:F')]))];
  const d = check(alice, f, DesiredAccess.readFile);
  assert.equal(d.allowed, false);
  assert.match(d.reason, /denies S of/);
});

test('explicit deny beats inherited allow', () => {
  const chain = [dir('/w', sd([ace('allow Users:(OI)(CI)F')])), file('/w/f', sd([ace('deny alice:(WD)')]))];
  const d = check(alice, chain, DesiredAccess.writeFile);
  assert.equal(d.allowed, false);
  assert.equal(d.decidingAcePath, '/w/f');
  assert.equal(d.decidingAce?.type, 'deny');
  assert.equal(check(alice, chain, DesiredAccess.readFile).decidingAcePath, '/w');
});

test('explicit allow beats inherited deny (Windows order), and the inherited deny still refuses what the allow lacks', () => {
  const chain = [dir('/w', sd([ace('deny Everyone:(OI)(CI)(WD,AD,DE)'), ace('allow Users:(OI)(CI)RX')])), file('/w/f', sd([ace('allow alice:M')]))];
  const write = check(alice, chain, DesiredAccess.writeFile);
  assert.equal(write.allowed, true);
  assert.equal(write.decidingAcePath, '/w/f');
  assert.equal(write.decidingAce?.flags.inherited, false);
  const del = check(alice, chain, R.DELETE);
  assert.equal(del.allowed, true, 'M includes delete, granted before the inherited deny is reached');
  const wdac = check(alice, chain, R.WRITE_DAC);
  assert.equal(wdac.allowed, false);
  assert.equal(wdac.decidingAce, null, 'nothing grants WDAC and no deny covers it: no deciding ACE');
  // For Bob (not alice), the inherited deny comes before the inherited allow.
  const bob = new Set([BOB, WellKnownSid.Everyone, WellKnownSid.Users]);
  const bobWrite = check(bob, chain, DesiredAccess.writeFile);
  assert.equal(bobWrite.allowed, false);
  assert.equal(bobWrite.decidingAcePath, '/w');
  assert.match(bobWrite.reason, /deny ACE Everyone:\(I\)\(DENY\)\(DE,WD,AD\) \[S-1-1-0\] inherited from \/w denies WD,AD of the W,RC asked for/);
});

test('rights accumulate over several allow ACEs; the one that completes the grant decides', () => {
  const f = [file('/f', sd([ace('allow alice:(RD)'), ace('allow Users:(RA,REA)'), ace('allow Everyone:(RC,S)'), ace('allow Everyone:F')]))];
  const d = check(alice, f, DesiredAccess.readFile);
  assert.equal(d.allowed, true);
  assert.equal(d.decidingAce?.mask, R.READ_CONTROL | R.SYNCHRONIZE);
  assert.equal(d.granted, DesiredAccess.readFile);
  assert.match(d.reason, /completes the grant of R \(with allow ACE/);
});

test('missing rights at the end: denied, no deciding ACE, and the reason lists what is missing and the SIDs', () => {
  const f = [file('/f', sd([ace('allow alice:(RD,RA)'), ace('allow bob:F')]))];
  const d = check(alice, f, DesiredAccess.readFile);
  assert.equal(d.allowed, false);
  assert.equal(d.decidingAce, null);
  assert.equal(d.decidingAcePath, null);
  assert.equal(d.granted, R.READ_DATA | R.READ_ATTRIBUTES);
  assert.match(d.reason, /no ACE grants RC,S,REA of the R asked for/);
  assert.match(d.reason, /Everyone S-1-1-0/);
  assert.match(d.reason, /only RD,RA granted/);
  const none = check(anonymous, f, DesiredAccess.readFile);
  assert.match(none.reason, /no ACE grants any of it/);
});

test('OI/CI/IO/NP decide what reaches files and folders', () => {
  const root = dir('/w', sd([ace('allow Users:(OI)(IO)R'), ace('allow Iusr:(CI)R'), ace('allow alice:(OI)(CI)(NP)F')]));
  const read = DesiredAccess.readFile;
  assert.equal(check(alice, [root], read).allowed, true, 'NP applies where it is set');
  assert.equal(check(new Set([WellKnownSid.Users]), [root], read).allowed, false, 'IO does not apply where it is set');
  assert.equal(check(new Set([WellKnownSid.Users]), [root, file('/w/f')], read).allowed, true, 'OI reaches files');
  assert.equal(check(new Set([WellKnownSid.Users]), [root, dir('/w/d')], read).allowed, false, 'OI-only is inherit-only on a folder');
  assert.equal(check(new Set([WellKnownSid.Users]), [root, dir('/w/d'), file('/w/d/f')], read).allowed, true, '…and reaches the files below');
  assert.equal(check(anonymous, [root, file('/w/f')], read).allowed, false, 'CI does not reach files');
  assert.equal(check(anonymous, [root, dir('/w/d')], read).allowed, true, 'CI reaches folders');
  assert.equal(check(alice, [root, file('/w/f')], SimpleRight.F).allowed, true, 'NP reaches children');
  assert.equal(check(new Set([ALICE]), [root, dir('/w/d'), file('/w/d/f')], read).allowed, false, 'NP stops there');
});

test('protected descriptors cut inheritance: the demo secure folder shape', () => {
  const root = dir('/site', sd([ace('allow Administrators:(OI)(CI)F'), ace('allow Users:(OI)(CI)RX'), ace('allow Iusr:(OI)(CI)RX')], true));
  const secure = dir('/site/secure', sd([ace('allow Administrators:(OI)(CI)F'), ace('allow Users:(OI)(CI)RX')], true));
  assert.equal(check(anonymous, [root, file('/site/index.html')], DesiredAccess.readFile).allowed, true);
  const denied = check(anonymous, [root, secure, file('/site/secure/x.html')], DesiredAccess.readFile);
  assert.equal(denied.allowed, false);
  assert.match(denied.reason, /NT AUTHORITY\\IUSR S-1-5-17/);
  assert.equal(check(alice, [root, secure, file('/site/secure/x.html')], DesiredAccess.readFile).decidingAcePath, '/site/secure');
});

test('NULL DACL grants everything, empty DACL nothing, and both say why', () => {
  const open = check(anonymous, [dir('/w', sd(null, true)), file('/w/f')], SimpleRight.F);
  assert.equal(open.allowed, true);
  assert.equal(open.decidingAce, null);
  assert.equal(open.granted, FILE_ALL_ACCESS);
  assert.match(open.reason, /NULL DACL/);
  const closed = check(alice, [dir('/w', sd([ace('allow Users:(OI)(CI)F')])), file('/w/f', sd([], true))], R.READ_DATA);
  assert.equal(closed.allowed, false);
  assert.equal(closed.decidingAce, null);
  assert.match(closed.reason, /empty DACL/);
  const nothing = check(alice, [dir('/w'), file('/w/f')], R.READ_DATA);
  assert.equal(nothing.allowed, false);
  assert.match(nothing.reason, /no security descriptor/);
});

test('generic rights are mapped in ACEs and in the desired access', () => {
  const f = (a: string) => [file('/f', sd([ace(a)]))];
  assert.equal(check(alice, f('allow alice:(GR)'), DesiredAccess.readFile).allowed, true);
  assert.equal(check(alice, f('allow alice:(GR)'), GenericRight.READ).allowed, true);
  assert.equal(check(alice, f('allow alice:(GE)'), R.READ_DATA).allowed, false);
  assert.equal(check(alice, f('allow alice:(GA)'), FILE_ALL_ACCESS).allowed, true);
  assert.equal(check(alice, f('allow alice:R'), GenericRight.READ).desired, DesiredAccess.readFile);
  assert.equal(check(alice, f('allow alice:R'), GenericRight.WRITE).allowed, false);
  const d = check(alice, f('deny alice:(GW)'), R.APPEND_DATA);
  assert.equal(d.allowed, false);
  assert.equal(d.decidingAce?.mask, GenericRight.WRITE);
});

test('asking for nothing is refused, even under a NULL DACL', () => {
  const d = check(alice, [file('/f', sd(null))], 0);
  assert.equal(d.allowed, false);
  assert.match(d.reason, /desired access is 0/);
});

test('a stored non-canonical order is honoured: allow before deny grants', () => {
  const d = check(alice, [file('/f', sd([ace('allow alice:R'), ace('deny alice:R')]))], DesiredAccess.readFile);
  assert.equal(d.allowed, true);
  assert.equal(d.decidingAce?.type, 'allow');
});

test('property: same decision, same deciding ACE and same grant as the reference model, over random chains', () => {
  fc.assert(
    fc.property(arbChain, arbSids, arbDesired, (chain, sids, desired) => {
      const got = accessCheck(sids, effectiveDacl(chain), desired);
      const want = referenceCheck(sids, referenceApplicable(chain), desired);
      assert.equal(got.allowed, want.allowed, got.reason);
      assert.equal(got.decidingAcePath, want.deciding?.from ?? null, got.reason);
      if (want.deciding === null) assert.equal(got.decidingAce, null);
      else {
        assert.equal(got.decidingAce?.type, want.deciding.ace.type);
        assert.equal(got.decidingAce?.sid, want.deciding.ace.sid);
        assert.equal(got.decidingAce?.mask, want.deciding.ace.mask);
      }
      assert.equal(got.granted, want.granted);
      assert.ok(got.reason.length > 0);
      if (got.allowed) assert.equal(got.granted, got.desired);
    }),
    { numRuns: 10000 },
  );
});
