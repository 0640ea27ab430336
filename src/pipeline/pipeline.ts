/**
 * The request pipeline: the spine. Runs the stages in order on one request, records each stage's result in the
 * context, and always ends with `endRequest` (error page, W3C log line, filter notifications). A stage refuses by
 * returning an HttpError value; an exception anywhere is turned into a 500 with the stage that threw, never a crash.
 *
 *   accept → beginRequest → authenticateRequest → mapRequestHandler → authorizeRequest → executeRequestHandler → endRequest
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Generation } from '../server/generation.js';
import type { ListenerSites } from '../server/site-selection.js';
import { connectionInfo } from '../server/connection.js';
import type { FilterRequestView } from '../filters/api.js';
import type { RequestContext, StageName } from './context.js';
import { httpError, isHttpError, type HttpError } from './errors.js';
import { beginRequest, isRefusal } from './stages/begin-request.js';
import { authenticateRequest } from './stages/authenticate-request.js';
import { executeCgi } from './stages/execute-cgi.js';
import { executeModule } from '../handlers/module/execute.js';
import { forwardToPool } from '../server/pool-forwarding.js';
import { executeFastCgi } from '../handlers/fastcgi/execute.js';
import { challengesFor } from '../auth/challenges.js';
import { hostName } from '../server/site-selection.js';
import { isAnonymousToken } from '../security/token.js';
import { mapRequestHandler } from './stages/map-request-handler.js';
import { authorizeRequest } from './stages/authorize-request.js';
import { executeRequestHandler } from './stages/execute-request-handler.js';
import { endRequest } from './stages/end-request.js';
import { Trace } from './trace.js';
import { traceAccess, traceAuthenticated, traceBegin, traceFilteringPassed, traceHandler, traceRefusal, traceStaticIdentity } from './trace-lines.js';
import { accessFlagsDecision } from './stages/authorize-request.js';
import { requestPool } from '../identity/request-process-identity.js';
import { answerDiagnostics, diagnosticClient, diagnosticRoute, diagnosticsOptions } from '../server/diagnostics.js';
import { discardBody, hasUnannouncedBody } from './body.js';

// Trace ids: a per-process random prefix and a counter — unique, cheap, and sortable within a process.
const TRACE_PREFIX = randomBytes(4).toString('hex');
let traceCounter = 0;

function fail(ctx: RequestContext, stage: StageName, error: HttpError): void {
  ctx.error = error;
  ctx.failedStage = stage;
  if (ctx.trace) traceRefusal(ctx.trace, stage, error);
}

export function filterView(ctx: RequestContext): FilterRequestView {
  return {
    traceId: ctx.traceId,
    method: ctx.req.method ?? '',
    url: ctx.req.url ?? '',
    path: ctx.target?.path,
    headers: ctx.req.headers,
    clientIp: ctx.connection.remoteAddress,
    siteName: ctx.site?.name,
    userName: ctx.token && !isAnonymousToken(ctx.token) ? ctx.token.user.name : '',
    authType: ctx.token?.authPackage ?? '',
  };
}

export async function handleRequest(req: IncomingMessage, res: ServerResponse, generation: Generation, sites: ListenerSites): Promise<void> {
  const connection = connectionInfo(req.socket);
  connection.requests++;
  const ctx: RequestContext = {
    traceId: `${TRACE_PREFIX}-${(++traceCounter).toString(36)}`,
    startedAt: process.hrtime.bigint(),
    req,
    res,
    connection,
    site: undefined,
    target: undefined,
    resolution: undefined,
    token: undefined,
    handler: undefined,
    error: undefined,
    failedStage: undefined,
    trace: undefined,
    forwardedTo: undefined,
  };
  const bytesAtStart = { written: req.socket.bytesWritten, read: req.socket.bytesRead };
  let stage: StageName = 'beginRequest';
  try {
    const begun = beginRequest(req, sites, generation.resolvePath);
    ctx.site = begun.site;
    ctx.target = begun.target ?? undefined;
    ctx.resolution = begun.resolution ?? undefined;
    // The diagnostic endpoint (server.diagnostics) is the server's own page: answered before authentication, to
    // loopback clients only. For anyone else it does not exist: the request goes on as if the endpoint were off
    // (normally the site's 404), so nothing reveals it. Its own requests are not traced.
    const diagnostics = diagnosticsOptions(generation.config);
    if (diagnostics.enabled && !isRefusal(begun)) {
      const route = diagnosticRoute(begun.target.path, diagnostics.path);
      if (route && diagnosticClient(connection.remoteAddress).allowed) {
        return await answerDiagnostics(req, res, route, diagnostics, generation.traces, generation.config.server.logDirectory);
      }
    }
    if (ctx.site && ctx.resolution?.settings.trace.enabled) {
      ctx.trace = new Trace(ctx.startedAt);
      traceBegin(ctx.trace, ctx.site, connection, req.headers.host, ctx.resolution);
    }
    if (isRefusal(begun)) return fail(ctx, stage, begun.error);
    if (ctx.trace) traceFilteringPassed(ctx.trace);
    const filters = generation.filters;
    if (filters.has('beginRequest')) {
      const denied = await filters.decide('beginRequest', filterView(ctx));
      if (denied) return fail(ctx, stage, denied);
    }

    // A URL of another application pool is served by that pool's worker (one worker per pool, MODEL.md §8).
    const route = generation.poolRouting?.targetFor(begun.resolution.application.applicationPool);
    if (route) {
      ctx.forwardedTo = route.target.pool;
      // The pool's worker traces the request again, under its own id, and keeps that trace.
      ctx.trace?.record(stage, `forwarded to the worker of pool ${route.target.pool}`, 'one worker per application pool');
      const unreachable = await forwardToPool(req, res, connection, route.target, route.facts(connection, sites), route.key);
      if (unreachable) return fail(ctx, stage, httpError(503, 0, unreachable));
      return;
    }

    stage = 'authenticateRequest';
    const security = generation.security;
    const authentication = begun.resolution.settings.authentication;
    const host = hostName(req.headers.host);
    const challenges = challengesFor(authentication, connection, host, security);
    const authenticating = authenticateRequest(
      { req, connection, settings: authentication, applicationPool: begun.resolution.application.applicationPool, traceId: ctx.traceId, host, challenges },
      security,
    );
    const authenticated = authenticating instanceof Promise ? await authenticating : authenticating;
    if (isHttpError(authenticated)) return fail(ctx, stage, authenticated);
    ctx.token = authenticated.token;
    if (ctx.trace) traceAuthenticated(ctx.trace, authenticated.token, authenticated.how);
    if (filters.has('authenticateRequest')) {
      const denied = await filters.decide('authenticateRequest', filterView(ctx));
      if (denied) return fail(ctx, stage, denied);
    }

    stage = 'mapRequestHandler';
    const handler = await mapRequestHandler(begun.target, begun.resolution, generation.fileCache, req.method);
    if (isHttpError(handler)) return fail(ctx, stage, handler);
    ctx.handler = handler;
    if (ctx.trace) traceHandler(ctx.trace, handler);
    if (filters.has('mapUrl')) {
      const denied = await filters.decide('mapUrl', { ...filterView(ctx), physicalPath: handler.physicalPath, handler: handler.name });
      if (denied) return fail(ctx, stage, denied);
    }

    stage = 'authorizeRequest';
    const decision = authorizeRequest(handler, begun.resolution, authenticated.token, challenges, security);
    if (ctx.trace) traceAccess(ctx.trace, accessFlagsDecision(handler, begun.resolution), decision.acl, (sid) => security.store.nameOf(sid));
    if (!decision.allowed) {
      if (decision.acl) {
        security.audit.write({
          eventId: 4656,
          account: authenticated.token.user.name,
          domain: '',
          sid: authenticated.token.user.sid,
          package: authenticated.token.authPackage,
          clientAddress: connection.remoteAddress,
          object: handler.physicalPath,
          desiredAccess: `0x${decision.acl.desired.toString(16)}`,
          reason: decision.reason,
          traceId: ctx.traceId,
        });
      }
      return fail(ctx, stage, decision.error ?? httpError(403, 0, decision.reason));
    }

    stage = 'executeRequestHandler';
    // A CGI program reads the body itself, streamed (runCgi); only handlers that ignore it have it read and counted here.
    if (handler.kind === 'static' && hasUnannouncedBody(req)) {
      const tooLong = await discardBody(req, begun.resolution.settings.requestFiltering);
      if (tooLong) return fail(ctx, 'beginRequest', tooLong);
    }
    if (ctx.trace && handler.kind === 'static') {
      const { pool, poolAccount } = requestPool(generation, begun.resolution);
      traceStaticIdentity(ctx.trace, pool.name, poolAccount, authenticated.token);
    }
    const refused =
      handler.kind === 'cgi'
        ? await executeCgi(ctx, handler, authenticated.token, begun.resolution, generation)
        : handler.kind === 'module'
          ? await executeModule(ctx, handler, authenticated.token, begun.resolution, generation)
          : handler.kind === 'fastcgi'
            ? await executeFastCgi(ctx, handler, authenticated.token, begun.resolution, generation)
            : await executeRequestHandler(req, res, handler, generation.fileCache);
    if (refused) return fail(ctx, stage, refused);
  } catch (err) {
    generation.log.error({ traceId: ctx.traceId, stage, err }, 'unhandled error in pipeline stage');
    fail(ctx, stage, httpError(500, 0, `unexpected error in ${stage}: ${(err as Error)?.message ?? String(err)}`));
  } finally {
    const ending = endRequest(ctx, generation, bytesAtStart);
    if (ending) await ending;
  }
}
