/**
 * Stage `authorizeRequest`: access flags first (403.x), as IIS does before any ACL. The security-core issue adds
 * SSL flags and the ACL access check with the request token (401.2 with challenges for anonymous, 401.3 otherwise).
 */
import type { UrlResolution } from '../../config/compile.js';
import { checkAccessFlags } from '../../security/access-flags.js';
import type { HttpError } from '../errors.js';
import type { HandlerMapping } from './map-request-handler.js';

export interface AuthorizationDecision {
  readonly allowed: boolean;
  readonly reason: string;
  readonly error?: HttpError;
}

export function authorizeRequest(handler: HandlerMapping, resolution: UrlResolution): AuthorizationDecision {
  if (handler.requiredAccess === null) return { allowed: true, reason: `${handler.name} needs no access flag` };
  const origin = resolution.origins.get('accessFlags');
  const where = origin ? origin.level.label + (origin.position ? ` (${origin.position.file}:${origin.position.line})` : '') : 'built-in default';
  return checkAccessFlags(resolution.settings.accessFlags, handler.requiredAccess, where);
}
