/**
 * The error persona.fs throws when the ACL refuses the current identity: shaped like Node's own EACCES (code,
 * path, syscall) so handler code treats it as any permission error, and carrying the access check's decision so
 * the message can name the deciding ACE, as the detailed 401.3 page does.
 */
import type { AccessDecision } from '../../security/acl-types.js';

export class AccessDeniedError extends Error {
  readonly code = 'EACCES';
  readonly errno = -13;
  constructor(
    message: string,
    readonly path: string,
    readonly syscall: string,
    readonly user: string,
    readonly decision: AccessDecision,
  ) {
    super(message);
    this.name = 'AccessDeniedError';
  }
}

export function isAccessDenied(err: unknown): err is AccessDeniedError {
  return err instanceof AccessDeniedError;
}
