/**
 * `persona explain`: for a URL, a scheme and a user, what the server would decide at every stage and who would run
 * each kind of code — computed by the functions the server calls (describeUrl/resolveUrl, request filtering,
 * challengesFor, accountToken, mapRequestHandler, authorizeRequest and accessCheck, cgiIdentity, moduleIdentity), so
 * the explanation and the behaviour cannot drift apart.
 */
import { isIP } from 'node:net';
import { challengesFor, freshChallenges } from '../auth/challenges.js';
import { findPool, type CompiledConfig } from '../config/compile.js';
import type { AuthenticationSettings } from '../config/schema.js';
import { describeUrl, resolveForUrl } from '../config/show.js';
import { FileCache } from '../handlers/static/file-cache.js';
import { isHttpError, statusLabel } from '../pipeline/errors.js';
import { accessFlagsDecision, aclTarget, authorizeRequest } from '../pipeline/stages/authorize-request.js';
import { mapRequestHandler, type HandlerMapping } from '../pipeline/stages/map-request-handler.js';
import { accessCheck } from '../security/access-check.js';
import { formatAce, formatMask } from '../security/ace-syntax.js';
import { accountToken, splitAccountName } from '../security/logon.js';
import { processIdentityToken } from '../security/process-identity.js';
import type { SecurityServices } from '../security/services.js';
import { tokenSids, type Token } from '../security/token.js';
import { cgiIdentity } from '../identity/cgi-identity.js';
import { STATE_GROUP } from '../state/shared-state.js';
import { codeIdentities, spawnDecision } from './code-identities.js';
import { previewLogin } from './login.js';
import type { AccessReport, AceStep, ExplainRequest, ExplainScheme, Explanation, SchemeLine } from './model.js';

export interface ExplainContext {
  readonly config: CompiledConfig;
  readonly security: SecurityServices;
  /** Whether the server can switch OS accounts (it runs as root): the pool's configured account, else this one. */
  readonly canSwitchAccounts: boolean;
  /** The account Persona runs as when it cannot switch. */
  readonly selfAccount: string;
}

/** What a browser picks among the offered schemes: the strongest it supports (Chromium's and Firefox's order). */
const BROWSER_PREFERENCE: readonly [string, ExplainScheme][] = [
  ['Negotiate', 'negotiate'],
  ['NTLM', 'ntlm'],
  ['Digest', 'digest'],
  ['Basic', 'basic'],
];

const SCHEME_NAMES: Record<ExplainScheme, string> = { anonymous: 'Anonymous', basic: 'Basic', ntlm: 'NTLM', digest: 'Digest', negotiate: 'Negotiate', cert: 'client certificate' };

export async function explain(request: ExplainRequest, context: ExplainContext): Promise<Explanation | { error: string }> {
  const { config, security } = context;
  const report = describeUrl(config, request.url);
  const resolved = resolveForUrl(config, request.url);
  if ('error' in report) return report;
  if ('error' in resolved) return resolved;
  const { resolution, target, url } = resolved;
  const settings = resolution.settings;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const secure = url.protocol === 'https:';
  const loopback = isLoopbackHost(host);

  // 2. request filtering
  const filteringAllowed = report.requestFiltering.startsWith('accepted');

  // 3. challenges
  const offered = freshChallenges(challengesFor(settings.authentication, { secure, loopback }, host, security));
  const offeredNames = offered.map((line) => line.split(' ')[0]!);
  const pick = BROWSER_PREFERENCE.find(([name]) => offeredNames.includes(name));
  const challenges = {
    offered,
    browserPicks: pick ? pick[0] : null,
    why: pick
      ? `a browser answers the strongest scheme it supports among those offered (Negotiate > NTLM > Digest > Basic), whatever their order; ${settings.authentication.anonymous.enabled ? 'it sends its first request anonymously and logs on only after a 401' : 'anonymous is off, so the first request gets 401 at once'}`
      : offered.length === 0
        ? 'no scheme is offered on this connection (anonymous only, or none enabled)'
        : 'no scheme a browser supports is offered',
  };

  // 4. login
  const poolConfig = findPool(config.server, resolution.application.applicationPool) ?? { name: resolution.application.applicationPool, identity: 'www-data', replaceProcessToken: true };
  const poolAccount = context.canSwitchAccounts ? poolConfig.identity : context.selfAccount;
  const pool = { name: poolConfig.name, replaceProcessToken: poolConfig.replaceProcessToken };
  const scheme: ExplainScheme = request.scheme ?? (request.user === undefined ? 'anonymous' : (pick?.[1] ?? 'basic'));
  const login = previewLogin({ store: security.store, settings: settings.authentication, scheme, user: request.user, pool: pool.name, poolAccount, secure, loopback });
  const processToken = processIdentityToken(pool.name, poolAccount);

  // 5. access
  let access: AccessReport | null = null;
  if (login.token && filteringAllowed) {
    const handler = await mapRequestHandler(target, resolution, new FileCache(config.server.fileCache), request.method);
    access = isHttpError(handler)
      ? { handler: { name: '-', kind: '-', requiredAccess: null, reason: handler.reason }, accessFlags: { allowed: false, reason: handler.reason }, status: statusLabel(handler.status, handler.substatus), reason: handler.reason }
      : accessReport(handler, resolution, login.token, offered, security);
  }

  // 6. who runs the code
  const fixed = fixedLogon(settings.identity, security);
  // As root the launcher adds the state group to the worker (shared-state.ts); programs it starts as users do not get it.
  const workerGroups = context.canSwitchAccounts ? [STATE_GROUP] : [];
  const code = await codeIdentities({ settings, token: login.token, processToken, pool, poolAccount, canSwitchAccounts: context.canSwitchAccounts, workerGroups, ...(fixed && { fixed }) });

  // 7. the other schemes
  const otherSchemes: SchemeLine[] = [];
  for (const other of enabledSchemes(settings.authentication)) {
    if (other === scheme) continue;
    const preview = previewLogin({ store: security.store, settings: settings.authentication, scheme: other, user: request.user, pool: pool.name, poolAccount, secure, loopback });
    otherSchemes.push({ scheme: SCHEME_NAMES[other], summary: summarise(preview.report.ok ? preview.token : undefined, preview.report.reason, preview.report.status, settings.cgi.createProcessAsUser, pool, poolAccount, context.canSwitchAccounts) });
  }

  return {
    request: { ...request, scheme },
    config: report,
    filtering: { allowed: filteringAllowed, verdict: report.requestFiltering },
    challenges,
    login: login.report,
    access,
    code,
    otherSchemes,
    processModel: context.canSwitchAccounts
      ? `persona serve runs as root: a launcher starts pool ${pool.name}'s worker as ${poolConfig.identity}, and the pool's forker starts programs as other accounts (uid, gid and groups)`
      : `persona serve does not run as root here (it runs as ${context.selfAccount}): the worker is ${context.selfAccount}, and code that must run as another OS account is refused with 403.19 (pool ${pool.name} would run as ${poolConfig.identity} under root)`,
  };
}

