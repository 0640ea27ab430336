/** Effective DACLs: Windows inheritance computed from the explicit descriptors along a path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { effectiveDacl, type EffectiveDacl } from '../../src/security/inheritance.js';
import { parseAceSpec } from '../../src/security/ace-syntax.js';
import type { Ace, AceFlags, DescriptorLink, SecurityDescriptor } from '../../src/security/acl-types.js';
import { WellKnownSid, WELL_KNOWN_NAMES } from '../../src/security/sid.js';
import { referenceApplicable } from './acl-reference.js';
import { arbChain } from './acl-arbitraries.js';

const byName = new Map(Object.entries(WELL_KNOWN_NAMES).map(([sid, name]) => [name.slice(name.lastIndexOf('\\') + 1).toLowerCase(), sid]));
/** `allow Users:(OI)(CI)(RX)` → an ACE, through the real parser. */
function ace(spec: string): Ace {
  const [type, text] = [spec.slice(0, spec.indexOf(' ')), spec.slice(spec.indexOf(' ') + 1)];
  const r = parseAceSpec(text, (n) => (byName.has(n.toLowerCase()) ? { sid: byName.get(n.toLowerCase())!, name: n } : undefined), type as 'allow' | 'deny');
  if ('error' in r) throw new Error(r.error);
  return r;
}
const sd = (aces: readonly Ace[] | null, isProtected = false): SecurityDescriptor => ({ dacl: aces, protected: isProtected });
const dir = (path: string, descriptor?: SecurityDescriptor): DescriptorLink => ({ path, isContainer: true, descriptor });
const file = (path: string, descriptor?: SecurityDescriptor): DescriptorLink => ({ path, isContainer: false, descriptor });

/** The effective ACEs as `from|type sid flags mask` lines, for readable comparisons. */
function lines(d: EffectiveDacl): string[] | null {
  if (d.aces === null) return null;
  return d.aces.map(({ ace: a, from }) => {
    const f = a.flags;
    const fl = [f.inherited && 'I', f.objectInherit && 'OI', f.containerInherit && 'CI', f.inheritOnly && 'IO', f.noPropagate && 'NP'].filter(Boolean).join(',');
    return `${from}|${a.type} ${a.sid} [${fl}] ${a.mask.toString(16)}`;
  });
}
const USERS = WellKnownSid.Users;

test('a file gets OI ACEs from its folder, with no inheritance flags and marked inherited', () => {
  const root = sd([ace('allow Users:(OI)(CI)(RX)'), ace('allow Everyone:(CI)(R)'), ace('allow Guests:(RD)')]);
  const d = effectiveDacl([dir('/w', root), file('/w/a.txt')]);
  assert.deepEqual(lines(d), [`/w|allow ${USERS} [I] 1200a9`]);
  assert.match(d.reason, /1 inherited from \/w/);
});

test('a folder gets CI ACEs that apply, and OI-only ACEs as inherit-only for the files below', () => {
  const root = sd([ace('allow Users:(OI)(CI)(RX)'), ace('allow Everyone:(CI)(R)'), ace('allow Guests:(OI)(R)'), ace('allow Iusr:(RD)')]);
  const d = effectiveDacl([dir('/w', root), dir('/w/sub')]);
  assert.deepEqual(lines(d), [
    `/w|allow ${USERS} [I,OI,CI] 1200a9`,
    `/w|allow ${WellKnownSid.Everyone} [I,CI] 120089`,
    `/w|allow ${WellKnownSid.Guests} [I,OI,IO] 120089`,
  ]);
  // …and the OI-only ACE reaches a file two levels down; the CI-only one does not.
  const f = effectiveDacl([dir('/w', root), dir('/w/sub'), file('/w/sub/x.html')]);
  assert.deepEqual(lines(f), [`/w|allow ${USERS} [I] 1200a9`, `/w|allow ${WellKnownSid.Guests} [I] 120089`]);
});

