/**
 * executeRequestHandler for a CGI program: choose the OS account (identity/cgi-identity.ts, the same decision
 * `explain` prints), build the RFC 3875 environment, and run it through the process spawner — which refuses to
 * switch accounts it cannot (403.19), never falling back to another identity.
 */
import path from 'node:path';
import { findPool, type UrlResolution } from '../../config/compile.js';
import { cgiEnvironment, type CgiAuthType } from '../../handlers/cgi/environment.js';
import { runCgi } from '../../handlers/cgi/run.js';
import { cgiIdentity } from '../../identity/cgi-identity.js';
import { hostName } from '../../server/site-selection.js';
import type { Generation } from '../../server/generation.js';
import { isAnonymousToken, type Token } from '../../security/token.js';
import { VERSION } from '../../version.js';
import type { RequestContext } from '../context.js';
import { httpError, type HttpError } from '../errors.js';
import type { CgiHandler } from './map-request-handler.js';

const AUTH_TYPES: Partial<Record<Token['authPackage'], CgiAuthType>> = { Basic: 'Basic', NTLM: 'NTLM', Digest: 'Digest', Kerberos: 'Negotiate' };

export async function executeCgi(ctx: RequestContext, handler: CgiHandler, token: Token, resolution: UrlResolution, generation: Generation): Promise<HttpError | null> {
  const { req, res, connection } = ctx;
  const spawner = generation.spawner;
  const pool = findPool(generation.config.server, resolution.application.applicationPool) ?? { name: resolution.application.applicationPool, identity: '', replaceProcessToken: true };
  // The pool's own account: the configured identity where accounts can be switched (root), else this process's.
  const poolAccount = spawner.capability.canSwitchAccounts ? pool.identity : spawner.capability.processAccount;
  const who = cgiIdentity({ token, createProcessAsUser: handler.settings.cgi.createProcessAsUser, pool, poolAccount });
  if (!who.ok) return httpError(who.status, who.substatus, who.reason);
  ctx.trace?.record('executeRequestHandler', `CGI as ${who.account}`, who.reason);

  const anonymous = isAnonymousToken(token);
  const userName = anonymous ? '' : token.user.name;
  const pathInfo = handler.pathInfo;
  const contentLength = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const env = cgiEnvironment({
    method: req.method ?? 'GET',
    httpVersion: req.httpVersion,
    rawHeaders: req.rawHeaders,
    scriptName: handler.scriptName,
    pathInfo,
    pathTranslated: pathInfo ? path.join(handler.documentRoot, ...pathInfo.split('/').filter(Boolean)) : undefined,
    queryString: q >= 0 ? url.slice(q + 1) : '',
    requestUri: url,
    scriptFilename: handler.script.realPath,
    documentRoot: handler.documentRoot,
    serverName: hostName(req.headers.host) || connection.localAddress,
    serverPort: connection.localPort,
    serverAddress: connection.localAddress,
    remoteAddress: connection.remoteAddress,
    remotePort: connection.remotePort,
    secure: connection.secure,
    authType: anonymous ? '' : (AUTH_TYPES[token.authPackage] ?? ''),
    userName,
    logonUser: userName,
    contentLength: Number.isFinite(contentLength) ? contentLength : undefined,
    contentType: req.headers['content-type'],
    serverSoftware: `Persona/${VERSION}`,
  });
  const interpreter = handler.mapping.scriptProcessor;
  return runCgi({
    req,
    res,
    spawner,
    request: {
      account: who.account,
      file: interpreter ?? handler.script.realPath,
      args: interpreter ? [handler.script.realPath] : [],
      env,
      cwd: path.dirname(handler.script.realPath),
      purpose: `CGI ${handler.scriptName} for ${token.user.name}`,
    },
    timeoutMs: handler.settings.cgi.timeout * 1000,
    nph: handler.nph,
    onStderr: (text: string) => generation.log.warn({ traceId: ctx.traceId, script: handler.script.realPath, account: who.account, stderr: text }, 'CGI program wrote to stderr'),
  });
}
