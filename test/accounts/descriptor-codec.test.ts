import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeDescriptor, descriptorProblem, encodeDescriptor } from '../../src/accounts/descriptor-codec.js';
import type { SecurityDescriptor } from '../../src/security/acl-types.js';

const flags = { objectInherit: true, containerInherit: true, inheritOnly: false, noPropagate: false, inherited: false };

export const arbitraryDescriptor: fc.Arbitrary<SecurityDescriptor> = fc.record(
  {
    owner: fc.constantFrom('S-1-5-32-544', 'S-1-5-21-1-2-3-1000'),
    dacl: fc.option(
      fc.array(
        fc.record({
          type: fc.constantFrom('allow' as const, 'deny' as const),
          sid: fc.constantFrom('S-1-1-0', 'S-1-5-11', 'S-1-5-32-545', 'S-1-5-21-1-2-3-1001'),
          mask: fc.integer({ min: 0, max: 0xffffffff }),
          flags: fc.record({ objectInherit: fc.boolean(), containerInherit: fc.boolean(), inheritOnly: fc.boolean(), noPropagate: fc.boolean(), inherited: fc.boolean() }),
        }),
        { maxLength: 6 },
      ),
      { nil: null },
    ),
    protected: fc.boolean(),
  },
  { requiredKeys: ['dacl', 'protected'] },
);

test('round trip: NULL DACL, empty DACL, owner, generic bits', () => {
  const cases: SecurityDescriptor[] = [
    { dacl: null, protected: false },
    { dacl: [], protected: true },
    { owner: 'S-1-5-32-544', dacl: [{ type: 'deny', sid: 'S-1-1-0', mask: 0x80000000, flags }], protected: false },
  ];
  for (const d of cases) assert.deepEqual(decodeDescriptor(encodeDescriptor(d), '/x'), d);
});

test('invalid descriptors are refused on write with the reason', () => {
  const bad: [unknown, RegExp][] = [
    [null, /not an object/],
    [{ dacl: null }, /protected/],
    [{ dacl: 'x', protected: false }, /neither null nor an array/],
    [{ dacl: [], protected: false, sacl: [] }, /unknown descriptor field "sacl"/],
    [{ owner: 'alice', dacl: [], protected: false }, /owner/],
    [{ dacl: [{ type: 'audit', sid: 'S-1-1-0', mask: 1, flags }], protected: false }, /ACE 0: type/],
    [{ dacl: [{ type: 'allow', sid: 's-1-1-0', mask: 1, flags }], protected: false }, /not a SID/], // not canonical
    [{ dacl: [{ type: 'allow', sid: 'S-1-1-0', mask: -1, flags }], protected: false }, /unsigned 32-bit/],
    [{ dacl: [{ type: 'allow', sid: 'S-1-1-0', mask: 2 ** 32, flags }], protected: false }, /unsigned 32-bit/],
    [{ dacl: [{ type: 'allow', sid: 'S-1-1-0', mask: 1.5, flags }], protected: false }, /unsigned 32-bit/],
    [{ dacl: [{ type: 'allow', sid: 'S-1-1-0', mask: 1, flags: { ...flags, inherited: 1 } }], protected: false }, /flag "inherited"/],
    [{ dacl: [{ type: 'allow', sid: 'S-1-1-0', mask: 1, flags: { ...flags, audit: true } }], protected: false }, /unknown flag/],
  ];
  for (const [value, message] of bad) {
    assert.match(descriptorProblem(value) ?? 'accepted', message);
    assert.throws(() => encodeDescriptor(value as SecurityDescriptor), /invalid security descriptor/);
  }
});

test('a corrupt stored row is an Error naming the path', () => {
  assert.throws(() => decodeDescriptor('{', '/srv/www/a.html'), /\/srv\/www\/a\.html.*not JSON/);
  assert.throws(() => decodeDescriptor('{"dacl":[{}],"protected":false}', '/srv/www/b'), /the stored ACL of \/srv\/www\/b is corrupt: ACE 0/);
});

test('property: every valid descriptor round-trips', () => {
  fc.assert(
    fc.property(arbitraryDescriptor, (d) => {
      // (fast-check builds null-prototype records: compare with a plain copy)
      assert.deepEqual(decodeDescriptor(encodeDescriptor(d), '/p'), JSON.parse(JSON.stringify(d)));
    }),
    { numRuns: 500 },
  );
});

test('property: decoding arbitrary text gives a valid descriptor or an Error naming the path, nothing else', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 100 }),
    fc.json({ maxDepth: 4 }),
    arbitraryDescriptor.map((d) => JSON.stringify(d)).chain((j) => fc.nat(j.length).map((cut) => j.slice(0, cut) + j.slice(cut + 1))),
  );
  fc.assert(
    fc.property(text, (t) => {
      try {
        const d = decodeDescriptor(t, '/the/path');
        assert.equal(descriptorProblem(d), null);
      } catch (err) {
        assert.ok(err instanceof Error);
        assert.match(err.message, /^the stored ACL of \/the\/path is corrupt: /);
      }
    }),
    { numRuns: 2000 },
  );
});
