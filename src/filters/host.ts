/**
 * Loads filter modules and dispatches pipeline events to them. With no filter subscribed to an event, dispatching
 * it costs one length check, so an unfiltered server pays nothing.
 */
import { pathToFileURL } from 'node:url';
import os from 'node:os';
import type { Logger } from 'pino';
import { httpError, type HttpError } from '../pipeline/errors.js';
import type { FilterApi, FilterEvent, FilterEvents, FilterRegister, FilterVerdict, ProcessIdentityView } from './api.js';

interface Subscription<E extends FilterEvent> {
  readonly filter: string;
  readonly handler: FilterEvents[E];
}

export function processIdentity(): ProcessIdentityView {
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  let userName = String(uid);
  try {
    userName = os.userInfo().username;
  } catch {
    // No passwd entry for this uid (containers): the number is the name.
  }
  return { kind: 'process', uid, gid, userName };
}

const DENY_DEFAULTS: Record<string, { status: number; substatus: number }> = {
  beginRequest: { status: 404, substatus: 0 },
  authenticateRequest: { status: 401, substatus: 4 },
  mapUrl: { status: 401, substatus: 4 },
};

export class FilterHost {
  private readonly subs: { [E in FilterEvent]: Subscription<E>[] } = {
    beginRequest: [],
    authenticateRequest: [],
    mapUrl: [],
    log: [],
    endRequest: [],
  };

  has(event: FilterEvent): boolean {
    return this.subs[event].length > 0;
  }

  static async load(filters: readonly { name: string; module: string }[], log: Logger): Promise<FilterHost> {
    const host = new FilterHost();
    const identity = processIdentity();
    for (const { name, module } of filters) {
      const imported = (await import(pathToFileURL(module).href)) as { default?: unknown };
      if (typeof imported.default !== 'function') throw new Error(`filter "${name}" (${module}) has no default export function register(api)`);
      const child = log.child({ filter: name });
      const api: FilterApi = {
        name,
        identity,
        on: (event, handler) => {
          if (!(event in host.subs)) throw new Error(`filter "${name}" subscribed to unknown event "${String(event)}"`);
          (host.subs[event] as Subscription<typeof event>[]).push({ filter: name, handler });
        },
        log: {
          info: (msg, data) => child.info(data ?? {}, msg),
          warn: (msg, data) => child.warn(data ?? {}, msg),
          error: (msg, data) => child.error(data ?? {}, msg),
        },
      };
      await (imported.default as FilterRegister)(api);
    }
    return host;
  }

  /** Runs the event's handlers in order; the first denial (or failure) ends the request. */
  async decide<E extends 'beginRequest' | 'authenticateRequest' | 'mapUrl'>(event: E, view: Parameters<FilterEvents[E]>[0]): Promise<HttpError | null> {
    for (const sub of this.subs[event] as Subscription<E>[]) {
      let verdict: FilterVerdict;
      try {
        verdict = await (sub.handler as (v: typeof view) => FilterVerdict | Promise<FilterVerdict>)(view);
      } catch (err) {
        return httpError(500, 0, `filter "${sub.filter}" failed in ${event}: ${(err as Error)?.message ?? String(err)}`);
      }
      if (verdict && typeof verdict === 'object' && 'deny' in verdict) {
        const d = DENY_DEFAULTS[event] ?? { status: 403, substatus: 0 };
        const status = verdict.deny.status ?? d.status;
        const substatus = verdict.deny.substatus ?? (verdict.deny.status ? 0 : d.substatus);
        return httpError(status, substatus, `denied by filter "${sub.filter}" in ${event}: ${verdict.deny.reason}`);
      }
    }
    return null;
  }

  /** Read-only notifications: a failing handler is logged and ignored, the response is already decided. */
  notify<E extends 'log' | 'endRequest'>(event: E, log: Logger, ...args: Parameters<FilterEvents[E]>): void {
    for (const sub of this.subs[event] as Subscription<E>[]) {
      try {
        (sub.handler as (...a: typeof args) => void)(...args);
      } catch (err) {
        log.error({ filter: sub.filter, event, err: (err as Error)?.message }, 'filter failed');
      }
    }
  }
}
