/**
 * Checks a schema cannot express: uniqueness across the file, bindings that cannot all be listened on,
 * and files and folders that must exist. IIS finds most of these only when a request arrives (500.19) or
 * when a site fails to start; `persona config test` finds them before the server runs.
 *
 * The checks read the raw value defensively and skip whatever has the wrong shape, so they run even when
 * the schema found problems: the operator gets every problem of the file at once, without duplicates.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync, type Stats } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { ConfigPath, SourceMap } from './positions.js';
import { providedSecretFile } from '../state/secret-files.js';
import { atValue, type ConfigProblem } from './problems.js';

type Obj = Readonly<Record<string, unknown>>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const list = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** PEM files are a few kilobytes; a larger "certificate" is a wrong path (a log, a disk image), not worth reading. */
const MAX_PEM_BYTES = 1 << 20;

export function semanticProblems(root: unknown, directory: string, map: SourceMap): ConfigProblem[] {
  const config = obj(root);
  if (!config) return [];
  const check = new Checks(directory, map);
  check.root = config;
  const sites = list(config.sites);
  check.siteIdentities(sites);
  check.bindings(sites);
  sites.forEach((site, i) => {
    const s = obj(site);
    if (!s) return;
    check.tls(s, i);
    check.folder(s.physicalPath, ['sites', i, 'physicalPath']);
    check.mappedPaths(s, i);
  });
  for (const [path, settings] of settingsBlocks(config)) check.errorPages(settings, path);
  check.filters(obj(config.server)?.filters);
  check.applicationPools(config);
  for (const [path, settings] of settingsBlocks(config)) check.handlers(settings, path);
  return check.problems;
}

/** Every place the inheritable settings bag may be set. */
function* settingsBlocks(config: Obj): Generator<[ConfigPath, unknown]> {
  yield [['defaults'], config.defaults];
  for (const [i, site] of list(config.sites).entries()) {
    const s = obj(site);
    yield [['sites', i, 'settings'], s?.settings];
    for (const [j, app] of list(s?.applications).entries()) {
      const a = obj(app);
      yield [['sites', i, 'applications', j, 'settings'], a?.settings];
      for (const [k, vdir] of list(a?.virtualDirectories).entries()) {
        yield [['sites', i, 'applications', j, 'virtualDirectories', k, 'settings'], obj(vdir)?.settings];
      }
    }
    for (const [k, vdir] of list(s?.virtualDirectories).entries()) yield [['sites', i, 'virtualDirectories', k, 'settings'], obj(vdir)?.settings];
    for (const [k, location] of list(s?.locations).entries()) yield [['sites', i, 'locations', k, 'settings'], obj(location)?.settings];
  }
}

interface BindingFacts {
  readonly path: ConfigPath;
  readonly site: string;
  readonly protocol: string;
  readonly ip: string;
  readonly port: number;
  readonly host: string;
}

/** A URL path that an application, virtual directory or location claims. */
interface Claim {
  readonly kind: 'application' | 'virtual directory' | 'location';
  /** The path as written. */
  readonly written: string;
  /** From the site root: a virtual directory inside an application is relative to it (as in IIS, and compile.ts). */
  readonly url: string;
  readonly path: ConfigPath;
  /** Whether it maps its own folder: two mappings of one URL path compete. */
  readonly hasFolder: boolean;
}

class Checks {
  readonly problems: ConfigProblem[] = [];

  /** The whole configuration, for checks that cross-reference sections (handlers → server.fastCgi). */
  root: Obj | undefined;

  constructor(
    private readonly directory: string,
    private readonly map: SourceMap,
  ) {}

  private report(path: ConfigPath, message: string): void {
    this.problems.push(atValue(this.map, path, message));
  }

  /** "line 12" for cross-references in messages. */
  private line(path: ConfigPath): string {
    return `line ${this.map.nearest(path).line}`;
  }

