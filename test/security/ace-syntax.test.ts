/** icacls ACE text: parsing what administrators type, displaying what icacls displays, and the round trip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatAce, formatMask, parseAceSpec, NAMED_RIGHTS_MASK, type ResolvePrincipal } from '../../src/security/ace-syntax.js';
import { FileRight as R, GenericRight, SimpleRight } from '../../src/security/access-mask.js';
import type { Ace, AceFlags } from '../../src/security/acl-types.js';
import { WellKnownSid, WELL_KNOWN_NAMES, type Sid } from '../../src/security/sid.js';

const MACHINE = 'S-1-5-21-1000-2000-3000';
const ALICE = `${MACHINE}-1001`;
const BOB = `${MACHINE}-1002`;
const NAMES: Record<Sid, string> = { ...WELL_KNOWN_NAMES, [ALICE]: 'PERSONA\\alice', [BOB]: 'PERSONA\\bob' };

/** A resolver like the account store's: full names, and short names for accounts and built-in groups. */
const resolve: ResolvePrincipal = (text) => {
  const t = text.toLowerCase();
  for (const [sid, name] of Object.entries(NAMES)) {
    const short = name.slice(name.lastIndexOf('\\') + 1);
    if (name.toLowerCase() === t || short.toLowerCase() === t) return { sid, name };
  }
  return undefined;
};
const nameOf = (sid: Sid): string => NAMES[sid] ?? sid;

const NO_FLAGS: AceFlags = { objectInherit: false, containerInherit: false, inheritOnly: false, noPropagate: false, inherited: false };
const flags = (f: Partial<AceFlags>): AceFlags => ({ ...NO_FLAGS, ...f });

function ok(text: string, type: 'allow' | 'deny' = 'allow'): Ace {
  const r = parseAceSpec(text, resolve, type);
  if ('error' in r) assert.fail(`${text}: ${r.error}`);
  return r;
}
function err(text: string, type: 'allow' | 'deny' = 'allow'): string {
  const r = parseAceSpec(text, resolve, type);
  if (!('error' in r)) assert.fail(`${text} parsed: ${JSON.stringify(r)}`);
  return r.error;
}

test('the forms of the brief and of icacls parse to the right SID, mask and flags', () => {
  assert.deepEqual(ok('alice:(OI)(CI)R'), { type: 'allow', sid: ALICE, mask: SimpleRight.R, flags: flags({ objectInherit: true, containerInherit: true }) });
  assert.deepEqual(ok('*S-1-5-32-545:(RX)'), { type: 'allow', sid: WellKnownSid.Users, mask: SimpleRight.RX, flags: NO_FLAGS });
  assert.deepEqual(ok('Users:(OI)(CI)(IO)(M)'), {
    type: 'allow',
    sid: WellKnownSid.Users,
    mask: SimpleRight.M,
    flags: flags({ objectInherit: true, containerInherit: true, inheritOnly: true }),
  });
  assert.deepEqual(ok('bob:(RD,WD)', 'deny'), { type: 'deny', sid: BOB, mask: R.READ_DATA | R.WRITE_DATA, flags: NO_FLAGS });
  assert.deepEqual(ok('Everyone:F'), { type: 'allow', sid: WellKnownSid.Everyone, mask: SimpleRight.F, flags: NO_FLAGS });
  // icacls' own example is lower case; D inside a list is delete (the simple right), as DE is.
  assert.equal(ok('*s-1-1-0:(d,wdac)').mask, R.DELETE | R.WRITE_DAC);
  assert.equal(ok('Everyone:(DE,WDAC)').mask, R.DELETE | R.WRITE_DAC);
  assert.equal(ok('NT AUTHORITY\\IUSR:(OI)(CI)(NP)RX').flags.noPropagate, true);
  assert.equal(ok('BUILTIN\\Users:(I)(OI)(CI)(RX)').flags.inherited, true);
  assert.equal(ok('  alice : (OI) (CI) R  ').mask, SimpleRight.R);
  assert.equal(ok('alice:(R, W)').mask, (SimpleRight.R | SimpleRight.W) >>> 0);
  assert.equal(ok('alice:N').mask, 0);
  assert.equal(ok('alice:(GR,GE)').mask, (GenericRight.READ | GenericRight.EXECUTE) >>> 0);
  assert.equal(ok('alice:(GA)').mask, GenericRight.ALL);
  assert.equal(ok('*S-1-5-21-9-9-9-4242:W').sid, 'S-1-5-21-9-9-9-4242', 'a SID with no account is still a principal');
  // icacls' display form of a deny ACE reads back as a deny ACE.
  assert.deepEqual(ok('Everyone:(OI)(CI)(DENY)(W)', 'deny').flags, flags({ objectInherit: true, containerInherit: true }));
});

