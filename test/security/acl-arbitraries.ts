/** fast-check generators for DACL property tests: random chains, tokens and desired masks from small pools. */
import fc from 'fast-check';
import { FileRight as R, GenericRight, SimpleRight, FILE_ALL_ACCESS } from '../../src/security/access-mask.js';
import type { Ace, DescriptorLink, SecurityDescriptor } from '../../src/security/acl-types.js';
import { WellKnownSid, type Sid } from '../../src/security/sid.js';

/** Few SIDs, so that ACEs and tokens meet often. */
export const SID_POOL: readonly Sid[] = ['S-1-5-21-1-2-3-1001', 'S-1-5-21-1-2-3-1002', WellKnownSid.Everyone, WellKnownSid.Users];

const GENERIC = [GenericRight.READ, GenericRight.WRITE, GenericRight.EXECUTE, GenericRight.ALL];
const MASKS = [...Object.values(SimpleRight), ...GENERIC, R.READ_DATA, R.SYNCHRONIZE, (R.READ_DATA | R.WRITE_DATA) >>> 0];

/** True about once in n. */
const oneIn = (n: number): fc.Arbitrary<boolean> => fc.integer({ min: 1, max: n }).map((k) => k === 1);

/** Masks that overlap often (simple rights, generic bits, single rights) and some random ones. */
export const arbMask: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...MASKS) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: FILE_ALL_ACCESS }).map((n) => (n & FILE_ALL_ACCESS) >>> 0) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...GENERIC), fc.constantFrom(...MASKS)).map(([g, m]) => (g | m) >>> 0) },
);

/** Every flag combination, including meaningless ones (IO or NP alone) and ACEs stored as inherited. */
export const arbAce: fc.Arbitrary<Ace> = fc.record({
  type: fc.constantFrom('allow' as const, 'deny' as const),
  sid: fc.constantFrom(...SID_POOL),
  mask: arbMask,
  flags: fc.record({
    objectInherit: fc.boolean(),
    containerInherit: fc.boolean(),
    inheritOnly: fc.boolean(),
    noPropagate: fc.boolean(),
    inherited: oneIn(4),
  }),
});

export const arbDescriptor: fc.Arbitrary<SecurityDescriptor | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.record({ dacl: fc.constant(null), protected: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ dacl: fc.array(arbAce, { maxLength: 5 }), protected: oneIn(4) }) },
);

/** Depth 1–5: folders from the root down, then the object (a file or a folder). */
export const arbChain: fc.Arbitrary<DescriptorLink[]> = fc
  .tuple(fc.array(arbDescriptor, { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([descriptors, lastIsFolder]) =>
    descriptors.map((descriptor, i) => ({
      path: '/site' + Array.from({ length: i }, (_, k) => `/d${k}`).join(''),
      isContainer: i < descriptors.length - 1 || lastIsFolder,
      descriptor,
    })),
  );

export const arbSids: fc.Arbitrary<ReadonlySet<Sid>> = fc.subarray([...SID_POOL]).map((s) => new Set(s));

export const arbDesired: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...MASKS) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: FILE_ALL_ACCESS }).map((n) => (n & FILE_ALL_ACCESS) >>> 0) },
  { weight: 1, arbitrary: fc.constant(0) },
);
