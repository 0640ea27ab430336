/**
 * Stage `beginRequest`: choose the site by binding, parse the request target exactly once, resolve the effective
 * configuration for the URL, and apply request filtering. Pure apart from the resolution cache it is given.
 */
import type { IncomingMessage } from 'node:http';
import type { CompiledSite, UrlResolution } from '../../config/compile.js';
import type { ParsedTarget } from '../../filtering/target.js';
import { checkRequestFiltering } from '../../filtering/request-filter.js';
import type { ResolvedPath } from '../../server/generation.js';
import { selectSite, type ListenerSites } from '../../server/site-selection.js';
import { httpError, isHttpError, type HttpError } from '../errors.js';

export interface BeginRequestResult {
  readonly site: CompiledSite;
  readonly target: ParsedTarget;
  readonly resolution: UrlResolution;
}

/** Parses, resolves and path-checks the part of the target before '?' (cached by the generation). */
export type PathResolver = (site: CompiledSite, rawPath: string) => ResolvedPath | HttpError;

/** Partial results survive a refusal so that the error page and the log know as much as was learnt. */
export interface BeginRequestRefusal {
  readonly error: HttpError;
  readonly site: CompiledSite | undefined;
  readonly target: ParsedTarget | undefined;
  readonly resolution: UrlResolution | undefined;
}

function contentLengthOf(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function beginRequest(req: IncomingMessage, sites: ListenerSites, resolvePath: PathResolver): BeginRequestResult | BeginRequestRefusal {
  const site = selectSite(sites, req.headers.host);
  if (!site) {
    const host = req.headers.host ?? '(none)';
    return { error: httpError(404, 1, `no site is bound to this address for host "${host.slice(0, 100)}"`), site, target: undefined, resolution: undefined };
  }
  const url = req.url ?? '';
  const question = url.indexOf('?');
  // The query string is not part of what is cached; a fragment is refused wherever it stands, so a target with
  // one in its query is given whole to the parser, which refuses it.
  const pathPart = question < 0 || url.includes('#', question) ? url : url.slice(0, question);
  const resolved = resolvePath(site, pathPart);
  if (isHttpError(resolved)) return { error: resolved, site, target: undefined, resolution: undefined };
  const resolution = resolved.resolution;
  const target: ParsedTarget = pathPart === url ? resolved.target : { ...resolved.target, rawQuery: url.slice(question + 1) };
  const refused = checkRequestFiltering(
    { method: req.method ?? 'GET', target, headers: req.headers, contentLength: contentLengthOf(req) },
    resolution.settings.requestFiltering,
    resolved.verdict,
  );
  if (refused) return { error: refused, site, target, resolution };
  return { site, target, resolution };
}

export function isRefusal(result: BeginRequestResult | BeginRequestRefusal): result is BeginRequestRefusal {
  return 'error' in result;
}