test('every malformed spec gets an error that says what is wrong', () => {
  assert.match(err('alice'), /no ':'/);
  assert.match(err('alice:R:W'), /more than one ':'/);
  assert.match(err(':R'), /no principal/);
  assert.match(err('mallory:R'), /unknown principal 'mallory'/);
  assert.match(err('*S-1-x:R'), /not a SID/);
  assert.match(err('*:R'), /not a SID/);
  assert.match(err('alice:'), /no rights/);
  assert.match(err('alice:(OI)(CI)'), /no rights/);
  assert.match(err('alice:Q'), /unknown right 'Q'/);
  assert.match(err('alice:(RD,ZZ)'), /unknown right 'ZZ'/);
  assert.match(err('alice:(RD,)'), /empty right/);
  assert.match(err('alice:()'), /empty parentheses/);
  assert.match(err('alice:RD'), /must be in parentheses/);
  assert.match(err('alice:R,W'), /must be in parentheses/);
  assert.match(err('alice:(N,R)'), /cannot be combined/);
  assert.match(err('alice:(IO)R'), /\(IO\) needs \(OI\) or \(CI\)/);
  assert.match(err('alice:(NP)R'), /\(NP\) needs \(OI\) or \(CI\)/);
  assert.match(err('alice:(OI)(OI)R'), /given twice/);
  assert.match(err('alice:R(OI)'), /flags come first/);
  assert.match(err('alice:(R)(W)'), /more than one set of rights/);
  assert.match(err('alice:(OI'), /never closed/);
  assert.match(err('alice:R)'), /unknown right/);
  assert.match(err('alice:)R'), /without '\('/);
  assert.match(err('alice:((R))'), /inside parentheses/);
  assert.match(err('alice:(DENY)(R)', 'allow'), /\(DENY\) in a grant/);
  assert.match(err('alice:(DENY)(DENY)(R)', 'deny'), /given twice/);
  assert.match(err('alice:(R)(DENY)', 'deny'), /comes before/);
  assert.match(err('a'.repeat(2000) + ':R'), /at most 1024/);
});

test('formatMask: exact simple rights, icacls-style combinations, and nothing lost', () => {
  assert.equal(formatMask(0), 'N');
  for (const [name, bits] of Object.entries(SimpleRight)) assert.equal(formatMask(bits), name);
  // Shapes seen in real icacls output.
  assert.equal(formatMask(SimpleRight.W | R.DELETE | R.READ_CONTROL | R.DELETE_CHILD), 'W,D,RC,DC');
  assert.equal(formatMask(SimpleRight.W | R.DELETE | R.READ_CONTROL | GenericRight.WRITE | R.DELETE_CHILD), 'W,D,RC,GW,DC');
  assert.equal(formatMask(R.READ_CONTROL | R.READ_DATA | R.READ_EA | R.EXECUTE | R.READ_ATTRIBUTES), 'RC,RD,REA,X,RA');
  assert.equal(formatMask(SimpleRight.RX | R.WRITE_OWNER), 'RX,WO');
  assert.equal(formatMask(R.DELETE | R.WRITE_DATA | R.APPEND_DATA | R.WRITE_EA | R.DELETE_CHILD | R.WRITE_ATTRIBUTES), 'DE,WD,AD,WEA,DC,WA');
  assert.equal(formatMask(R.SYNCHRONIZE | R.READ_DATA), 'S,RD');
  assert.equal(formatMask(R.DELETE | R.DELETE_CHILD), 'DE,DC');
  assert.equal(formatMask(GenericRight.READ | GenericRight.EXECUTE), 'GR,GE');
  assert.equal(formatMask(SimpleRight.RX | SimpleRight.W), 'RX,W');
  assert.equal(formatMask(SimpleRight.M | R.WRITE_DAC), 'M,WDAC');
  assert.equal(formatMask(GenericRight.ALL), 'GA', 'GENERIC_ALL stays GA (icacls shows F, a different mask)');
  assert.equal(formatMask(R.READ_DATA | 0x200), 'RD,0x200', 'bits without a name are shown, not dropped');
});

