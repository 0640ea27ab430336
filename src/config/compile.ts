/**
 * Turns a validated configuration into the immutable structure the server reads per request: sites with their
 * bindings, the inheritance nodes along each site's URL namespace, and the virtual-directory map from URL to disk.
 * One CompiledConfig is one configuration generation; a reload builds a new one and swaps it whole.
 */
import path from 'node:path';
import { physicalPathFor } from '../filtering/physical-path.js';
import { isUnder, inheritSettings, type ConfigLevel, type EffectiveSettings } from './inherit.js';
import type { LoadedConfig } from './load.js';
import type { Binding, SettingsInput, W3cField } from './schema.js';

export interface VirtualDirectory {
  /** Site-relative URL path, canonical, lower-cased for matching ('/' for the site root). */
  readonly urlPath: string;
  readonly segmentCount: number;
  readonly physicalPath: string;
  /** The application this directory belongs to. */
  readonly applicationPath: string;
}

export interface Application {
  readonly urlPath: string;
  readonly applicationPool: string;
}

export interface CompiledSite {
  readonly name: string;
  readonly id: number;
  readonly bindings: readonly Binding[];
  readonly tls: { readonly certificate: string; readonly key: string } | undefined;
  /** Inheritance nodes of this site, shallowest first (server defaults included). */
  readonly levels: readonly ConfigLevel[];
  /** Longest path first, so the first match is the deepest. */
  readonly virtualDirectories: readonly VirtualDirectory[];
  readonly applications: readonly Application[];
}

export interface ServerOptions {
  readonly logDirectory: string;
  readonly w3c: { readonly enabled: boolean; readonly fields: readonly W3cField[] | undefined; readonly period: 'daily' | 'hourly' };
  readonly logLevel: string;
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestHeaderBytes: number;
  readonly maxConnections: number | undefined;
  readonly fileCache: { readonly ttlMilliseconds: number; readonly maxFileBytes: number; readonly maxEntries: number };
  readonly filters: readonly { readonly name: string; readonly module: string }[];
  /** The account store; undefined = the state folder's accounts.db (decided by the caller that knows it). */
  readonly accountsDatabase: string | undefined;
  readonly userTokenTtlMs: number;
  /** The audit log; undefined = <logDirectory>/audit.log. */
  readonly auditLog: string;
  readonly passwordHash: 'scrypt' | 'argon2id';
  /** Every pool, DefaultAppPool included, by name as written (compare ignoring case). */
  readonly applicationPools: readonly ApplicationPool[];
  readonly fastCgi: readonly FastCgiApplication[];
}

/** IIS <fastCgi><application> with its defaults filled in. */
export interface FastCgiApplication {
  readonly fullPath: string;
  readonly arguments: readonly string[];
  readonly maxInstances: number;
  readonly queueLength: number;
  readonly requestTimeoutMs: number;
  readonly activityTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly instanceMaxRequests: number;
  readonly environment: Readonly<Record<string, string>>;
}

export interface ApplicationPool {
  readonly name: string;
  /** The OS account its worker runs as when the launcher is root. */
  readonly identity: string;
  /** IIS "Replace a process level token": may start processes as other accounts (CGI as the user). */
  readonly replaceProcessToken: boolean;
}

export const DEFAULT_POOL_IDENTITY = 'www-data';

function applicationPools(input: readonly { name: string; identity?: string; replaceProcessToken?: boolean }[] | undefined): ApplicationPool[] {
  const pools = (input ?? []).map((p) => ({ name: p.name, identity: p.identity ?? DEFAULT_POOL_IDENTITY, replaceProcessToken: p.replaceProcessToken ?? true }));
  if (!pools.some((p) => p.name.toLowerCase() === 'defaultapppool')) pools.unshift({ name: 'DefaultAppPool', identity: DEFAULT_POOL_IDENTITY, replaceProcessToken: true });
  return pools;
}