test('IO ACEs do not apply where they are set but are inherited; NP stops after one level', () => {
  const root = sd([ace('allow Users:(OI)(CI)(IO)(M)'), ace('allow Guests:(OI)(CI)(NP)(R)'), ace('allow Everyone:(OI)(NP)(RX)')]);
  assert.deepEqual(lines(effectiveDacl([dir('/w', root)])), [
    `/w|allow ${USERS} [OI,CI,IO] 1301bf`,
    `/w|allow ${WellKnownSid.Guests} [OI,CI,NP] 120089`,
    `/w|allow ${WellKnownSid.Everyone} [OI,NP] 1200a9`,
  ]);
  assert.deepEqual(lines(effectiveDacl([dir('/w', root), file('/w/f')])), [
    `/w|allow ${USERS} [I] 1301bf`,
    `/w|allow ${WellKnownSid.Guests} [I] 120089`,
    `/w|allow ${WellKnownSid.Everyone} [I] 1200a9`,
  ]);
  // A subfolder: the NP+CI ACE applies to it and goes no further; the NP+OI-only ACE does not reach it at all.
  assert.deepEqual(lines(effectiveDacl([dir('/w', root), dir('/w/s')])), [`/w|allow ${USERS} [I,OI,CI] 1301bf`, `/w|allow ${WellKnownSid.Guests} [I] 120089`]);
  assert.deepEqual(lines(effectiveDacl([dir('/w', root), dir('/w/s'), file('/w/s/f')])), [`/w|allow ${USERS} [I] 1301bf`]);
});

test('explicit ACEs first (stored order), then inherited by distance: parent before grandparent', () => {
  const chain = [
    dir('/w', sd([ace('deny Guests:(OI)(CI)(W)'), ace('allow Users:(OI)(CI)(R)')])),
    dir('/w/a', sd([ace('deny Iusr:(OI)(CI)(WD)'), ace('allow Iusr:(OI)(CI)(RX)')])),
    dir('/w/a/b'),
    file('/w/a/b/f', sd([ace('deny Everyone:(DE)'), ace('allow Everyone:(R)')])),
  ];
  const d = effectiveDacl(chain);
  assert.deepEqual(
    d.aces?.map((e) => `${e.from} ${e.ace.type} ${e.ace.flags.inherited ? 'I' : 'E'}`),
    ['/w/a/b/f deny E', '/w/a/b/f allow E', '/w/a deny I', '/w/a allow I', '/w deny I', '/w allow I'],
  );
  assert.match(d.reason, /2 explicit, 2 inherited from \/w\/a, 2 inherited from \/w/);
});

test('a stored descriptor that is not canonical keeps its order, as Windows, and the reason says so', () => {
  const d = effectiveDacl([file('/f', sd([ace('allow Users:(R)'), ace('deny Users:(R)')], true))]);
  assert.deepEqual(d.aces?.map((e) => e.ace.type), ['allow', 'deny']);
  assert.match(d.reason, /allow before a deny; kept in stored order/);
});

test('a protected descriptor blocks everything above it', () => {
  const chain = [dir('/w', sd([ace('allow Users:(OI)(CI)(F)')])), dir('/w/secure', sd([ace('allow Administrators:(OI)(CI)(F)')], true)), file('/w/secure/x')];
  const d = effectiveDacl(chain);
  assert.deepEqual(lines(d), [`/w/secure|allow ${WellKnownSid.Administrators} [I] 1f01ff`]);
  assert.match(d.reason, /inheritance is blocked at \/w\/secure \(protected\)/);
});

test('ACEs stored as inherited are ignored: Persona computes inherited ACEs', () => {
  const d = effectiveDacl([file('/f', sd([ace('allow Users:(I)(R)'), ace('allow Guests:(R)')]))]);
  assert.deepEqual(lines(d), [`/f|allow ${WellKnownSid.Guests} [] 120089`]);
  assert.match(d.reason, /1 ACE\(s\) stored as inherited at \/f ignored/);
});

