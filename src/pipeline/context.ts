/**
 * The request context: what the pipeline knows about one request. Stages receive it read-only and return their
 * result; only the pipeline runner (pipeline.ts) writes the fields, one per stage, in stage order.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledSite, UrlResolution } from '../config/compile.js';
import type { ParsedTarget } from '../filtering/target.js';
import type { HttpError } from './errors.js';
import type { ConnectionInfo } from '../server/connection.js';
import type { HandlerMapping } from './stages/map-request-handler.js';
import type { Trace } from './trace.js';
import type { Token } from '../security/token.js';


export const STAGES = [
  'accept',
  'beginRequest',
  'authenticateRequest',
  'mapRequestHandler',
  'authorizeRequest',
  'executeRequestHandler',
  'endRequest',
] as const;
export type StageName = (typeof STAGES)[number];

export interface RequestContext {
  readonly traceId: string;
  readonly startedAt: bigint;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly connection: ConnectionInfo;
  site: CompiledSite | undefined;
  target: ParsedTarget | undefined;
  resolution: UrlResolution | undefined;
  /** The authenticated identity, once authenticateRequest has run. */
  token: Token | undefined;
  handler: HandlerMapping | undefined;
  error: HttpError | undefined;
  /** The stage that produced `error`, for detailed error pages and logs. */
  failedStage: StageName | undefined;
  trace: Trace | undefined;
  /** The pool whose worker answered this request (forwarded by the front worker): that worker writes its log line. */
  forwardedTo: string | undefined;
}
