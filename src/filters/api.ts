/**
 * The filter API: user code that subscribes to pipeline events, as ISAPI filters and IIS native modules do.
 *
 * A filter is an ES module named in `server.filters` whose default export is `register(api)`. It is loaded once per
 * configuration generation and its handlers are called for every request, in configuration order.
 *
 * IDENTITY: filters always run as the *process identity* (the worker's OS account), never as the authenticated
 * user — as in IIS, where filter notifications run before or outside impersonation. A filter that reads a file reads
 * it with the worker's rights, whatever the request's token says. `api.identity` tells which account that is.
 *
 * Events (in pipeline order):
 * - `beginRequest`: after request filtering accepted the URL and the site is chosen; may deny the request.
 * - `authenticateRequest`: after authentication produced the identity; may deny (default 401.4, "denied by filter").
 * - `mapUrl`: after the URL was mapped to a physical path and a handler; may deny.
 * - `log`: the W3C record about to be written; read-only.
 * - `endRequest`: after the response was sent; read-only.
 * A handler that throws or rejects makes the request fail with 500 and a log line naming the filter; it never
 * crashes the server.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { W3cRecord } from '../logging/w3c.js';

export interface FilterRequestView {
  readonly traceId: string;
  readonly method: string;
  /** The request target as received. */
  readonly url: string;
  /** The canonical decoded path, when request filtering has produced it. */
  readonly path: string | undefined;
  readonly headers: Readonly<IncomingHttpHeaders>;
  readonly clientIp: string;
  readonly siteName: string | undefined;
  /** `DOMAIN\user`, '' when anonymous or not yet authenticated. */
  readonly userName: string;
  readonly authType: string;
}

export interface MapUrlView extends FilterRequestView {
  readonly physicalPath: string | undefined;
  readonly handler: string;
}

export interface EndRequestView extends FilterRequestView {
  readonly status: number;
  readonly substatus: number;
}

/** Return this from a handler to stop the request. */
export interface FilterDenial {
  readonly deny: { readonly status?: number; readonly substatus?: number; readonly reason: string };
}
export type FilterVerdict = void | undefined | FilterDenial;

export interface FilterEvents {
  beginRequest: (request: FilterRequestView) => FilterVerdict | Promise<FilterVerdict>;
  authenticateRequest: (request: FilterRequestView) => FilterVerdict | Promise<FilterVerdict>;
  mapUrl: (request: MapUrlView) => FilterVerdict | Promise<FilterVerdict>;
  log: (record: W3cRecord, request: FilterRequestView) => void;
  endRequest: (request: EndRequestView) => void;
}
export type FilterEvent = keyof FilterEvents;

export interface ProcessIdentityView {
  readonly kind: 'process';
  readonly uid: number;
  readonly gid: number;
  readonly userName: string;
}

export interface FilterApi {
  /** The filter's name from the configuration. */
  readonly name: string;
  /** The identity every handler of this filter runs as: the worker process's. */
  readonly identity: ProcessIdentityView;
  on<E extends FilterEvent>(event: E, handler: FilterEvents[E]): void;
  /** Operational log, tagged with the filter's name. */
  readonly log: { info(msg: string, data?: object): void; warn(msg: string, data?: object): void; error(msg: string, data?: object): void };
}

export type FilterRegister = (api: FilterApi) => void | Promise<void>;
