/**
 * `persona config show --url URL`: the effective configuration for a URL and, for every value, the level it came
 * from. Built from the same functions the server uses per request (site selection, target parsing, resolveUrl,
 * request filtering), so what it prints is what the server does.
 */
import { isIP } from 'node:net';
import { checkRequestFiltering } from '../filtering/request-filter.js';
import { parseRequestTarget, type ParsedTarget } from '../filtering/target.js';
import { isHttpError, statusLabel } from '../pipeline/errors.js';
import { hostName } from '../server/site-selection.js';
import type { CompiledConfig, CompiledSite, UrlResolution } from './compile.js';
import { resolveUrl } from './compile.js';
import { isPlainObject, type ValueOrigin } from './inherit.js';
import type { Binding } from './schema.js';

export interface ValueReport {
  readonly property: string;
  readonly value: unknown;
  readonly level: string;
  readonly position: string | undefined;
}

export interface UrlReport {
  readonly url: string;
  readonly site: { readonly name: string; readonly id: number; readonly binding: string };
  readonly application: { readonly path: string; readonly applicationPool: string };
  readonly virtualDirectory: { readonly path: string; readonly physicalPath: string };
  readonly physicalPath: string;
  readonly chain: readonly string[];
  readonly requestFiltering: string;
  readonly values: readonly ValueReport[];
}

function bindingText(b: Binding): string {
  return `${b.protocol} ${b.ip}:${b.port}${b.host ? ` host ${b.host}` : ''}`;
}

/** The site that would answer a URL: the same rules as the listeners (exact host first, then the host-less binding). */
export function siteForUrl(config: CompiledConfig, url: URL): { site: CompiledSite; binding: Binding } | undefined {
  const protocol = url.protocol.replace(':', '');
  const port = url.port ? Number(url.port) : protocol === 'https' ? 443 : 80;
  const host = hostName(url.host);
  // A host name could resolve to any of the binding addresses; an IP literal must be the binding's (or '*').
  const ipMatches = (b: Binding) => b.ip === '*' || isIP(host) === 0 || b.ip === host;
  const candidates = config.sites.flatMap((site) => site.bindings.filter((b) => b.protocol === protocol && b.port === port && ipMatches(b)).map((binding) => ({ site, binding })));
  return candidates.find((c) => c.binding.host === host) ?? candidates.find((c) => !c.binding.host);
}

function flatten(value: unknown, prefix: string, out: [string, unknown][]): void {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.push([prefix, value]);
  }
}

function originOf(origins: ReadonlyMap<string, ValueOrigin>, property: string): ValueOrigin | undefined {
  for (let p = property; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const o = origins.get(p);
    if (o) return o;
  }
  return undefined;
}

export interface ResolvedUrl {
  readonly url: URL;
  readonly site: CompiledSite;
  readonly binding: Binding;
  readonly target: ParsedTarget;
  readonly resolution: UrlResolution;
}

/** The site, target and resolution the server would use for an absolute URL, or why there is none. */
export function resolveForUrl(config: CompiledConfig, rawUrl: string): ResolvedUrl | { error: string } {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { error: `"${rawUrl}" is not an absolute URL (expected e.g. http://127.0.0.1:8080/path)` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `unsupported scheme ${url.protocol} (http or https)` };
  const found = siteForUrl(config, url);
  if (!found) return { error: `no site is bound to ${url.protocol}//${url.host} (404.1)` };
  // The URL class normalises dot segments and escapes; the server sees the raw target, so rebuild it from the input.
  const afterHost = rawUrl.slice(rawUrl.indexOf('//') + 2);
  const slash = afterHost.indexOf('/');
  const rawTarget = slash >= 0 ? afterHost.slice(slash).split('#')[0]! : '/';
  const target = parseRequestTarget(rawTarget);
  if (isHttpError(target)) return { error: `request filtering refuses the URL: ${statusLabel(target.status, target.substatus)} ${target.reason}` };
  return { url, site: found.site, binding: found.binding, target, resolution: resolveUrl(config, found.site, target.path, target.segments) };
}

export function describeUrl(config: CompiledConfig, rawUrl: string): UrlReport | { error: string } {
  const resolved = resolveForUrl(config, rawUrl);
  if ('error' in resolved) return resolved;
  const { target, resolution } = resolved;
  const found = { site: resolved.site, binding: resolved.binding };
  const refused = checkRequestFiltering({ method: 'GET', target, headers: {}, contentLength: undefined }, resolution.settings.requestFiltering);
  const leaves: [string, unknown][] = [];
  flatten(resolution.settings, '', leaves);
  return {
    url: rawUrl,
    site: { name: found.site.name, id: found.site.id, binding: bindingText(found.binding) },
    application: { path: resolution.application.urlPath, applicationPool: resolution.application.applicationPool },
    virtualDirectory: { path: resolution.virtualDirectory.urlPath, physicalPath: resolution.virtualDirectory.physicalPath },
    physicalPath: resolution.physicalPath,
    chain: resolution.chain.map((l) => l.label),
    requestFiltering: refused ? `refused: ${statusLabel(refused.status, refused.substatus)} ${refused.reason}` : 'accepted (GET, no body)',
    values: leaves.map(([property, value]) => {
      const origin = originOf(resolution.origins, property);
      const pos = origin?.position;
      return { property, value, level: origin?.level.label ?? 'built-in default', position: pos ? `${pos.file}:${pos.line}:${pos.column}` : undefined };
    }),
  };
}

export function formatUrlReport(r: UrlReport): string {
  const lines = [
    `URL                ${r.url}`,
    `Site               "${r.site.name}" (id ${r.site.id}) via binding ${r.site.binding}`,
    `Application        ${r.application.path} (pool ${r.application.applicationPool})`,
    `Virtual directory  ${r.virtualDirectory.path} → ${r.virtualDirectory.physicalPath}`,
    `Physical path      ${r.physicalPath}`,
    `Inheritance chain  ${r.chain.join(' → ')}`,
    `Request filtering  ${r.requestFiltering}`,
    '',
    'Effective settings (value — where it was set):',
  ];
  const width = Math.max(...r.values.map((v) => v.property.length));
  for (const v of r.values) {
    lines.push(`  ${v.property.padEnd(width)}  ${JSON.stringify(v.value)}  — ${v.level}${v.position ? ` (${v.position})` : ''}`);
  }
  return lines.join('\n');
}