  /** Pools: unique names (ignoring case, as IIS), never root as identity, and every application's pool defined. */
  applicationPools(config: Obj): void {
    const defined = new Map<string, ConfigPath>([['defaultapppool', ['server']]]);
    list(obj(config.server)?.applicationPools).forEach((pool, i) => {
      const p = obj(pool);
      const name = text(p?.name);
      const at: ConfigPath = ['server', 'applicationPools', i];
      if (name !== undefined) {
        const first = defined.get(name.toLowerCase());
        if (first && first.length > 1) this.report([...at, 'name'], `duplicate application pool '${name}' (first defined at ${this.line(first)})`);
        defined.set(name.toLowerCase(), [...at, 'name']);
      }
      const identity = text(p?.identity);
      if (identity === 'root' || identity === '0') {
        this.report([...at, 'identity'], 'an application pool never runs as root: requests must not be handled with all privileges (pick an unprivileged account, e.g. www-data)');
      } else if (identity !== undefined && !/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(identity)) {
        this.report([...at, 'identity'], `'${identity}' is not an OS account name`);
      }
    });
    list(config.sites).forEach((site, i) => {
      list(obj(site)?.applications).forEach((app, j) => {
        const pool = text(obj(app)?.applicationPool);
        if (pool !== undefined && !defined.has(pool.toLowerCase())) {
          this.report(['sites', i, 'applications', j, 'applicationPool'], `application pool '${pool}' is not defined: add it under server.applicationPools`);
        }
      });
    });
  }

  /** Handler names unique within a list; a scriptProcessor must be an existing file. */
  handlers(settings: unknown, at: ConfigPath): void {
    const names = new Set<string>();
    list(obj(settings)?.handlers).forEach((handler, i) => {
      const h = obj(handler);
      const name = text(h?.name);
      if (name !== undefined) {
        if (names.has(name.toLowerCase())) this.report([...at, 'handlers', i, 'name'], `duplicate handler name '${name}' in this list`);
        names.add(name.toLowerCase());
      }
      if (h?.kind === 'module' && text(h?.module) === undefined) this.report([...at, 'handlers', i, 'kind'], `handler '${name ?? i}' is a module handler without \`module\` (the ES module that serves it)`);
      if (h?.kind === 'module') {
        const file = text(h?.module);
        if (file !== undefined && !existsSync(resolve(this.directory, file))) this.report([...at, 'handlers', i, 'module'], `module '${file}' does not exist`);
      }
      if (h?.kind === 'fastcgi') {
        const processor = text(h?.scriptProcessor);
        const apps = list(obj(this.root?.server)?.fastCgi).map((a) => text(obj(a)?.fullPath));
        if (processor === undefined) this.report([...at, 'handlers', i, 'kind'], `handler '${name ?? i}' is a fastcgi handler without scriptProcessor (the FastCGI program, e.g. /usr/bin/php-cgi)`);
        else if (!apps.includes(processor)) this.report([...at, 'handlers', i, 'scriptProcessor'], `no FastCGI application ${processor} is defined: add { fullPath: ${processor} } under server.fastCgi`);
      }
      const processor = text(h?.scriptProcessor);
      if (processor !== undefined && !existsSync(processor)) this.report([...at, 'handlers', i, 'scriptProcessor'], `scriptProcessor '${processor}' does not exist`);
    });
  }

  siteIdentities(sites: readonly unknown[]): void {
    // IIS site names are case-insensitive, like everything else it compares.
    const names = new Map<string, ConfigPath>();
    const ids = new Map<number, ConfigPath>();
    sites.forEach((site, i) => {
      const s = obj(site);
      const name = text(s?.name);
      if (name !== undefined) {
        const first = names.get(name.toLowerCase());
        if (first) this.report(['sites', i, 'name'], `duplicate site name '${name}' (first used at ${this.line(first)}); site names must be unique, ignoring case`);
        else names.set(name.toLowerCase(), ['sites', i, 'name']);
      }
      const id = s?.id;
      if (typeof id === 'number' && Number.isInteger(id)) {
        const first = ids.get(id);
        if (first) this.report(['sites', i, 'id'], `duplicate site id ${id} (first used at ${this.line(first)})`);
        else ids.set(id, ['sites', i, 'id']);
      }
    });
  }

  bindings(sites: readonly unknown[]): void {
    const all: BindingFacts[] = [];
    sites.forEach((site, i) => {
      const s = obj(site);
      const siteName = text(s?.name) ?? `#${i + 1}`;
      let httpsWithoutTls = s !== undefined && s.tls === undefined;
      list(s?.bindings).forEach((binding, j) => {
        const b = obj(binding);
        if (!b) return;
        const at: ConfigPath = ['sites', i, 'bindings', j];
        const ip = this.ip(b.ip, [...at, 'ip']);
        const host = this.host(b.host, [...at, 'host']);
        const { protocol, port } = b;
        if (protocol === 'https' && httpsWithoutTls) {
          this.report([...at, 'protocol'], `site '${siteName}' has an https binding but no tls: add tls: { certificate: …, key: … } to the site`);
          httpsWithoutTls = false;
        }
        const known = (protocol === 'http' || protocol === 'https') && typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
        if (known && ip !== undefined && host !== undefined) all.push({ path: at, site: siteName, protocol, ip, port, host });
      });
    });

    const seen = new Map<string, BindingFacts>();
    for (const [n, b] of all.entries()) {
      const id = `${b.protocol} ${b.ip}:${b.port}:${b.host}`;
      const first = seen.get(id);
      if (first) {
        this.report(b.path, `binding ${label(b)} is already used by site '${first.site}' (${this.line(first.path)}); each protocol, ip, port and host may be bound once`);
        continue;
      }
      seen.set(id, b);
      // One socket per address and port: it speaks TLS or it does not.
      const clash = all.slice(0, n).find((a) => a.port === b.port && a.protocol !== b.protocol && overlaps(a.ip, b.ip));
      if (clash) {
        this.report([...b.path, 'port'], `port ${b.port} on ${b.ip} is bound with both http and https (the ${clash.protocol} binding is at ${this.line(clash.path)}); one listening socket cannot serve both`);
      }
    }
  }

