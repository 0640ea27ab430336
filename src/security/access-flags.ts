/**
 * IIS AccessFlags: the path-level permissions checked before any ACL (MODEL.md §4). A pure decision with its reason.
 */
import type { AccessFlag } from '../config/schema.js';
import { httpError, type HttpError } from '../pipeline/errors.js';

export interface AccessFlagsDecision {
  readonly allowed: boolean;
  readonly reason: string;
  readonly error?: HttpError;
}

const REFUSAL: Record<AccessFlag, { substatus: number; status: number; what: string }> = {
  read: { status: 403, substatus: 2, what: 'Read access' },
  write: { status: 403, substatus: 3, what: 'Write access' },
  execute: { status: 403, substatus: 1, what: 'Execute access' },
  script: { status: 403, substatus: 1, what: 'Script access' },
  source: { status: 403, substatus: 21, what: 'Source access' },
  browse: { status: 403, substatus: 14, what: 'Directory listing' },
};

export function checkAccessFlags(flags: readonly AccessFlag[], required: AccessFlag, origin: string): AccessFlagsDecision {
  // IIS treats Execute as a superset of Script ("Scripts and Executables").
  const granted = flags.includes(required) || (required === 'script' && flags.includes('execute'));
  if (granted) return { allowed: true, reason: `accessFlags [${flags.join(', ')}] include '${required}'` };
  const r = REFUSAL[required];
  const reason = `${r.what} is not allowed: accessFlags is [${flags.join(', ')}] (set at ${origin}) and does not include '${required}'`;
  return { allowed: false, reason, error: httpError(r.status, r.substatus, reason) };
}
