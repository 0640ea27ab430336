/** The descriptor crash-writer.ts stores for step k, so the parent can check it came back whole. */
import type { SecurityDescriptor } from '../../src/security/acl-types.js';

export function crashDescriptor(k: number): SecurityDescriptor {
  const flags = { objectInherit: true, containerInherit: true, inheritOnly: false, noPropagate: false, inherited: false };
  return {
    dacl: Array.from({ length: 1 + (k % 7) }, (_, i) => ({ type: i % 2 ? 'deny' : 'allow', sid: `S-1-5-21-1111-2222-3333-${1000 + i}`, mask: (k * 7919 + i) >>> 0, flags })),
    protected: k % 2 === 0,
  };
}
