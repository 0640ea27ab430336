/**
 * Stage `authorizeRequest` (MODEL.md §4): access flags first (403.x), then the ACL of the file or folder with the
 * request's token. A denied anonymous request is answered 401.2 with the challenges when another scheme is enabled,
 * so the browser asks for a login; a denied authenticated request, or anonymous with nothing else to offer, is 401.3.
 */
import type { UrlResolution } from '../../config/compile.js';
import { checkAccessFlags } from '../../security/access-flags.js';
import { DesiredAccess } from '../../security/access-mask.js';
import type { AccessDecision } from '../../security/acl-types.js';
import { formatAce } from '../../security/ace-syntax.js';
import type { SecurityServices } from '../../security/services.js';
import { isAnonymousToken, tokenSids, type Token } from '../../security/token.js';
import type { Sid } from '../../security/sid.js';
import { httpError, Win32, type HttpError } from '../errors.js';
import type { HandlerMapping } from './map-request-handler.js';
import { unauthorized } from './authenticate-request.js';

export interface AuthorizationDecision {
  readonly allowed: boolean;
  readonly reason: string;
  readonly error?: HttpError;
  /** The ACL decision, when an ACL was checked. */
  readonly acl?: AccessDecision;
}

// Access flags depend only on the URL's resolution (cached per generation) and the access the handler needs,
// so that decision is made once per pair rather than once per request.
const flagDecisions = new WeakMap<UrlResolution, Map<string, AuthorizationDecision>>();

export function accessFlagsDecision(handler: HandlerMapping, resolution: UrlResolution): AuthorizationDecision {
  const required = handler.requiredAccess;
  let perResolution = flagDecisions.get(resolution);
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
  if (!perResolution) flagDecisions.set(resolution, (perResolution = new Map()));
  perResolution.set(required ?? '', decision);
  return decision;
}

// A token's SID set is made once per token (tokens are immutable and cached).
const sidSets = new WeakMap<Token, ReadonlySet<Sid>>();
function sidsOf(token: Token): ReadonlySet<Sid> {
  let sids = sidSets.get(token);
  if (!sids) sidSets.set(token, (sids = tokenSids(token)));
  return sids;
}

/** The object and the access the handler needs, or null when it touches no file (a redirect). */
export function aclTarget(handler: HandlerMapping): { path: string; isContainer: boolean; desired: number; what: string } | null {
  // A CGI program is read and run with the request's identity (IIS checks Read & Execute on the script file).
  if (handler.kind === 'cgi') return { path: handler.script.realPath, isContainer: false, desired: (DesiredAccess.readFile | DesiredAccess.executeFile) >>> 0, what: 'run' };
  // A FastCGI application reads the script with the request's identity's access checked here (IIS: Read on the file).
  if (handler.kind === 'fastcgi') return { path: handler.script.realPath, isContainer: false, desired: DesiredAccess.readFile, what: 'read' };
  // A module serving a page reads it with the request's identity; one serving any URL (an API) touches no file here.
  if (handler.kind === 'module') return handler.script ? { path: handler.script.realPath, isContainer: false, desired: DesiredAccess.readFile, what: 'read' } : null;
  const m = handler.mapping;
  if (m.kind === 'file') return { path: m.file.realPath, isContainer: false, desired: DesiredAccess.readFile, what: 'read' };
  if (m.kind === 'listing') return { path: m.directory.realPath, isContainer: true, desired: DesiredAccess.listFolder, what: 'list' };
  return null;
}

export function authorizeRequest(
  handler: HandlerMapping,
  resolution: UrlResolution,
  token: Token,
  challenges: readonly string[],
  security: SecurityServices,
): AuthorizationDecision {
  const flags = accessFlagsDecision(handler, resolution);
  if (!flags.allowed) return flags;
  const target = aclTarget(handler);
  if (!target) return flags;
  const acl = security.acl.check(token, sidsOf(token), target.path, target.isContainer, target.desired);
  if (acl.allowed) return { allowed: true, reason: `${flags.reason}; ACL: ${acl.reason}`, acl };
  const ace = acl.decidingAce ? ` (deciding ACE ${formatAce(acl.decidingAce, (sid) => security.store.nameOf(sid))}${acl.decidingAcePath ? ` on ${acl.decidingAcePath}` : ''})` : '';
  const reason = `${token.user.name} may not ${target.what} ${target.path}: ${acl.reason}${ace}`;
  const error =
    isAnonymousToken(token) && challenges.length > 0
      ? unauthorized(2, `anonymous access denied by the ACL, so the client is asked to log on: ${reason}`, challenges)
      : httpError(401, 3, reason, Win32.ACCESS_DENIED);
  return { allowed: false, reason, error, acl };
}