function accessReport(handler: HandlerMapping, resolution: Parameters<typeof authorizeRequest>[1], token: Token, challenges: readonly string[], security: SecurityServices): AccessReport {
  const decision = authorizeRequest(handler, resolution, token, challenges, security);
  const required = handler.requiredAccess ?? null;
  const flagDecision = accessFlagsDecision(handler, resolution);
  const flags = { allowed: flagDecision.allowed, reason: flagDecision.reason };
  const target = aclTarget(handler);
  let acl: AccessReport['acl'];
  if (target && (decision.acl || flags.allowed)) {
    const walk: AceStep[] = [];
    const nameOf = (sid: string): string => security.store.nameOf(sid);
    // The same accessCheck over the same effective DACL the server's (memoised) check used, walked step by step.
    const checked = accessCheck(tokenSids(token), security.acl.effective(target.path, target.isContainer), target.desired, (step) => {
      walk.push({
        ace: `${step.ace.ace.type} ${formatAce(step.ace.ace, nameOf)}`,
        from: step.ace.from,
        effect: step.effect === 'granted' || step.effect === 'denied' ? `${step.effect} ${formatMask(step.rights)}` : step.effect,
        decided: false,
      });
    });
    const decided = checked.decidingAce ? walk.findLastIndex((s) => s.effect.startsWith('granted') || s.effect.startsWith('denied')) : -1;
    acl = {
      path: target.path,
      desired: formatMask(checked.desired),
      allowed: checked.allowed,
      reason: checked.reason,
      walk: walk.map((s, i) => (i === decided ? { ...s, decided: true } : s)),
    };
  }
  const status = decision.allowed ? '200' : decision.error ? statusLabel(decision.error.status, decision.error.substatus) : '403';
  return {
    handler: { name: handler.name, kind: handler.kind, requiredAccess: required, reason: `${handler.name} (${handler.kind}) for ${handler.physicalPath}` },
    accessFlags: flags,
    ...(acl && { acl }),
    status,
    reason: decision.reason,
  };
}

function fixedLogon(identity: { readonly userName: string }, security: SecurityServices): { ok: true; token: Token } | { ok: false; reason: string } | undefined {
  if (identity.userName === '') return undefined;
  const { name } = splitAccountName(identity.userName, '', security.machineName);
  const user = security.store.findUser(name);
  if (!user) return { ok: false, reason: `no local user "${name}"` };
  const made = accountToken(security.store, user, 'ClearText', 'Basic', false, Date.now());
  return made.ok ? { ok: true, token: made.token } : { ok: false, reason: made.reason };
}

function enabledSchemes(settings: AuthenticationSettings): ExplainScheme[] {
  return [
    ...(settings.anonymous.enabled ? (['anonymous'] as const) : []),
    ...(settings.ntlm.enabled ? (['ntlm'] as const) : []),
    ...(settings.digest.enabled ? (['digest'] as const) : []),
    ...(settings.basic.enabled ? (['basic'] as const) : []),
  ];
}

function summarise(token: Token | undefined, reason: string, status: string | undefined, createProcessAsUser: boolean, pool: { name: string; replaceProcessToken: boolean }, poolAccount: string, canSwitchAccounts: boolean): string {
  if (!token) return `refused${status ? ` (${status})` : ''}: ${reason}`;
  const cgi = spawnDecision(cgiIdentity({ token, createProcessAsUser, pool, poolAccount }), canSwitchAccounts, poolAccount);
  return `${token.user.name}, ${token.logonType} logon, package ${token.authPackage}, ${token.delegation.kind === 'none' ? 'no delegable credentials' : 'delegable credentials'}; CGI ${cgi.ok ? `as ${cgi.account}` : `refused ${cgi.status}.${cgi.substatus}`}`;
}

function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}
