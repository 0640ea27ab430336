/**
 * Stage `endRequest`: send the error page when a stage refused the request, then write the W3C log line (when the
 * response is complete, so time-taken and sc-bytes are true) and notify filters. Never throws.
 */
import type { Generation } from '../../server/generation.js';
import type { W3cRecord } from '../../logging/w3c.js';
import type { RequestContext } from '../context.js';
import { filterView } from '../pipeline.js';
import { isAnonymousToken } from '../../security/token.js';
import type { CompiledSite } from '../../config/compile.js';
import type { Trace, TraceDocument } from '../trace.js';

async function sendError(ctx: RequestContext, generation: Generation): Promise<void> {
  const { res, req } = ctx;
  const error = ctx.error;
  if (!error) return;
  if (res.headersSent || res.destroyed) {
    // The handler failed after it began answering: the only honest signal left is to cut the connection.
    res.destroy();
    return;
  }
  const page = await generation.errorPages.render({
    error,
    settings: ctx.resolution?.settings.httpErrors,
    loopback: ctx.connection.loopback,
    stage: ctx.failedStage,
    traceId: ctx.traceId,
    method: req.method ?? '',
    url: req.url ?? '',
    physicalPath: ctx.handler?.physicalPath,
  });
  res.statusCode = error.status;
  if (error.headers) for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', page.contentType);
  res.setHeader('Content-Length', page.body.length);
  // A refused request may still be sending its body; reading it all could take forever (413.1) or desynchronise
  // the connection (400), so such connections are not kept.
  if (error.status === 400 || error.status === 413 || (req.headers['transfer-encoding'] !== undefined && !req.complete)) {
    res.setHeader('Connection', 'close');
  }
  res.end(req.method === 'HEAD' ? undefined : page.body);
}

function record(ctx: RequestContext, generation: Generation, bytesAtStart: { written: number; read: number }): W3cRecord {
  const { req, res, connection } = ctx;
  const error = ctx.error;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return {
    end: new Date(),
    siteName: ctx.site?.name ?? '-',
    computerName: generation.machineName,
    serverIp: connection.localAddress,
    serverPort: connection.localPort,
    clientIp: connection.remoteAddress,
    method: req.method ?? '-',
    // cs-uri-stem is the path as decoded by request filtering when it got that far, else as received.
    uriStem: ctx.target?.path ?? (q >= 0 ? url.slice(0, q) : url),
    uriQuery: q >= 0 ? url.slice(q + 1) : '',
    username: ctx.token && !isAnonymousToken(ctx.token) ? ctx.token.user.name : '',
    version: `HTTP/${req.httpVersion}`,
    userAgent: req.headers['user-agent'],
    cookie: req.headers.cookie,
    referer: req.headers.referer,
    host: req.headers.host,
    status: res.statusCode,
    substatus: error?.substatus ?? 0,
    win32Status: error?.win32Status ?? 0,
    bytesSent: req.socket.bytesWritten - bytesAtStart.written,
    bytesReceived: req.socket.bytesRead - bytesAtStart.read,
    timeTakenMs: Math.round(Number(process.hrtime.bigint() - ctx.startedAt) / 1e6),
    // x-trace-id is the request's id whether or not the URL is traced: where it is, it names the trace; everywhere it
    // ties the line to the audit events, error pages and operational log lines that carry the same id.
    traceId: ctx.traceId,
  };
}

/** The trace's last line (the final status, as logged) and the document that is kept. */
function finishTrace(ctx: RequestContext, trace: Trace, rec: W3cRecord, site: CompiledSite): TraceDocument {
  trace.record(
    'endRequest',
    `sent ${rec.status}.${rec.substatus}, win32 status ${rec.win32Status}`,
    `${ctx.error ? `refused in ${ctx.failedStage ?? 'an unknown stage'} (its line above has the reason)` : 'completed'}; time taken ${rec.timeTakenMs} ms`,
  );
  return {
    id: ctx.traceId,
    time: rec.end.toISOString(),
    siteId: site.id,
    site: site.name,
    method: rec.method,
    url: rec.uriStem,
    clientIp: rec.clientIp,
    user: rec.username ?? '',
    status: rec.status,
    substatus: rec.substatus,
    win32Status: rec.win32Status,
    timeTakenMs: rec.timeTakenMs,
    entries: trace.entries,
  };
}

/** Synchronous unless an error page must be rendered, so a successful request pays for no extra promise. */
export function endRequest(ctx: RequestContext, generation: Generation, bytesAtStart: { written: number; read: number }): Promise<void> | void {
  if (!ctx.error) return afterResponse(ctx, generation, bytesAtStart);
  return sendError(ctx, generation).then(
    () => afterResponse(ctx, generation, bytesAtStart),
    (err: unknown) => {
      generation.log.error({ traceId: ctx.traceId, err }, 'could not send the error response');
      ctx.res.destroy();
      afterResponse(ctx, generation, bytesAtStart);
    },
  );
}

function afterResponse(ctx: RequestContext, generation: Generation, bytesAtStart: { written: number; read: number }): void {
  const finish = (): void => {
    // The pool's worker that served a forwarded request logs it; here it would be counted twice.
    if (ctx.forwardedTo !== undefined && !ctx.error) return;
    try {
      const rec = record(ctx, generation, bytesAtStart);
      generation.w3cLogFor(ctx.site)?.write(rec);
      if (ctx.error && ctx.error.status >= 500) {
        generation.log.error({ traceId: ctx.traceId, status: ctx.error.status, substatus: ctx.error.substatus, stage: ctx.failedStage, reason: ctx.error.reason, url: ctx.req.url }, 'request failed');
      } else if (ctx.error) {
        generation.log.debug({ traceId: ctx.traceId, status: ctx.error.status, substatus: ctx.error.substatus, stage: ctx.failedStage, reason: ctx.error.reason }, 'request refused');
      }
      if (ctx.trace && ctx.site) generation.traces.add(finishTrace(ctx, ctx.trace, rec, ctx.site));
      const filters = generation.filters;
      if (filters.has('log')) filters.notify('log', generation.log, rec, filterView(ctx));
      if (filters.has('endRequest')) filters.notify('endRequest', generation.log, { ...filterView(ctx), status: rec.status, substatus: rec.substatus });
    } catch (err) {
      generation.log.error({ traceId: ctx.traceId, err }, 'endRequest failed');
    }
  };
  // The log line is written when the response is complete, so time-taken and sc-bytes are true.
  if (ctx.res.writableFinished || ctx.res.destroyed) finish();
  else ctx.res.once('close', finish);
}
