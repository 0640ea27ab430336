/**
 * Stage `mapRequestHandler`: decide what serves the URL and which access it needs. Runs before authorizeRequest
 * (unlike IIS 7's event order) because authorization needs to know what the request will do: read a file, list a
 * folder or run a script; IIS does the same through each handler's `requireAccess`.
 * Configured handler mappings (CGI) first, then the static file handler.
 */
import path from 'node:path';
import type { AccessFlag, HandlerInput, Settings } from '../../config/schema.js';
import { scriptCandidates } from '../../handlers/handler-mappings.js';
import type { FileInfo } from '../../handlers/static/file-cache.js';
import type { UrlResolution } from '../../config/compile.js';
import type { ParsedTarget } from '../../filtering/target.js';
import { mapStatic, requiredAccess, type StaticMapping, type StaticTarget } from '../../handlers/static/map.js';
import type { FileCache } from '../../handlers/static/file-cache.js';
import { httpError, isHttpError, Win32, type HttpError } from '../errors.js';

export type HandlerMapping = StaticHandler | CgiHandler | ModuleHandler | FastCgiHandler;

export interface StaticHandler {
  readonly kind: 'static';
  readonly name: string;
  readonly mapping: StaticMapping;
  readonly target: StaticTarget;
  /** The access flag the handler needs, or null when it reads nothing (a redirect). */
  readonly requiredAccess: AccessFlag | null;
  readonly physicalPath: string;
}

/** A CGI program (RFC 3875) found through a handler mapping. */
export interface CgiHandler {
  readonly kind: 'cgi';
  /** The mapping's name, as IIS logs and explains it. */
  readonly name: string;
  readonly mapping: HandlerInput;
  /** The script file (its realPath is what the ACL check and the process use). */
  readonly script: FileInfo;
  readonly physicalPath: string;
  /** URL path of the script (SCRIPT_NAME) and what follows it (PATH_INFO, '' when nothing). */
  readonly scriptName: string;
  readonly pathInfo: string;
  /** Run directly: `execute`; through a scriptProcessor (an interpreter): `script`. */
  readonly requiredAccess: 'execute' | 'script';
  /** `nph-` scripts write the whole HTTP response themselves (RFC 3875 §5). */
  readonly nph: boolean;
  readonly documentRoot: string;
  readonly settings: Settings;
}

/** A script served by a FastCGI application (handlers/fastcgi): `mapping.scriptProcessor` names it. */
export interface FastCgiHandler extends Omit<CgiHandler, 'kind' | 'nph' | 'requiredAccess'> {
  readonly kind: 'fastcgi';
  readonly requiredAccess: 'script';
}

/** A JS handler module (handlers/module) serving the URL in process, impersonating per the `identity` setting. */
export interface ModuleHandler {
  readonly kind: 'module';
  readonly name: string;
  readonly mapping: HandlerInput;
  /** The absolute module file. */
  readonly module: string;
  /** The matched file, when resourceType is File (the ACL is checked on it); undefined for Unspecified. */
  readonly script: FileInfo | undefined;
  readonly physicalPath: string;
  readonly scriptName: string;
  readonly pathInfo: string;
  readonly requiredAccess: 'script';
  readonly settings: Settings;
}

const HANDLER_NAMES: Record<StaticMapping['kind'], string> = {
  file: 'StaticFile',
  listing: 'DirectoryListing',
  redirect: 'FolderRedirect',
};

export async function mapRequestHandler(target: ParsedTarget, resolution: UrlResolution, cache: FileCache, method = 'GET'): Promise<HandlerMapping | HttpError> {
  const script = await mapScript(target, resolution, cache, method);
  if (script) return script;
  const vdir = resolution.virtualDirectory;
  const physicalPath = resolution.physicalPath;
  const staticTarget: StaticTarget = {
    physicalPath,
    containmentRoot: vdir.physicalPath,
    urlPath: target.path,
    trailingSlash: target.trailingSlash,
    rawPath: target.rawPath,
    rawQuery: target.rawQuery,
    settings: resolution.settings,
  };
  const mapping = await mapStatic(staticTarget, cache);
  if (isHttpError(mapping)) return mapping;
  return {
    kind: 'static',
    name: HANDLER_NAMES[mapping.kind],
    mapping,
    target: staticTarget,
    requiredAccess: requiredAccess(mapping),
    physicalPath: mapping.kind === 'file' ? mapping.file.physicalPath : physicalPath,
  };
}

/**
 * The leftmost segment a handler mapping matches that is a file inside the virtual directory: the script; the
 * segments after it are PATH_INFO. Folders are passed over (a folder named x.cgi is not a script); a candidate that
 * does not exist ends the search when it is the last segment (the request is for a missing script: 404).
 */
async function mapScript(target: ParsedTarget, resolution: UrlResolution, cache: FileCache, method: string): Promise<CgiHandler | ModuleHandler | FastCgiHandler | HttpError | undefined> {
  const candidates = scriptCandidates(resolution.settings.handlers, resolution.remainder, method);
  const vdir = resolution.virtualDirectory;
  for (const { handler, index } of candidates) {
    const physicalPath = path.join(vdir.physicalPath, ...resolution.remainder.slice(0, index + 1));
    const below = resolution.remainder.length - index - 1;
    // The URL segments of the script: the part of target.segments before the path info.
    const scriptSegments = target.segments.slice(0, target.segments.length - below);
    const pathInfoSegments = target.segments.slice(target.segments.length - below);
    const scriptName = `/${scriptSegments.join('/')}`;
    const pathInfo = pathInfoSegments.length ? `/${pathInfoSegments.join('/')}${target.trailingSlash ? '/' : ''}` : '';
    if (handler.kind === 'module' && handler.resourceType === 'Unspecified') {
      return { kind: 'module', name: handler.name, mapping: handler, module: handler.module ?? '', script: undefined, physicalPath, scriptName, pathInfo, requiredAccess: 'script', settings: resolution.settings };
    }
    const found = await cache.lookup(physicalPath, vdir.physicalPath);
    if (isHttpError(found)) return found;
    if (found === undefined || found.isDirectory) continue;
    if (handler.kind === 'module') {
      return { kind: 'module', name: handler.name, mapping: handler, module: handler.module ?? '', script: found, physicalPath, scriptName, pathInfo, requiredAccess: 'script', settings: resolution.settings };
    }
    const documentRoot = resolution.site.virtualDirectories.find((v) => v.urlPath === '/')?.physicalPath ?? vdir.physicalPath;
    if (handler.kind === 'fastcgi') {
      return { kind: 'fastcgi', name: handler.name, mapping: handler, script: found, physicalPath, scriptName, pathInfo, requiredAccess: 'script', documentRoot, settings: resolution.settings };
    }
    const fileName = resolution.remainder[index]!;
    return {
      kind: 'cgi',
      name: handler.name,
      mapping: handler,
      script: found,
      physicalPath,
      scriptName,
      pathInfo,
      requiredAccess: handler.scriptProcessor ? 'script' : 'execute',
      nph: fileName.toLowerCase().startsWith('nph-'),
      documentRoot,
      settings: resolution.settings,
    };
  }
  if (candidates.length > 0 && candidates.at(-1)!.index === resolution.remainder.length - 1 && candidates.at(-1)!.handler.path !== '*') {
    return httpError(404, 0, `no script file at ${path.join(vdir.physicalPath, ...resolution.remainder)} (handler ${candidates.at(-1)!.handler.name})`, Win32.FILE_NOT_FOUND);
  }
  return undefined;
}
