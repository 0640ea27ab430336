/**
 * One configuration generation: the compiled configuration and everything derived from it that requests use
 * (URL resolution cache, file cache, filters, error pages, W3C logs). A reload builds a new Generation and swaps
 * it in; requests already running finish on the one they started with.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { resolveUrl, type CompiledConfig, type CompiledSite, type UrlResolution } from '../config/compile.js';
import { parseRequestTarget, type ParsedTarget } from '../filtering/target.js';
import { checkPath, type PathVerdict } from '../filtering/request-filter.js';
import { isHttpError, type HttpError } from '../pipeline/errors.js';
import { FileCache } from '../handlers/static/file-cache.js';
import { FilterHost } from '../filters/host.js';
import { CustomErrorPages } from '../pipeline/error-page.js';
import { DEFAULT_W3C_FIELDS, W3cLog } from '../logging/w3c.js';
import type { TraceDocument } from '../pipeline/trace.js';
import { TraceFileWriter } from '../pipeline/trace-files.js';
import { VERSION } from '../version.js';
import type { SecurityServices } from '../security/services.js';
import type { ProcessSpawner } from '../identity/spawn.js';
import { closeFastCgiPools } from '../handlers/fastcgi/pool.js';
import type { PoolRouting } from './pool-forwarding.js';

/**
 * Finished traces of this worker: the most recent in memory (bounded, so tracing cannot exhaust memory) for the
 * diagnostic endpoint, and every one appended to its site's trace file (pipeline/trace-files.ts) for the CLI and
 * for the traces other pools' workers recorded.
 */
export class TraceStore {
  private readonly traces = new Map<string, TraceDocument>();
  constructor(
    private readonly files: TraceFileWriter | undefined,
    private readonly max = 1000,
  ) {}
  add(doc: TraceDocument): void {
    this.traces.set(doc.id, doc);
    if (this.traces.size > this.max) this.traces.delete(this.traces.keys().next().value as string);
    this.files?.write(doc);
  }
  get(id: string): TraceDocument | undefined {
    return this.traces.get(id);
  }
  /** The last `n` traces kept in memory, oldest first. */
  recent(n: number): TraceDocument[] {
    return n <= 0 ? [] : [...this.traces.values()].slice(-n);
  }
  /** Resolves when every trace added so far is in its file. */
  flush(): Promise<void> {
    return this.files?.flush() ?? Promise.resolve();
  }
}

const RESOLUTION_CACHE_MAX = 10_000;

/** A request path parsed, resolved and checked once per configuration generation. */
export interface ResolvedPath {
  /** Parsed from the path alone: its rawQuery is ''. */
  readonly target: ParsedTarget;
  readonly resolution: UrlResolution;
  readonly verdict: PathVerdict;
}

export class Generation {
  readonly fileCache: FileCache;
  readonly errorPages: CustomErrorPages;
  readonly traces: TraceStore;
  readonly resolvePath: (site: CompiledSite, rawPath: string) => ResolvedPath | HttpError;
  private readonly w3c = new Map<number, W3cLog>();
  private readonly resolutions = new Map<string, UrlResolution>();
  private readonly paths = new Map<string, ResolvedPath | HttpError>();

  private constructor(
    readonly config: CompiledConfig,
    readonly filters: FilterHost,
    readonly log: Logger,
    readonly machineName: string,
    readonly security: SecurityServices,
    readonly spawner: ProcessSpawner,
    /** Front worker only: where requests of other application pools go. */
    readonly poolRouting: PoolRouting | undefined,
  ) {
    this.fileCache = new FileCache(config.server.fileCache);
    this.errorPages = new CustomErrorPages((file, err) => log.warn({ file, err: err.message }, 'custom error page cannot be read; using the built-in page'));
    this.resolvePath = (site, rawPath) => this.resolvePathCached(site, rawPath);
    this.traces = new TraceStore(new TraceFileWriter(config.server.logDirectory, (file, err) => log.error({ file, err: err.message }, 'trace file write failed')));
    if (config.server.w3c.enabled) {
      for (const site of config.sites) {
        this.w3c.set(
          site.id,
          new W3cLog({
            directory: path.join(config.server.logDirectory, `W3SVC${site.id}`),
            fields: config.server.w3c.fields ?? DEFAULT_W3C_FIELDS,
            period: config.server.w3c.period,
            software: `Persona ${VERSION}`,
            onError: (err: Error) => log.error({ site: site.name, err: err.message }, 'W3C log write failed'),
          }),
        );
      }
    }
  }

  static async create(config: CompiledConfig, log: Logger, security: SecurityServices, spawner: ProcessSpawner, poolRouting?: PoolRouting): Promise<Generation> {
    const filters = await FilterHost.load(config.server.filters, log);
    return new Generation(config, filters, log, security.machineName, security, spawner, poolRouting);
  }

  /**
   * Parsing, resolution and the path rules of request filtering are pure per generation, so they are done once
   * per (site, raw path) — refusals included, so a client repeating a bad URL costs a lookup too. The query
   * string is not part of the key: it varies per request and is checked per request.
   */
  private resolvePathCached(site: CompiledSite, rawPath: string): ResolvedPath | HttpError {
    const key = `${site.id} ${rawPath}`;
    let hit = this.paths.get(key);
    if (!hit) {
      const target = parseRequestTarget(rawPath);
      if (isHttpError(target)) {
        hit = target;
      } else {
        const resolution = this.resolve(site, target);
        hit = { target, resolution, verdict: checkPath(target, resolution.settings.requestFiltering) };
      }
      if (this.paths.size >= RESOLUTION_CACHE_MAX) this.paths.delete(this.paths.keys().next().value as string);
      this.paths.set(key, hit);
    }
    return hit;
  }

  /** URL resolution is pure per generation, so it is cached by site and canonical path. */
  private resolve(site: CompiledSite, target: ParsedTarget): UrlResolution {
    const key = `${site.id}\u0000${target.path}`;
    let hit = this.resolutions.get(key);
    if (!hit) {
      hit = resolveUrl(this.config, site, target.path, target.segments);
      if (this.resolutions.size >= RESOLUTION_CACHE_MAX) this.resolutions.delete(this.resolutions.keys().next().value as string);
      this.resolutions.set(key, hit);
    }
    return hit;
  }

  w3cLogFor(site: CompiledSite | undefined): W3cLog | undefined {
    return site ? this.w3c.get(site.id) : undefined;
  }

  async close(): Promise<void> {
    // This generation's FastCGI processes end with it (a reload starts the new generation's on demand).
    closeFastCgiPools(this);
    await Promise.all([...this.w3c.values()].map((l) => l.close()));
    await this.traces.flush();
    this.fileCache.clear();
  }
}
