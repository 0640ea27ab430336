/**
 * The pure edits behind `persona acl grant/deny/remove/inherit disable`, on random DACLs and random descriptor
 * chains evaluated by the real inheritance.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addAces, disableInheritance, removeSids } from '../../src/cli/acl.js';
import type { Ace, AceFlags, DescriptorLink, SecurityDescriptor } from '../../src/security/acl-types.js';
import { effectiveDacl } from '../../src/security/inheritance.js';

const SIDS = ['S-1-1-0', 'S-1-5-32-544', 'S-1-5-32-545', 'S-1-5-21-1-2-3-1000', 'S-1-5-21-1-2-3-1001'];

const flagsArb = (inherited: fc.Arbitrary<boolean>): fc.Arbitrary<AceFlags> =>
  fc.record({ objectInherit: fc.boolean(), containerInherit: fc.boolean(), inheritOnly: fc.boolean(), noPropagate: fc.boolean(), inherited });
const aceArb = (inherited: fc.Arbitrary<boolean> = fc.constant(false)): fc.Arbitrary<Ace> =>
  fc.record({ type: fc.constantFrom('allow' as const, 'deny' as const), sid: fc.constantFrom(...SIDS), mask: fc.integer({ min: 1, max: 0x1f01ff }), flags: flagsArb(inherited) });

const key = (a: Ace): string => [a.type, a.sid, a.flags.objectInherit, a.flags.containerInherit, a.flags.inheritOnly, a.flags.noPropagate].join('|');
/** Explicit deny ACEs before explicit allow ACEs. */
const canonical = (dacl: readonly Ace[]): boolean => {
  const explicit = dacl.filter((a) => !a.flags.inherited);
  const firstAllow = explicit.findIndex((a) => a.type === 'allow');
  return firstAllow === -1 || explicit.slice(firstAllow).every((a) => a.type === 'allow');
};
const canonicalize = (dacl: readonly Ace[]): Ace[] => [...dacl.filter((a) => a.type === 'deny'), ...dacl.filter((a) => a.type === 'allow')];
const dedupe = (dacl: readonly Ace[]): Ace[] => dacl.filter((a, i) => dacl.findIndex((b) => key(b) === key(a)) === i);

describe('addAces (acl grant / deny)', () => {
  test('every added right is granted by one explicit ACE of the same type, SID and flags; nothing is lost; order stays canonical', () => {
    fc.assert(
      fc.property(fc.array(aceArb(), { maxLength: 8 }), fc.array(aceArb(fc.boolean()), { minLength: 1, maxLength: 5 }), (start, added) => {
        const before = dedupe(canonicalize(start));
        const after = addAces(before, added);
        assert.ok(canonical(after), 'canonical order kept');
        assert.ok(after.every((a) => !a.flags.inherited), 'only explicit ACEs are written');
        const keys = after.map(key);
        assert.equal(new Set(keys).size, keys.length, 'no duplicate (type, SID, flags)');
        for (const a of [...before, ...added]) {
          const holder = after.find((b) => key(b) === key(a));
          assert.ok(holder && (holder.mask & a.mask) >>> 0 === a.mask >>> 0, 'rights kept or added');
        }
        assert.ok(after.length <= before.length + added.length);
      }),
      { numRuns: 3000 },
    );
  });

  test('a NULL DACL is replaced by the added ACEs alone', () => {
    fc.assert(
      fc.property(fc.array(aceArb(), { minLength: 1, maxLength: 5 }), (added) => {
        assert.deepEqual(addAces(null, added), addAces([], added));
      }),
    );
  });

  test('merge example: R then W for the same SID and flags is one ACE with both', () => {
    const f: AceFlags = { objectInherit: true, containerInherit: true, inheritOnly: false, noPropagate: false, inherited: false };
    const r = addAces([{ type: 'allow', sid: 'S-1-5-32-545', mask: 0x120089, flags: f }], [{ type: 'allow', sid: 'S-1-5-32-545', mask: 0x100116, flags: f }]);
    assert.deepEqual(r, [{ type: 'allow', sid: 'S-1-5-32-545', mask: 0x12019f, flags: f }]);
  });
});

describe('removeSids (acl remove)', () => {
  test('removes exactly the explicit ACEs of those SIDs, keeps everything else in order', () => {
    fc.assert(
      fc.property(fc.array(aceArb(fc.boolean()), { maxLength: 10 }), fc.uniqueArray(fc.constantFrom(...SIDS), { maxLength: 3 }), (dacl, sids) => {
        const set = new Set(sids);
        const { dacl: out, removed } = removeSids(dacl, set);
        assert.deepEqual(out, dacl.filter((a) => a.flags.inherited || !set.has(a.sid)));
        assert.equal(removed, dacl.length - out!.length);
      }),
    );
    assert.deepEqual(removeSids(null, new Set(SIDS)), { dacl: null, removed: 0 });
  });
});

describe('disableInheritance (acl inherit PATH disable)', () => {
  // Descriptors: none, a NULL DACL, or a canonical list of explicit ACEs; protected or not.
  const descriptorArb: fc.Arbitrary<SecurityDescriptor | undefined> = fc.option(
    fc.record({ dacl: fc.option(fc.array(aceArb(), { maxLength: 4 }).map(canonicalize), { nil: null, freq: 6 }), protected: fc.boolean() }),
    { nil: undefined, freq: 2 },
  );
  const chainArb = fc.array(descriptorArb, { minLength: 1, maxLength: 5 }).chain((descs) =>
    fc.boolean().map((leafIsContainer): DescriptorLink[] =>
      descs.map((descriptor, i) => ({ path: i === 0 ? '/' : '/' + Array.from({ length: i }, (_, j) => `d${j}`).join('/'), isContainer: i < descs.length - 1 || leafIsContainer, descriptor })),
    ),
  );
  const view = (aces: readonly { ace: Ace }[] | null) => aces?.map(({ ace }) => ({ ...ace, flags: { ...ace.flags, inherited: false } })) ?? null;

  test('the object keeps exactly the ACEs it had (or its NULL DACL), now explicit, and is protected', () => {
    fc.assert(
      fc.property(chainArb, (chain) => {
        const object = chain.at(-1)!;
        if (object.descriptor?.protected) return; // the command does nothing then
        const before = effectiveDacl(chain);
        const next = disableInheritance(object.descriptor, before.aces);
        assert.equal(next.protected, true);
        assert.ok((next.dacl ?? []).every((a) => !a.flags.inherited));
        const after = effectiveDacl([...chain.slice(0, -1), { ...object, descriptor: next }]);
        assert.ok((after.aces ?? []).every((e) => !e.ace.flags.inherited && e.from === object.path));
        assert.deepEqual(view(after.aces), view(before.aces));
      }),
      { numRuns: 3000 },
    );
  });
});