test('NULL DACLs: on the object, on a protected ancestor, and on an unprotected ancestor', () => {
  const own = effectiveDacl([dir('/w', sd([ace('allow Users:(OI)(CI)(R)')])), file('/w/f', sd(null))]);
  assert.equal(own.aces, null);
  assert.match(own.reason, /NULL DACL set on \/w\/f/);

  const below = effectiveDacl([dir('/w', sd(null, true)), dir('/w/a'), file('/w/a/f')]);
  assert.equal(below.aces, null);
  assert.match(below.reason, /protected NULL DACL at \/w/);

  // A descriptor below a protected NULL DACL is a real DACL: its own ACEs, nothing from the NULL one.
  assert.deepEqual(lines(effectiveDacl([dir('/w', sd(null, true)), dir('/w/a', sd([ace('allow Users:(OI)(R)')])), file('/w/a/f')])), [`/w/a|allow ${USERS} [I] 120089`]);
  assert.deepEqual(effectiveDacl([dir('/w', sd(null, true)), file('/w/f', sd([]))]).aces, []);

  // An unprotected NULL DACL opens that folder only; below it, what is above flows through.
  const chain = [dir('/w', sd([ace('allow Users:(OI)(CI)(R)')])), dir('/w/open', sd(null))];
  assert.equal(effectiveDacl(chain).aces, null);
  const under = effectiveDacl([...chain, file('/w/open/f')]);
  assert.deepEqual(lines(under), [`/w|allow ${USERS} [I] 120089`]);
  assert.match(under.reason, /not protected, which applies to that folder only/);
});

test('empty DACLs: no descriptor anywhere (a configuration mistake, explained), or nothing reaches', () => {
  const none = effectiveDacl([dir('/w'), dir('/w/a'), file('/w/a/f')]);
  assert.deepEqual(none.aces, []);
  assert.match(none.reason, /no security descriptor on \/w\/a\/f or any folder above it up to \/w/);
  assert.match(none.reason, /root descriptor missing/);

  const protectedEmpty = effectiveDacl([dir('/w', sd([ace('allow Users:(OI)(CI)(F)')])), file('/w/f', sd([], true))]);
  assert.deepEqual(protectedEmpty.aces, []);
  assert.match(protectedEmpty.reason, /empty DACL on \/w\/f/);

  const unreachable = effectiveDacl([dir('/w', sd([ace('allow Users:(F)')])), file('/w/f')]);
  assert.deepEqual(unreachable.aces, []);
});

test('a broken chain fails closed with its reason', () => {
  assert.deepEqual(effectiveDacl([]).aces, []);
  const cases: [DescriptorLink[], RegExp][] = [
    [[dir('/w', sd(null, true)), file('/w/a/b')], /\/w\/a\/b is not directly inside \/w/],
    [[dir('/w', sd(null, true)), file('/x/b')], /not directly inside/],
    [[file('/w', sd(null, true)), file('/w/b')], /\/w is a file/],
    [[dir('/', sd(null, true)), file('/b')], /^NULL/],
    [[dir('/w/', sd(null, true)), file('/w/b')], /^NULL/],
  ];
  for (const [chain, re] of cases) {
    const d = effectiveDacl(chain);
    assert.match(d.reason, re);
    if (!re.source.startsWith('^NULL')) assert.deepEqual(d.aces, []);
  }
});

const applyingKey = (from: string, a: Ace): string => `${from}|${a.type}|${a.sid}|${a.mask}`;

test('property: the ACEs that apply are exactly those of the reference model, in the same order', () => {
  fc.assert(
    fc.property(arbChain, (chain) => {
      const d = effectiveDacl(chain);
      const ref = referenceApplicable(chain);
      if (ref === null) {
        assert.equal(d.aces, null, d.reason);
        return;
      }
      assert.notEqual(d.aces, null, d.reason);
      const object = chain[chain.length - 1]!.path;
      const got = d.aces!.filter((e) => !e.ace.flags.inheritOnly);
      assert.deepEqual(
        got.map((e) => applyingKey(e.from, e.ace)),
        ref.map((e) => applyingKey(e.from, e.ace)),
      );
      for (const e of d.aces!) {
        // Explicit ACEs are the object's own; inherited copies are marked and carry no flags except what passes on.
        assert.equal(e.ace.flags.inherited, e.from !== object);
        if (e.from !== object && !chain[chain.length - 1]!.isContainer) {
          const f: AceFlags = e.ace.flags;
          assert.ok(!f.objectInherit && !f.containerInherit && !f.inheritOnly && !f.noPropagate);
        }
      }
    }),
    { numRuns: 5000 },
  );
});