  /** The ip, normalised for comparison, or undefined when it is not usable. */
  private ip(value: unknown, path: ConfigPath): string | undefined {
    // Not a string, or empty: the schema has said so already.
    if (typeof value !== 'string' || value === '') return undefined;
    if (value === '*') return value;
    const family = isIP(value);
    if (family === 4) return value;
    if (family === 6) {
      // One spelling per address, so that '::1' and '0:0:0:0:0:0:0:1' are seen as the same binding.
      try {
        return new URL(`http://[${value}]/`).hostname.slice(1, -1);
      } catch {
        return value.toLowerCase(); // zone ids ('fe80::1%eth0') have no URL form
      }
    }
    if (/^\[.*\]$/.test(value) && isIP(value.slice(1, -1)) === 6) {
      this.report(path, `ip '${value}': write IPv6 addresses without brackets ('${value.slice(1, -1)}')`);
    } else if (/[a-z]/i.test(value) && !value.includes(':')) {
      this.report(path, `ip '${value}' is not an address: use '*' or an IPv4/IPv6 address, and put a host name in 'host'`);
    } else {
      this.report(path, `ip '${value}' is neither '*' nor a valid IPv4 or IPv6 address`);
    }
    return undefined;
  }

  /** The host, lower-cased ('' for any host), or undefined when it is not a valid host name. */
  private host(value: unknown, path: ConfigPath): string | undefined {
    if (value === undefined || value === '') return '';
    if (typeof value !== 'string') return undefined;
    const why = hostProblem(value);
    if (why) {
      this.report(path, `host '${value}' ${why}`);
      return undefined;
    }
    return value.toLowerCase();
  }

  tls(site: Obj, i: number): void {
    const tls = obj(site.tls);
    if (!tls) return;
    const at: ConfigPath = ['sites', i, 'tls'];
    let certificate: X509Certificate | undefined;
    let key: KeyObject | undefined;
    const certFile = text(tls.certificate);
    if (certFile !== undefined) {
      const read = this.readSmallFile(certFile);
      if (typeof read === 'string') this.report([...at, 'certificate'], `certificate ${read}`);
      else if (!read.bytes.includes('-----BEGIN CERTIFICATE-----')) {
        this.report([...at, 'certificate'], `certificate ${read.shown} is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)`);
      } else {
        try {
          certificate = new X509Certificate(read.bytes);
        } catch (error) {
          this.report([...at, 'certificate'], `certificate ${read.shown} cannot be parsed: ${(error as Error).message}`);
        }
      }
    }
    const keyFile = text(tls.key);
    if (keyFile !== undefined) {
      const read = this.readSmallFile(keyFile);
      if (typeof read === 'string') this.report([...at, 'key'], `key ${read}`);
      else {
        try {
          key = createPrivateKey({ key: read.bytes, format: 'pem' });
        } catch (error) {
          this.report([...at, 'key'], `key ${read.shown} ${keyError(error, read.bytes)}`);
        }
      }
    }
    if (certificate && key && !certificate.checkPrivateKey(key)) {
      this.report([...at, 'key'], `key '${keyFile}' does not belong to certificate '${certFile}'`);
    }
  }

  /** The file's bytes, or why they cannot be had (a phrase that follows the file's role: "certificate …"). */
  private readSmallFile(given: string): { bytes: Buffer; shown: string } | string {
    const file = resolve(this.directory, given);
    const shown = showPath(given, file);
    // Under a launcher the worker may not read the key itself: the launcher handed its bytes over.
    const handed = providedSecretFile(file);
    if (handed) return { bytes: handed, shown };
    const stats = statOf(file);
    if (typeof stats === 'string') return `${shown} ${stats}`;
    if (!stats.isFile()) return `${shown} is not a file`;
    if (stats.size > MAX_PEM_BYTES) return `${shown} is ${stats.size} bytes: too large for a PEM file`;
    try {
      return { bytes: readFileSync(file), shown };
    } catch (error) {
      return `${shown} ${fsReason(error)}`;
    }
  }

