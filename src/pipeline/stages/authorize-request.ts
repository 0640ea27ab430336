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

// The decision depends only on the URL's resolution (cached per configuration generation) and the access the
// handler needs, so it is made once per pair rather than once per request.
const decisions = new WeakMap<UrlResolution, Map<string, AuthorizationDecision>>();

export function authorizeRequest(handler: HandlerMapping, resolution: UrlResolution): AuthorizationDecision {
  const required = handler.requiredAccess;
  let perResolution = decisions.get(resolution);
  const known = perResolution?.get(required ?? '');
  if (known) return known;
  let decision: AuthorizationDecision;
  if (required === null) {
    decision = { allowed: true, reason: `${handler.name} needs no access flag` };
  } else {
    const origin = resolution.origins.get('accessFlags');
    const where = origin ? origin.level.label + (origin.position ? ` (${origin.position.file}:${origin.position.line})` : '') : 'built-in default';
    decision = checkAccessFlags(resolution.settings.accessFlags, required, where);
  }
  if (!perResolution) decisions.set(resolution, (perResolution = new Map()));
  perResolution.set(required ?? '', decision);
  return decision;
}
