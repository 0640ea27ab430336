/**
 * The running server: the current configuration generation and the listeners its bindings need. It loads,
 * validates and compiles configuration, opens listeners, and swaps generations on reload — keeping the old one
 * (and serving with it) when the new file is invalid.
 */
import { currentAccountSpawner } from '../identity/current-account-spawner.js';
import type { ProcessSpawner } from '../identity/spawn.js';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { loadConfigFile, formatProblems, type ConfigProblem } from '../config/load.js';
import { compileConfig, type CompiledConfig } from '../config/compile.js';
import { handleRequest } from '../pipeline/pipeline.js';
import { builtInPage } from '../pipeline/error-page.js';
import { httpError, reasonPhrase } from '../pipeline/errors.js';
import { connectionInfo } from './connection.js';
import { Generation } from './generation.js';
import { Listener, planListeners, type ListenerKey } from './listeners.js';
import http from 'node:http';
import { rm } from 'node:fs/promises';
import { decodeFacts, FORWARDED_HEADER, FORWARDED_MAC_HEADER, type PoolRouting } from './pool-forwarding.js';
import type { ListenerSites } from './site-selection.js';
import type net from 'node:net';
import { closeSecurity, type SecurityServices } from '../security/services.js';

export interface ServerOptions {
  readonly configFile: string;
  readonly logDirectory: string;
  readonly log: Logger;
  /** Opens the security services once, from the first configuration (account store path, token TTL, audit log). */
  readonly openSecurity: (config: CompiledConfig) => SecurityServices;
  /** Front worker: requests of other application pools go to their workers. */
  readonly poolRouting?: PoolRouting;
  /** Pool worker: no listening sockets of its own; requests arrive forwarded by the front worker on this socket. */
  readonly forwarded?: { readonly socketPath: string; readonly key: Buffer };
  /** A worker's listening sockets come from the launcher (which can bind privileged ports); default: bind here. */
  readonly bindListener?: (key: ListenerKey) => Promise<net.Server>;
  /** Starts CGI programs (as other OS accounts where it can); default: this process's own account only. */
  readonly spawner?: ProcessSpawner;
}

export type ReloadResult = { readonly ok: true; readonly listeners: string[] } | { readonly ok: false; readonly problems: string };

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(formatProblems(problems));
  }
}

async function loadAndCompile(options: ServerOptions): Promise<CompiledConfig> {
  const loaded = await loadConfigFile(options.configFile);
  if ('problems' in loaded) throw new ConfigError(loaded.problems);
  return compileConfig(loaded, options.logDirectory);
}

export class PersonaServer {
  private generation!: Generation;
  private security!: SecurityServices;
  private readonly listeners = new Map<string, Listener>();
  private reloading: Promise<ReloadResult> | undefined;
  private forwardedServer: http.Server | undefined;

  private readonly spawner: ProcessSpawner;

  private constructor(private readonly options: ServerOptions) {
    this.spawner = options.spawner ?? currentAccountSpawner();
  }