  /** physicalPath must be an existing folder: IIS answers 500.19 for every request otherwise. */
  folder(value: unknown, path: ConfigPath): void {
    const given = text(value);
    if (given === undefined) return;
    const folder = resolve(this.directory, given);
    const stats = statOf(folder);
    const shown = showPath(given, folder);
    if (typeof stats === 'string') this.report(path, `physicalPath ${shown} ${stats}`);
    else if (!stats.isDirectory()) this.report(path, `physicalPath ${shown} is not a folder`);
  }

  private file(value: unknown, path: ConfigPath, role: string): void {
    const given = text(value);
    if (given === undefined) return;
    const file = resolve(this.directory, given);
    const stats = statOf(file);
    const shown = showPath(given, file);
    if (typeof stats === 'string') this.report(path, `${role} ${shown} ${stats}`);
    else if (!stats.isFile()) this.report(path, `${role} ${shown} is not a file`);
  }

  mappedPaths(site: Obj, i: number): void {
    const applications: Claim[] = [];
    const directories: Claim[] = [];
    const locations: Claim[] = [];
    const claim = (into: Claim[], kind: Claim['kind'], entry: unknown, path: ConfigPath, under = '/'): void => {
      const written = text(obj(entry)?.path);
      if (written === undefined) return;
      const url = under === '/' ? written : written === '/' ? under : `${under}${written}`;
      into.push({ kind, written, url, path: [...path, 'path'], hasFolder: text(obj(entry)?.physicalPath) !== undefined });
    };
    for (const [j, app] of list(site.applications).entries()) {
      const at: ConfigPath = ['sites', i, 'applications', j];
      claim(applications, 'application', app, at);
      this.folder(obj(app)?.physicalPath, [...at, 'physicalPath']);
      const appUrl = text(obj(app)?.path);
      for (const [k, vdir] of list(obj(app)?.virtualDirectories).entries()) {
        claim(directories, 'virtual directory', vdir, [...at, 'virtualDirectories', k], appUrl);
        this.folder(obj(vdir)?.physicalPath, [...at, 'virtualDirectories', k, 'physicalPath']);
      }
    }
    for (const [k, vdir] of list(site.virtualDirectories).entries()) {
      claim(directories, 'virtual directory', vdir, ['sites', i, 'virtualDirectories', k]);
      this.folder(obj(vdir)?.physicalPath, ['sites', i, 'virtualDirectories', k, 'physicalPath']);
    }
    for (const [k, location] of list(site.locations).entries()) claim(locations, 'location', location, ['sites', i, 'locations', k]);

    for (const claims of [applications, directories, locations]) {
      for (const c of claims) {
        const why = canonicalProblem(c.written);
        if (why) this.report(c.path, `${c.kind} path '${c.written}' is not canonical: ${why}`);
      }
      this.unique(claims);
    }
    for (const d of directories) {
      const rival = applications.find((a) => a.hasFolder && a.url.toLowerCase() === d.url.toLowerCase());
      if (rival) {
        this.report(d.path, `virtual directory ${shownUrl(d)} maps the same URL path as application '${rival.url}' (${this.line(rival.path)}), which has its own physicalPath`);
      }
    }
  }

  /** URL paths are compared ignoring case, as IIS does; the later one in the file is the duplicate. */
  private unique(claims: readonly Claim[]): void {
    const inFileOrder = [...claims].sort((a, b) => {
      const pa = this.map.nearest(a.path);
      const pb = this.map.nearest(b.path);
      return pa.line - pb.line || pa.column - pb.column;
    });
    const seen = new Map<string, Claim>();
    for (const c of inFileOrder) {
      const first = seen.get(c.url.toLowerCase());
      if (first) this.report(c.path, `duplicate ${c.kind} path ${shownUrl(c)}: ${shownUrl(first)} is already defined at ${this.line(first.path)} (URL paths are compared ignoring case)`);
      else seen.set(c.url.toLowerCase(), c);
    }
  }

  errorPages(settings: unknown, path: ConfigPath): void {
    const pages = obj(obj(obj(settings)?.httpErrors)?.pages);
    if (!pages) return;
    for (const [status, file] of Object.entries(pages)) {
      this.file(file, [...path, 'httpErrors', 'pages', status], `error page for ${status}:`);
    }
  }