/** The pool of this name (IIS compares pool names ignoring case). */
export function findPool(server: ServerOptions, name: string): ApplicationPool | undefined {
  const lower = name.toLowerCase();
  return server.applicationPools.find((p) => p.name.toLowerCase() === lower);
}

export interface CompiledConfig {
  readonly loaded: LoadedConfig;
  readonly server: ServerOptions;
  readonly sites: readonly CompiledSite[];
}

/** Where a URL lands: the effective settings and the file-system mapping. */
export interface UrlResolution extends EffectiveSettings {
  readonly site: CompiledSite;
  readonly application: Application;
  readonly virtualDirectory: VirtualDirectory;
  /** Segments of the URL below the virtual directory, to join to its physical path. */
  readonly remainder: readonly string[];
  /** The virtual directory's physical path joined with the remainder (always inside it). */
  readonly physicalPath: string;
  /** The inheritance chain that applied, shallowest first. */
  readonly chain: readonly ConfigLevel[];
}

function canonicalNodePath(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

function segmentsOf(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

const KIND_ORDER: Record<string, number> = { site: 0, application: 1, virtualDirectory: 2, location: 3 };

export function compileConfig(loaded: LoadedConfig, logDirectoryDefault: string): CompiledConfig {
  const input = loaded.input;
  const serverLevel: ConfigLevel = { kind: 'server', urlPath: '', label: 'server defaults', settings: input.defaults, yamlPath: ['defaults'] };
  const sites = input.sites.map((site, siteIndex): CompiledSite => {
    const levels: ConfigLevel[] = [];
    const vdirs: VirtualDirectory[] = [{ urlPath: '/', segmentCount: 0, physicalPath: site.physicalPath, applicationPath: '/' }];
    const applications: Application[] = [{ urlPath: '/', applicationPool: 'DefaultAppPool' }];
    const node = (kind: ConfigLevel['kind'], urlPath: string, label: string, settings: SettingsInput | undefined, yamlPath: (string | number)[]) =>
      levels.push({ kind, urlPath: canonicalNodePath(urlPath), label, settings, yamlPath });
    node('site', '/', `site "${site.name}"`, site.settings, ['sites', siteIndex, 'settings']);
    (site.virtualDirectories ?? []).forEach((vd, i) => {
      node('virtualDirectory', vd.path, `virtual directory ${vd.path}`, vd.settings, ['sites', siteIndex, 'virtualDirectories', i, 'settings']);
      vdirs.push({ urlPath: canonicalNodePath(vd.path), segmentCount: segmentsOf(canonicalNodePath(vd.path)), physicalPath: vd.physicalPath, applicationPath: '/' });
    });
    (site.applications ?? []).forEach((app, i) => {
      const appPath = canonicalNodePath(app.path);
      applications.push({ urlPath: appPath, applicationPool: app.applicationPool ?? 'DefaultAppPool' });
      node('application', app.path, `application ${app.path}`, app.settings, ['sites', siteIndex, 'applications', i, 'settings']);
      if (app.physicalPath) vdirs.push({ urlPath: appPath, segmentCount: segmentsOf(appPath), physicalPath: app.physicalPath, applicationPath: appPath });
      (app.virtualDirectories ?? []).forEach((vd, j) => {
        // Application virtual directories are relative to the application, as in IIS.
        const full = canonicalNodePath(appPath === '/' ? vd.path : appPath + vd.path);
        node('virtualDirectory', full, `virtual directory ${full}`, vd.settings, ['sites', siteIndex, 'applications', i, 'virtualDirectories', j, 'settings']);
        vdirs.push({ urlPath: full, segmentCount: segmentsOf(full), physicalPath: vd.physicalPath, applicationPath: appPath });
      });
    });
    (site.locations ?? []).forEach((loc, i) => node('location', loc.path, `location ${loc.path}`, loc.settings, ['sites', siteIndex, 'locations', i, 'settings']));
    levels.sort((a, b) => segmentsOf(a.urlPath) - segmentsOf(b.urlPath) || (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9));
    vdirs.sort((a, b) => b.segmentCount - a.segmentCount);
    applications.sort((a, b) => segmentsOf(b.urlPath) - segmentsOf(a.urlPath));
    return {
      name: site.name,
      id: site.id ?? siteIndex + 1,
      bindings: site.bindings.map((b) => ({ ...b, host: (b.host ?? '').toLowerCase() })),
      tls: site.tls,
      levels: [serverLevel, ...levels],
      virtualDirectories: vdirs,
      applications,
    };
  });
  const s = input.server ?? {};
  const seconds = (v: number | undefined, d: number) => (v ?? d) * 1000;
  return {
    loaded,
    sites,
    server: {
      logDirectory: s.logging?.directory ?? logDirectoryDefault,
      w3c: { enabled: s.logging?.w3c?.enabled ?? true, fields: s.logging?.w3c?.fields, period: s.logging?.w3c?.period ?? 'daily' },
      logLevel: s.logging?.level ?? 'info',
      keepAliveTimeoutMs: seconds(s.limits?.keepAliveTimeoutSeconds, 120),
      headersTimeoutMs: seconds(s.limits?.headersTimeoutSeconds, 60),
      requestTimeoutMs: seconds(s.limits?.requestTimeoutSeconds, 300),
      maxRequestHeaderBytes: s.limits?.maxRequestHeaderBytes ?? 16384,
      maxConnections: s.limits?.maxConnections,
      fileCache: {
        ttlMilliseconds: s.fileCache?.ttlMilliseconds ?? 1000,
        maxFileBytes: s.fileCache?.maxFileBytes ?? 256 * 1024,
        maxEntries: s.fileCache?.maxEntries ?? 10_000,
      },
      filters: s.filters ?? [],
      accountsDatabase: s.security?.accountsDatabase,
      userTokenTtlMs: seconds(s.security?.userTokenTTL, 900),
      auditLog: s.security?.auditLog ?? path.join(s.logging?.directory ?? logDirectoryDefault, 'audit.log'),
      passwordHash: s.security?.passwordHash ?? 'scrypt',
      applicationPools: applicationPools(s.applicationPools),
      fastCgi: (s.fastCgi ?? []).map((a) => ({
        fullPath: a.fullPath,
        arguments: a.arguments ?? [],
        maxInstances: a.maxInstances ?? 4,
        queueLength: a.queueLength ?? 1000,
        requestTimeoutMs: seconds(a.requestTimeout, 90),
        activityTimeoutMs: seconds(a.activityTimeout, 30),
        idleTimeoutMs: seconds(a.idleTimeout, 300),
        instanceMaxRequests: a.instanceMaxRequests ?? 200,
        environment: a.environment ?? {},
      })),
    },
  };
}

/**
 * Resolves a canonical URL path (decoded, from ParsedTarget) within a site. Pure; the caller caches it.
 * `segments` are the decoded segments of `path`.
 */
export function resolveUrl(config: CompiledConfig, site: CompiledSite, path: string, segments: readonly string[]): UrlResolution {
  const lower = path.toLowerCase();
  const chain = site.levels.filter((level) => level.kind === 'server' || isUnder(lower, level.urlPath));
  const effective = inheritSettings(chain, config.loaded.positionOf);
  const lowerSegments = segments.map((s) => s.toLowerCase());
  const vdir = site.virtualDirectories.find((v) => v.segmentCount === 0 || matchesSegments(lowerSegments, v.urlPath, v.segmentCount)) as VirtualDirectory;
  const application = site.applications.find((a) => isUnder(lower, a.urlPath)) as Application;
  const remainder = segments.slice(vdir.segmentCount);
  return { ...effective, site, application, virtualDirectory: vdir, remainder, physicalPath: physicalPathFor(vdir.physicalPath, remainder), chain };
}

function matchesSegments(lowerSegments: readonly string[], vdirPath: string, count: number): boolean {
  if (lowerSegments.length < count) return false;
  // A folder request '/app/' has the same segments as '/app'; joining them here avoids a string allocation per vdir.
  return '/' + lowerSegments.slice(0, count).join('/') === vdirPath;
}
