/**
 * Listeners: one HTTP or HTTPS server per distinct (protocol, ip, port) among all sites' bindings. Each listener
 * knows which sites are bound to it (by host) and, for HTTPS, picks the certificate by SNI. Reloads update the
 * listeners in place: unchanged ones keep their sockets (and their keep-alive connections), new ones open, removed
 * ones close.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Socket } from 'node:net';
import { readSecretFile } from '../state/secret-files.js';
import tls from 'node:tls';
import type { CompiledConfig, CompiledSite } from '../config/compile.js';
import type { ListenerSites } from './site-selection.js';

export interface ListenerKey {
  readonly protocol: 'http' | 'https';
  readonly ip: string;
  readonly port: number;
}

export interface ListenerPlan extends ListenerKey {
  readonly key: string;
  readonly sites: ListenerSites;
  /** host → TLS context (HTTPS only); '' is the default certificate. */
  readonly contexts: ReadonlyMap<string, tls.SecureContext>;
}

export function listenerKey(k: ListenerKey): string {
  return `${k.protocol}://${k.ip.includes(':') ? `[${k.ip}]` : k.ip}:${k.port}`;
}

/** Groups bindings into listeners. Pure except for reading TLS files (already validated by the loader). */
export function planListeners(config: CompiledConfig): ListenerPlan[] {
  const plans = new Map<string, { key: ListenerKey; byHost: Map<string, CompiledSite>; fallback?: CompiledSite; contexts: Map<string, tls.SecureContext> }>();
  const contextCache = new Map<CompiledSite, tls.SecureContext>();
  const contextFor = (site: CompiledSite): tls.SecureContext => {
    let ctx = contextCache.get(site);
    if (!ctx) {
      if (!site.tls) throw new Error(`site "${site.name}" has an https binding but no tls certificate`);
      ctx = secureContext({ cert: readSecretFile(site.tls.certificate), key: readSecretFile(site.tls.key) });
      contextCache.set(site, ctx);
    }
    return ctx;
  };
  for (const site of config.sites) {
    for (const b of site.bindings) {
      const key: ListenerKey = { protocol: b.protocol, ip: b.ip, port: b.port };
      const id = listenerKey(key);
      let plan = plans.get(id);
      if (!plan) {
        plan = { key, byHost: new Map(), contexts: new Map() };
        plans.set(id, plan);
      }
      const host = b.host ?? '';
      if (host) plan.byHost.set(host, site);
      else plan.fallback ??= site;
      if (b.protocol === 'https') {
        const ctx = contextFor(site);
        if (host) plan.contexts.set(host, ctx);
        if (!host || !plan.contexts.has('')) plan.contexts.set('', ctx);
      }
    }
  }
  return [...plans.entries()].map(([key, p]) => ({ ...p.key, key, sites: { byHost: p.byHost, fallback: p.fallback, listener: key }, contexts: p.contexts }));
}

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse, sites: ListenerSites) => void;

export interface ServerLimits {
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestHeaderBytes: number;
  readonly maxConnections: number | undefined;
}

/** A live listener. Its plan can be swapped by a reload without closing the socket. */
export class Listener {
  private plan: ListenerPlan;
  readonly server: http.Server;
  private readonly sockets = new Set<Socket>();

  constructor(plan: ListenerPlan, limits: ServerLimits, handler: RequestHandler, onClientError: (err: Error & { code?: string }, socket: Socket) => void) {
    this.plan = plan;
    const options: http.ServerOptions & https.ServerOptions = {
      maxHeaderSize: limits.maxRequestHeaderBytes,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node answers some malformed requests itself; these keep its answers standard and the socket ours.
      requireHostHeader: true,
    };
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => handler(req, res, this.plan.sites);
    if (plan.protocol === 'https') {
      const fallback = plan.contexts.get('');
      this.server = https.createServer(
        {
          ...options,
          // The default certificate answers clients that send no SNI (IP-address URLs); SNI picks the site's.
          ...(fallback ? contextOptionsOf(fallback) : {}),
          SNICallback: (servername, cb) => cb(null, this.plan.contexts.get(servername.toLowerCase()) ?? this.plan.contexts.get('')),
        },
        onRequest,
      );
    } else {
      this.server = http.createServer(options, onRequest);
    }
    if (limits.maxConnections) this.server.maxConnections = limits.maxConnections;
    this.server.on('clientError', onClientError);
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  get key(): string {
    return this.plan.key;
  }

  update(plan: ListenerPlan): void {
    this.plan = plan;
    const fallback = plan.contexts.get('');
    if (fallback && this.server instanceof https.Server) this.server.setSecureContext(contextOptionsOf(fallback));
  }

  /**
   * Starts accepting. With `bound`, the socket was opened by someone else (the launcher, which may bind privileged
   * ports): this process only accepts on it.
   */
  listen(bound?: (key: ListenerKey) => Promise<net.Server>): Promise<void> {
    if (bound) {
      return bound(this.plan).then(
        (handle) =>
          new Promise<void>((resolve, reject) => {
            this.server.once('error', reject);
            this.server.listen(handle, () => {
              this.server.off('error', reject);
              resolve();
            });
          }),
      );
    }
    const host = this.plan.ip === '*' ? '::' : this.plan.ip;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        // '*' on a machine without IPv6 still means "all IPv4 addresses".
        if (this.plan.ip === '*' && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')) {
          this.server.once('error', reject);
          this.server.listen(this.plan.port, '0.0.0.0', () => resolve());
          return;
        }
        reject(err);
      };
      this.server.once('error', onError);
      this.server.listen({ port: this.plan.port, host, ipv6Only: false }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  /** Stops accepting; idle keep-alive connections close now, busy ones after their response (or after graceMs). */
  close(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.sockets) s.destroy();
      }, graceMs);
      timer.unref();
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }
}

// setSecureContext wants the options, not a SecureContext; keep the PEM material next to each context.
const PEM = new WeakMap<tls.SecureContext, tls.SecureContextOptions>();
function contextOptionsOf(ctx: tls.SecureContext): tls.SecureContextOptions {
  return PEM.get(ctx) ?? {};
}
export function secureContext(options: tls.SecureContextOptions): tls.SecureContext {
  const ctx = tls.createSecureContext(options);
  PEM.set(ctx, options);
  return ctx;
}