test('formatAce: the icacls display form', () => {
  assert.equal(formatAce(ok('Users:(OI)(CI)(RX)'), nameOf), 'BUILTIN\\Users:(OI)(CI)(RX)');
  assert.equal(formatAce(ok('*S-1-5-18:(I)(F)'), nameOf), 'NT AUTHORITY\\SYSTEM:(I)(F)');
  assert.equal(formatAce(ok('Everyone:(CI)(OI)(W)', 'deny'), nameOf), 'Everyone:(OI)(CI)(DENY)(W)');
  assert.equal(formatAce(ok('CREATOR OWNER:(OI)(CI)(IO)(NP)(GA)'), nameOf), 'CREATOR OWNER:(OI)(CI)(IO)(NP)(GA)');
  assert.equal(formatAce(ok('*S-1-5-21-9-9-9-4242:(RD,WD)'), nameOf), '*S-1-5-21-9-9-9-4242:(RD,WD)');
  assert.equal(formatAce(ok('alice:(OI)R'), nameOf), 'PERSONA\\alice:(OI)(R)');
});

const SID_POOL = [ALICE, BOB, WellKnownSid.Everyone, WellKnownSid.Users, WellKnownSid.Iusr, 'S-1-5-21-7-8-9-1500', 'S-1-5-80-123-456'];
const arbFlags = fc
  .record({ objectInherit: fc.boolean(), containerInherit: fc.boolean(), inheritOnly: fc.boolean(), noPropagate: fc.boolean(), inherited: fc.boolean() })
  .map((f) => (f.objectInherit || f.containerInherit ? f : { ...f, inheritOnly: false, noPropagate: false }));
const arbMask = fc.oneof(
  fc.constantFrom(...Object.values(SimpleRight), 0),
  fc.integer({ min: 0, max: 0xffffffff }).map((n) => (n & NAMED_RIGHTS_MASK) >>> 0),
);
const arbAce: fc.Arbitrary<Ace> = fc
  .record({ type: fc.constantFrom('allow' as const, 'deny' as const), sid: fc.constantFrom(...SID_POOL), mask: arbMask, flags: arbFlags })
  .map((a) => ({ type: a.type, sid: a.sid, mask: a.mask, flags: { ...a.flags } })); // plain objects, as the parser makes

test('property: parse(format(ace)) gives the ACE back, for every ACE icacls can express', () => {
  fc.assert(
    fc.property(arbAce, (ace) => {
      const text = formatAce(ace, nameOf);
      const back = parseAceSpec(text, resolve, ace.type);
      assert.deepEqual(back, ace, text);
    }),
    { numRuns: 5000 },
  );
});

const TOKENS = ['(', ')', ':', ',', '*', ' ', 'OI', 'CI', 'IO', 'NP', 'I', 'DENY', 'F', 'M', 'RX', 'R', 'W', 'D', 'N', 'RD', 'GA', 'WDAC', 'S-1-5-32-545', 'S-1-', '-99999999999', 'alice', 'Users', '\\', '\u0000', 'é', '𝄞'];
const arbSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map((t) => t.join(''));

test('property: parseAceSpec never throws and always answers an ACE or an error', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), arbSoup), fc.constantFrom('allow' as const, 'deny' as const), (text, type) => {
      const r = parseAceSpec(text, resolve, type);
      if ('error' in r) {
        assert.equal(typeof r.error, 'string');
        assert.ok(r.error.length > 0);
      } else {
        assert.equal(r.type, type);
        assert.equal(r.mask, r.mask >>> 0);
        // Whatever parsed displays and parses back to the same ACE.
        assert.deepEqual(parseAceSpec(formatAce(r, nameOf), resolve, type), r);
      }
    }),
    { numRuns: 5000 },
  );
});
