/**
 * executeRequestHandler for a CGI program: choose the OS account (identity/cgi-identity.ts, the same decision
 * `explain` prints), build the RFC 3875 environment, and run it through the process spawner — which refuses to
 * switch accounts it cannot (403.19), never falling back to another identity.
 */
import path from 'node:path';
import type { UrlResolution } from '../../config/compile.js';
import { requestCgiEnvironment } from '../../handlers/cgi/request-environment.js';
import { runCgi } from '../../handlers/cgi/run.js';
import { requestProcessIdentity } from '../../identity/request-process-identity.js';
import type { Generation } from '../../server/generation.js';
import type { Token } from '../../security/token.js';
import type { RequestContext } from '../context.js';
import { httpError, type HttpError } from '../errors.js';
import { hasRequestBody } from '../body.js';
import type { CgiHandler } from './map-request-handler.js';

export async function executeCgi(ctx: RequestContext, handler: CgiHandler, token: Token, resolution: UrlResolution, generation: Generation): Promise<HttpError | null> {
  const { req, res } = ctx;
  const who = requestProcessIdentity(generation, resolution, token, handler.settings.cgi.createProcessAsUser);
  if (!who.ok) return httpError(who.status, who.substatus, who.reason);
  ctx.trace?.record('executeRequestHandler', `CGI as ${who.account}`, who.reason);
  const interpreter = handler.mapping.scriptProcessor;
  return runCgi({
    req,
    res,
    spawner: generation.spawner,
    request: {
      account: who.account,
      file: interpreter ?? handler.script.realPath,
      args: interpreter ? [handler.script.realPath] : [],
      env: requestCgiEnvironment(ctx, handler, token),
      cwd: path.dirname(handler.script.realPath),
      purpose: `CGI ${handler.scriptName} for ${token.user.name}`,
      // Nothing to read: /dev/null instead of a second connection to the forker (the common GET).
      ...(!hasRequestBody(req) && { stdin: 'none' as const }),
    },
    timeoutMs: handler.settings.cgi.timeout * 1000,
    nph: handler.nph,
    onStderr: (text: string) => generation.log.warn({ traceId: ctx.traceId, script: handler.script.realPath, account: who.account, stderr: text }, 'CGI program wrote to stderr'),
  });
}
