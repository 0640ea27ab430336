/**
 * Stage `mapRequestHandler`: decide what serves the URL and which access it needs. Runs before authorizeRequest
 * (unlike IIS 7's event order) because authorization needs to know what the request will do: read a file, list a
 * folder or (later) run a script; IIS does the same through each handler's `requireAccess`.
 * Static files only for now; CGI, FastCGI and JS handlers join here later.
 */
import type { AccessFlag } from '../../config/schema.js';
import type { UrlResolution } from '../../config/compile.js';
import type { ParsedTarget } from '../../filtering/target.js';
import { mapStatic, requiredAccess, type StaticMapping, type StaticTarget } from '../../handlers/static/map.js';
import type { FileCache } from '../../handlers/static/file-cache.js';
import { isHttpError, type HttpError } from '../errors.js';

export interface HandlerMapping {
  readonly kind: 'static';
  readonly name: string;
  readonly mapping: StaticMapping;
  readonly target: StaticTarget;
  /** The access flag the handler needs, or null when it reads nothing (a redirect). */
  readonly requiredAccess: AccessFlag | null;
  readonly physicalPath: string;
}

const HANDLER_NAMES: Record<StaticMapping['kind'], string> = {
  file: 'StaticFile',
  listing: 'DirectoryListing',
  redirect: 'FolderRedirect',
};

export async function mapRequestHandler(target: ParsedTarget, resolution: UrlResolution, cache: FileCache): Promise<HandlerMapping | HttpError> {
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
