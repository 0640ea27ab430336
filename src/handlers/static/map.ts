/**
 * mapRequestHandler, static part: what a URL names on disk — a file to send, a folder to redirect to its
 * canonical form with a slash, a default document, or a folder to list — and which access flag that needs.
 */
import { join } from 'node:path';
import type { Settings } from '../../config/schema.js';
import { httpError, isHttpError, Win32, type HttpError } from '../../pipeline/errors.js';
import type { FileCache, FileInfo } from './file-cache.js';
import { contentTypeFor, extensionOf } from './mime.js';

export type StaticMapping =
  | { readonly kind: 'file'; readonly file: FileInfo; readonly contentType: string }
  /** A folder requested without its trailing '/': 301 to path + '/' (+ '?' + rawQuery). */
  | { readonly kind: 'redirect'; readonly location: string }
  /** A folder with no default document. */
  | { readonly kind: 'listing'; readonly directory: FileInfo };

export interface StaticTarget {
  /** Already joined inside the root by the caller. */
  readonly physicalPath: string;
  /** The virtual directory's physical root: symlinks must stay inside it. */
  readonly containmentRoot: string;
  /** Canonical decoded URL path, e.g. '/docs/' ('/docs' when no trailing slash). */
  readonly urlPath: string;
  readonly trailingSlash: boolean;
  /** As received, for the redirect Location. */
  readonly rawPath: string;
  readonly rawQuery: string;
  readonly settings: Settings;
}

export async function mapStatic(target: StaticTarget, cache: FileCache): Promise<StaticMapping | HttpError> {
  const found = await cache.lookup(target.physicalPath, target.containmentRoot);
  if (found === undefined) return notFound(target.physicalPath);
  if (isHttpError(found)) return found;
  if (!found.isDirectory) {
    if (target.trailingSlash) {
      return httpError(404, 0, `'${target.physicalPath}' is a file but was requested as a folder (with a trailing '/').`, Win32.FILE_NOT_FOUND);
    }
    return fileMapping(found, target.settings);
  }
  if (!target.trailingSlash) return { kind: 'redirect', location: folderLocation(target.rawPath, target.rawQuery) };

  const { enabled, files } = target.settings.defaultDocument;
  if (enabled) {
    for (const name of files) {
      if (!isPlainName(name, target.settings.requestFiltering.hiddenSegments)) continue;
      const candidate = await cache.lookup(join(target.physicalPath, name), target.containmentRoot);
      if (candidate === undefined) continue;
      // A default document whose link leaves the root is refused rather than skipped: skipping could fall
      // through to a listing that reveals what the link was hiding.
      if (isHttpError(candidate)) return candidate;
      if (candidate.isDirectory) continue;
      return fileMapping(candidate, target.settings);
    }
  }
  return { kind: 'listing', directory: found };
}

/** The IIS access flag a mapping needs: 'read' for a file (and a default document), 'browse' for a listing. */
export function requiredAccess(mapping: StaticMapping): 'read' | 'browse' | null {
  switch (mapping.kind) {
    case 'file':
      return 'read';
    case 'listing':
      return 'browse';
    case 'redirect':
      return null;
  }
}

function fileMapping(file: FileInfo, settings: Settings): StaticMapping | HttpError {
  const contentType = contentTypeFor(file.physicalPath, settings.staticContent.mimeMap);
  if (contentType !== undefined) return { kind: 'file', file, contentType };
  const extension = extensionOf(file.physicalPath);
  const what = extension === '.' ? 'Files without an extension have' : `The extension '${extension}' has`;
  return httpError(
    404,
    3,
    `${what} no MIME type, so '${file.physicalPath}' is not served. To serve it, map it in settings.staticContent.mimeMap (e.g. '${extension}': 'application/octet-stream').`,
    Win32.FILE_NOT_FOUND,
  );
}

function notFound(physicalPath: string): HttpError {
  return httpError(404, 0, `'${physicalPath}' does not exist.`, Win32.FILE_NOT_FOUND);
}

/**
 * The raw path is reused so the client's own spelling comes back, but leading slashes are collapsed: a
 * Location of "//host/" is protocol-relative and would redirect to another site.
 */
function folderLocation(rawPath: string, rawQuery: string): string {
  let path = rawPath;
  if (path.length > 1 && (path[1] === '/' || path[1] === '\\')) path = '/' + path.replace(/^[/\\]+/, '');
  if (!path.startsWith('/')) path = '/' + path;
  return rawQuery === '' ? `${path}/` : `${path}/?${rawQuery}`;
}

// A default document is a file name in the folder, not a path, and never a hidden segment.
function isPlainName(name: string, hiddenSegments: readonly string[]): boolean {
  if (name === '.' || name === '..' || /[/\\\0]/.test(name)) return false;
  const lower = name.toLowerCase();
  return !hiddenSegments.some((segment) => segment.toLowerCase() === lower);
}
