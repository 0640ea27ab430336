/**
 * What a trace says about each decision: the lines are made from the values the decision functions return (their
 * reasons verbatim), so a trace can never tell a different story than the server acted on. Called only when the
 * request is traced. Nothing here reads a request header other than Host, so no credential can reach a line.
 */
import type { UrlResolution, CompiledSite } from '../config/compile.js';
import type { ValueOrigin } from '../config/inherit.js';
import type { ConnectionInfo } from '../server/connection.js';
import type { AccessDecision } from '../security/acl-types.js';
import { formatAce } from '../security/ace-syntax.js';
import type { Sid } from '../security/sid.js';
import type { Token } from '../security/token.js';
import type { HttpError } from './errors.js';
import type { HandlerMapping } from './stages/map-request-handler.js';
import { challengeNames, type Trace } from './trace.js';

function originText(origin: ValueOrigin | undefined): string {
  if (!origin) return 'built-in default';
  return origin.level.label + (origin.position ? ` (${origin.position.file}:${origin.position.line})` : '');
}

/** beginRequest: the site and binding, where the URL landed, the settings chain, and why it is traced. */
export function traceBegin(trace: Trace, site: CompiledSite, connection: ConnectionInfo, host: string | undefined, resolution: UrlResolution): void {
  const binding = `${connection.secure ? 'https' : 'http'}://${connection.localAddress}:${connection.localPort}`;
  trace.record('beginRequest', `site "${site.name}" (id ${site.id})`, `binding ${binding}, Host ${JSON.stringify((host ?? '').slice(0, 255))}, client ${connection.remoteAddress}`);
  const app = resolution.application;
  const vdir = resolution.virtualDirectory;
  trace.record(
    'beginRequest',
    `application ${app.urlPath} in pool ${app.applicationPool}`,
    `virtual directory ${vdir.urlPath} → ${vdir.physicalPath}; the URL maps to ${resolution.physicalPath}`,
  );
  trace.record(
    'beginRequest',
    `settings: ${resolution.chain.map((l) => l.label).join(' → ')}`,
    `trace.enabled: true, set by ${originText(resolution.origins.get('trace.enabled'))}`,
  );
}

/** The request filtering verdict when it let the request through (a refusal is the stage's refusal line). */
export function traceFilteringPassed(trace: Trace): void {
  trace.record('beginRequest', 'request filtering: allowed', 'the URL, query string, verb, headers and length pass every rule of requestFiltering');
}

/** A refusal, and for a 401 the schemes it offers (names only: a Digest challenge's nonce is no business of a log). */
export function traceRefusal(trace: Trace, stage: Parameters<Trace['record']>[0], error: HttpError): void {
  trace.record(stage, `refused ${error.status}.${error.substatus}`, error.reason);
  if (error.logonFailure) trace.record(stage, 'logon failure (as the audit log records it)', error.logonFailure);
  if (error.status === 401) {
    const names = challengeNames(error.headers?.['WWW-Authenticate']);
    trace.record(stage, names.length ? `challenges offered: ${names.join(', ')}` : 'no challenge offered', names.length ? 'one WWW-Authenticate line per enabled scheme, in authentication.order' : 'no scheme the client could use is enabled here');
  }
}

/** authenticateRequest: who, how (the provider's own account of it, token cache included), and delegation. */
export function traceAuthenticated(trace: Trace, token: Token, how: string): void {
  trace.record('authenticateRequest', `${token.user.name} (${token.authPackage}, logon type ${token.logonType})`, how);
  trace.record(
    'authenticateRequest',
    `delegable credentials: ${token.delegation.kind === 'none' ? 'no' : `yes (${token.delegation.kind})`}`,
    token.delegation.reason,
  );
}

/** mapRequestHandler: which handler, of what kind, needing which access flag. */
export function traceHandler(trace: Trace, handler: HandlerMapping): void {
  trace.record('mapRequestHandler', `${handler.name} (${handler.kind})`, `needs the access flag ${handler.requiredAccess ?? '(none)'}; physical path ${handler.physicalPath}`);
}

/** authorizeRequest: the access flags decision, then the ACL decision with the ACE that decided. */
export function traceAccess(trace: Trace, flags: { allowed: boolean; reason: string }, acl: AccessDecision | undefined, nameOf: (sid: Sid) => string): void {
  trace.record('authorizeRequest', `access flags: ${flags.allowed ? 'allowed' : 'denied'}`, flags.reason);
  if (!acl) return;
  const ace = acl.decidingAce ? `deciding ACE ${formatAce(acl.decidingAce, nameOf)}${acl.decidingAcePath ? ` on ${acl.decidingAcePath}` : ''}` : 'no deciding ACE';
  trace.record(
    'authorizeRequest',
    `ACL: ${acl.allowed ? 'allowed' : 'denied'} (desired 0x${acl.desired.toString(16)}, granted 0x${acl.granted.toString(16)})`,
    `${acl.reason}; ${ace}`,
  );
}

/** Static files: the worker reads them as its own account, after the ACL check made with the request's token. */
export function traceStaticIdentity(trace: Trace, pool: string, poolAccount: string, token: Token): void {
  trace.record(
    'executeRequestHandler',
    `static content served by the worker of pool ${pool} (OS account ${poolAccount})`,
    `no code runs for the request: the file's ACL was checked for ${token.user.name}, then the worker reads it`,
  );
}
