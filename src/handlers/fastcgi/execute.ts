/**
 * executeRequestHandler for a FastCGI mapping (MODEL.md §1, FastCGI row): choose the OS account, take that
 * account's pool of the application named by the mapping's scriptProcessor, and run the request there.
 *
 * - `fastcgi.impersonate: true`: the account the request token maps to, as for CGI with createProcessAsUser (IUSR →
 *   nobody, a mapped user → their OS account, unmapped → 403.19) — PHP's fastcgi.impersonate, made real by a pool
 *   per account, since a Linux process cannot take on another identity per request.
 * - false (default): the application pool's account (its configured identity when Persona can switch accounts,
 *   else Persona's own).
 *
 * The PARAMS are the CGI environment (handlers/cgi/environment.ts); php-cgi finds the script by SCRIPT_FILENAME.
 */
import type { FastCgiApplication, UrlResolution } from '../../config/compile.js';
import { requestCgiEnvironment } from '../cgi/request-environment.js';
import { requestProcessIdentity } from '../../identity/request-process-identity.js';
import type { Generation } from '../../server/generation.js';
import type { Token } from '../../security/token.js';
import type { RequestContext } from '../../pipeline/context.js';
import { httpError, type HttpError } from '../../pipeline/errors.js';
import type { FastCgiHandler } from '../../pipeline/stages/map-request-handler.js';
import { fastCgiPool } from './pool.js';
import { respondFastCgi } from './respond.js';

/** The server.fastCgi application a mapping's scriptProcessor names (IIS: "fullPath|arguments"). */
export function findFastCgiApplication(apps: readonly FastCgiApplication[], scriptProcessor: string): FastCgiApplication | undefined {
  const bar = scriptProcessor.indexOf('|');
  const fullPath = bar >= 0 ? scriptProcessor.slice(0, bar) : scriptProcessor;
  const args = bar >= 0 ? scriptProcessor.slice(bar + 1) : undefined;
  return apps.find((a) => a.fullPath === fullPath && (args === undefined || a.arguments.join(' ') === args));
}

export async function executeFastCgi(ctx: RequestContext, handler: FastCgiHandler, token: Token, resolution: UrlResolution, generation: Generation): Promise<HttpError | null> {
  const { req, res } = ctx;
  const processor = handler.mapping.scriptProcessor ?? '';
  const app = findFastCgiApplication(generation.config.server.fastCgi, processor);
  if (!app) return httpError(500, 0, `handler ${handler.name}: no FastCGI application ${processor || '(no scriptProcessor)'} is defined under server.fastCgi`);

  const who = requestProcessIdentity(generation, resolution, token, handler.settings.fastcgi.impersonate);
  // The decision is CGI's; its reasons name the CGI setting, which for FastCGI is fastcgi.impersonate.
  const reason = who.reason.replace(/cgi\.createProcessAsUser(: false)?/g, (_m, f: string | undefined) => (f ? 'fastcgi.impersonate: false' : 'fastcgi.impersonate'));
  if (!who.ok) return httpError(who.status, who.substatus, reason);
  ctx.trace?.record('executeRequestHandler', `FastCGI as ${who.account}`, reason);
  const params = requestCgiEnvironment(ctx, handler, token);
  const purpose = `FastCGI ${handler.scriptName} for ${token.user.name} as ${who.account}`;
  return respondFastCgi({
    req,
    res,
    pool: fastCgiPool(generation, app, who.account, generation.spawner, generation.log),
    params,
    purpose,
    onStderr: (text) => generation.log.warn({ traceId: ctx.traceId, script: handler.script.realPath, account: who.account, stderr: text }, 'FastCGI application wrote to STDERR'),
  });
}