  filters(value: unknown): void {
    const names = new Map<string, ConfigPath>();
    for (const [j, filter] of list(value).entries()) {
      const f = obj(filter);
      const at: ConfigPath = ['server', 'filters', j];
      this.file(f?.module, [...at, 'module'], 'filter module');
      const name = text(f?.name);
      if (name === undefined) continue;
      const first = names.get(name);
      if (first) this.report([...at, 'name'], `duplicate filter name '${name}' (first used at ${this.line(first)})`);
      else names.set(name, [...at, 'name']);
    }
  }
}

/** `'/v'`, or `'/v' (/app/v)` for a path relative to its application. */
function shownUrl(c: Claim): string {
  return c.written === c.url ? `'${c.url}'` : `'${c.written}' (${c.url})`;
}

function label(b: BindingFacts): string {
  const ip = b.ip.includes(':') ? `[${b.ip}]` : b.ip;
  return `${b.protocol} ${ip}:${b.port}${b.host ? `:${b.host}` : ''}`;
}

function overlaps(a: string, b: string): boolean {
  const wildcard = (ip: string): boolean => ip === '*' || ip === '0.0.0.0' || ip === '::';
  return a === b || wildcard(a) || wildcard(b);
}

/** Why `host` is not a host name per RFC 1123 (labels of letters, digits and inner hyphens), or undefined. */
export function hostProblem(host: string): string | undefined {
  if (host === '*') return 'is not a host name: leave host out (or empty) to match any host';
  if (/^[^:]+:\d+$/.test(host)) return "must not include a port: the binding's port is separate";
  if (host.length > 253) return 'is longer than 253 characters';
  if (host.endsWith('.')) return "must not end with '.'";
  for (const part of host.split('.')) {
    if (part === '') return "has an empty label ('..' or a leading '.')";
    if (part.length > 63) return `has a label longer than 63 characters ('${part.slice(0, 20)}…')`;
    if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/.test(part)) {
      return `is not a valid host name: label '${part}' may hold only letters, digits and inner hyphens (RFC 1123)`;
    }
  }
  return undefined;
}

/**
 * Why an application, virtual-directory or location path is not in the one form the server compares
 * against, or undefined. Request paths are decoded and canonicalised before matching, so a configured
 * path holding '..', '//', '%' or a trailing '/' would silently never match.
 */
export function canonicalProblem(url: string): string | undefined {
  if (!url.startsWith('/') || url === '/') return undefined;
  const reasons: string[] = [];
  if (url.includes('//')) reasons.push("no '//'");
  if (url.endsWith('/')) reasons.push("no trailing '/'");
  if (url.split('/').some((s) => s === '.' || s === '..')) reasons.push("no '.' or '..' segments");
  for (const c of [':', '\\', '%', '?', '#']) if (url.includes(c)) reasons.push(`no '${c}'`);
  if (/[\u0000-\u001f\u007f]/.test(url)) reasons.push('no control characters');
  if (reasons.length === 0) return undefined;
  const slashesOnly = reasons.every((r) => r === "no '//'" || r === "no trailing '/'");
  const fixed = `/${url.split('/').filter((s) => s !== '').join('/')}`;
  return reasons.join(', ') + (slashesOnly ? ` (write '${fixed}')` : '');
}

function statOf(file: string): Stats | string {
  try {
    return statSync(file);
  } catch (error) {
    return fsReason(error);
  }
}

function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'cannot be reached by this process (permission denied)';
  if (code === 'ELOOP') return 'is a symbolic link loop';
  return `cannot be read (${code ?? (error as Error).message})`;
}

/** The path as written, and where it resolved when that differs. */
function showPath(given: string, resolved: string): string {
  return given === resolved ? `'${given}'` : `'${given}' (${resolved})`;
}

function keyError(error: unknown, bytes: Buffer): string {
  const code = (error as NodeJS.ErrnoException).code;
  // OpenSSL reports an encrypted key variously (missing passphrase, "interrupted or cancelled"); the PEM says it plainly.
  if (code === 'ERR_MISSING_PASSPHRASE' || bytes.includes('ENCRYPTED PRIVATE KEY-----') || bytes.includes('Proc-Type: 4,ENCRYPTED')) return 'is protected by a passphrase: give Persona an unencrypted key, readable only by the server account';
  if (bytes.includes('-----BEGIN CERTIFICATE-----') && !bytes.includes('PRIVATE KEY-----')) return 'holds a certificate, not a private key (are certificate and key swapped?)';
  return `is not a PEM private key (${(error as Error).message})`;
}