  static async start(options: ServerOptions): Promise<PersonaServer> {
    const server = new PersonaServer(options);
    const config = await loadAndCompile(options);
    server.security = options.openSecurity(config);
    server.generation = await Generation.create(config, options.log, server.security, server.spawner, options.poolRouting);
    try {
      if (options.forwarded) await server.listenForwarded(options.forwarded);
      else await server.applyListeners(config);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  get securityServices(): SecurityServices {
    return this.security;
  }

  get config(): CompiledConfig {
    return this.generation.config;
  }

  get listenerKeys(): string[] {
    return [...this.listeners.keys()];
  }

  private onClientError = (err: Error & { code?: string }, socket: Socket): void => {
    // Errors before a request exists (malformed request line, headers over the limit): IIS's HTTP.sys answers these
    // itself and logs them to httperr; we answer with a short page and the operational log.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'HPE_URI_TOO_LONG' ? 414 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const info = connectionInfo(socket);
    const reason = `the request could not be parsed (${err.code ?? 'error'}: ${err.message})`;
    const page = builtInPage({
      error: httpError(status, 0, reason),
      settings: undefined,
      loopback: info.loopback,
      stage: 'accept',
      traceId: '-',
      method: '-',
      url: '-',
      physicalPath: undefined,
    });
    this.generation.log.info({ client: info.remoteAddress, status, code: err.code }, 'malformed request refused before the pipeline');
    socket.write(
      `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nContent-Type: ${page.contentType}\r\nContent-Length: ${page.body.length}\r\nConnection: close\r\n\r\n`,
    );
    socket.end(page.body);
  };

  /**
   * A pool worker's only listener: the Unix socket the front worker forwards this pool's requests to. The client's
   * connection facts come from the MACed header (pool-forwarding.ts); a request without a valid one is refused.
   */
  private async listenForwarded(forwarded: { readonly socketPath: string; readonly key: Buffer }): Promise<void> {
    const sitesByListener = new WeakMap<Generation, Map<string, ListenerSites>>();
    const sitesFor = (generation: Generation, key: string): ListenerSites => {
      let map = sitesByListener.get(generation);
      if (!map) sitesByListener.set(generation, (map = new Map(planListeners(generation.config).map((p) => [p.key, p.sites]))));
      return map.get(key) ?? { byHost: new Map(), fallback: undefined };
    };
    const limits = this.generation.config.server;
    const server = http.createServer({ maxHeaderSize: limits.maxRequestHeaderBytes, keepAliveTimeout: limits.keepAliveTimeoutMs, requireHostHeader: true }, (req, res) => {
      const facts = decodeFacts(req.headers[FORWARDED_HEADER], req.headers[FORWARDED_MAC_HEADER], forwarded.key);
      if (!facts) {
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
        res.end('not a request forwarded by the front worker\n');
        return;
      }
      const certificate = facts.certificate === undefined ? undefined : Buffer.from(facts.certificate, 'base64');
      Object.assign(connectionInfo(req.socket), {
        remoteAddress: facts.remoteAddress,
        remotePort: facts.remotePort,
        localAddress: facts.localAddress,
        localPort: facts.localPort,
        secure: facts.secure,
        loopback: facts.loopback,
        localCertificate: () => certificate,
      });
      void handleRequest(req, res, this.generation, sitesFor(this.generation, facts.listener));
    });
    await rm(forwarded.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(forwarded.socketPath, () => resolve());
    });
    this.forwardedServer = server;
  }

  private async applyListeners(config: CompiledConfig): Promise<void> {
    const plans = planListeners(config);
    const wanted = new Set(plans.map((p) => p.key));
    const opened: Listener[] = [];
    try {
      for (const plan of plans) {
        const existing = this.listeners.get(plan.key);
        if (existing) continue;
        const listener = new Listener(
          plan,
          config.server,
          (req, res, sites) => {
            void handleRequest(req, res, this.generation, sites);
          },
          this.onClientError,
        );
        await listener.listen(this.options.bindListener);
        opened.push(listener);
      }
    } catch (err) {
      // All or nothing: a reload that cannot open one of its listeners leaves the old set untouched.
      await Promise.all(opened.map((l) => l.close(0)));
      const e = err as NodeJS.ErrnoException;
      throw new Error(`cannot listen: ${e.message}${e.code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}`);
    }
    for (const l of opened) this.listeners.set(l.key, l);
    for (const plan of plans) this.listeners.get(plan.key)?.update(plan);
    for (const [key, listener] of this.listeners) {
      if (!wanted.has(key)) {
        this.listeners.delete(key);
        void listener.close(5000);
      }
    }
  }

  /** Reloads the configuration file; an invalid file keeps the running configuration. One reload at a time. */
  reload(): Promise<ReloadResult> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    const log = this.options.log;
    let next: Generation | undefined;
    try {
      const config = await loadAndCompile(this.options);
      next = await Generation.create(config, log, this.security, this.spawner, this.options.poolRouting);
      if (!this.options.forwarded) await this.applyListeners(config);
    } catch (err) {
      void next?.close();
      const problems = err instanceof ConfigError ? err.message : (err as Error).message;
      log.error({ problems }, 'reload refused: the new configuration is invalid; still serving the previous one');
      return { ok: false, problems };
    }
    const previous = this.generation;
    // The security services live for the process (the CLI shares the store): say so rather than ignore a change.
    const before = previous.config.server;
    const after = next.config.server;
    const fixed = (['accountsDatabase', 'userTokenTtlMs', 'auditLog', 'passwordHash'] as const).filter((k) => before[k] !== after[k]);
    if (fixed.length) log.warn({ settings: fixed.map((k) => `server.security (${k})`) }, 'these settings take effect at the next start, not on reload');
    this.generation = next;
    // Let requests that started on the old generation finish their log lines before closing its files.
    setTimeout(() => void previous.close(), 2000).unref();
    log.info({ listeners: this.listenerKeys }, 'configuration reloaded');
    return { ok: true, listeners: this.listenerKeys };
  }

  async stop(): Promise<void> {
    if (this.forwardedServer) {
      const server = this.forwardedServer;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
    }
    await Promise.all([...this.listeners.values()].map((l) => l.close(2000)));
    this.listeners.clear();
    await this.generation?.close();
    if (this.security) await closeSecurity(this.security);
  }
}
