/**
 * Which site answers a request: among the bindings on the listener that accepted it, the one whose host equals the
 * Host header wins; else the binding with no host. Pure, so it can be tested and explained.
 */
import type { CompiledSite } from '../config/compile.js';

export interface ListenerSites {
  /** host (lower-case) → site, for bindings with a host name. */
  readonly byHost: ReadonlyMap<string, CompiledSite>;
  /** The site bound with an empty host, if any. */
  readonly fallback: CompiledSite | undefined;
  /** The listener's key (protocol://ip:port): a forwarded request names it so the pool worker selects alike. */
  readonly listener?: string;
}

/** The host name of a Host header value, lower-cased, without port or IPv6 brackets. */
export function hostName(header: string | undefined): string {
  if (!header) return '';
  let host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(1, end) : host;
  }
  const colon = host.indexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

export function selectSite(sites: ListenerSites, hostHeader: string | undefined): CompiledSite | undefined {
  if (sites.byHost.size > 0) {
    const match = sites.byHost.get(hostName(hostHeader));
    if (match) return match;
  }
  return sites.fallback;
}
