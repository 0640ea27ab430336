/**
 * A new machine SID `S-1-5-21-a-b-c` (three random 32-bit sub-authorities, as Windows setup makes), generated once when
 * Persona's state is initialised; every local account SID is this plus a RID.
 */
import { randomBytes } from 'node:crypto';
import type { Sid } from '../security/sid.js';

export function newMachineSid(): Sid {
  const bytes = randomBytes(12);
  return `S-1-5-21-${bytes.readUInt32LE(0)}-${bytes.readUInt32LE(4)}-${bytes.readUInt32LE(8)}`;
}
