/**
 * executeRequestHandler, folder listing: the page IIS's directory browsing shows ("host - /path/",
 * "[To Parent Directory]", then date, time, size or &lt;dir&gt; and a link per entry). Only reached once the
 * `browse` access flag was checked.
 *
 * What is never listed: hidden segments (they could not be requested anyway, 404.8), entries that are
 * neither files nor folders, and symlinks whose target leaves the content root — listing them would reveal
 * what containment hides. Very large folders are cut at MAX_LISTED entries, and the page says so.
 */
import { escapeHtml } from '../../pipeline/html.js';
import type { Dirent } from 'node:fs';
import { promises as fs } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { httpError, Win32, type HttpError } from '../../pipeline/errors.js';
import { fsFailure, isInside, type FileCache } from './file-cache.js';
import type { StaticMapping, StaticTarget } from './map.js';
import { methodNotAllowed } from './serve.js';

export const MAX_LISTED = 10_000;

/** How many entries are stat'ed at once: enough to hide latency, few enough not to exhaust descriptors. */
const STAT_BATCH = 64;

export interface ListedEntry {
  readonly name: string;
  readonly isDirectory: boolean;
  readonly size: number;
  readonly mtimeMs: number;
}

export async function serveListing(
  req: IncomingMessage,
  res: ServerResponse,
  mapping: Extract<StaticMapping, { kind: 'listing' }>,
  target: StaticTarget,
  cache: FileCache,
): Promise<HttpError | null> {
  const refused = methodNotAllowed(req.method);
  if (refused) return refused;
  const root = await cache.realRoot(target.containmentRoot);
  if (root === undefined) return httpError(404, 0, `The content root '${target.containmentRoot}' does not exist.`, Win32.PATH_NOT_FOUND);

  const folder = mapping.directory.realPath;
  let read: { entries: Dirent[]; truncated: boolean };
  try {
    read = await readEntries(folder, target.settings.requestFiltering.hiddenSegments);
  } catch (error) {
    return fsFailure(error, mapping.directory.physicalPath) ?? httpError(404, 0, `The folder '${mapping.directory.physicalPath}' no longer exists.`, Win32.PATH_NOT_FOUND);
  }
  const listed: ListedEntry[] = [];
  for (let i = 0; i < read.entries.length; i += STAT_BATCH) {
    const batch = await Promise.all(read.entries.slice(i, i + STAT_BATCH).map((entry) => describe(folder, entry, root)));
    for (const entry of batch) if (entry !== undefined) listed.push(entry);
  }
  listed.sort(byName);

  const body = Buffer.from(renderListing(hostOf(req), target.urlPath, listed, read.truncated), 'utf8');
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': body.length,
    'X-Content-Type-Options': 'nosniff',
  });
  if (req.method === 'HEAD') res.end();
  else res.end(body);
  return null;
}

/** The HTML page, IIS's layout. Every name, the host and the path are escaped; links are URL-encoded. */
export function renderListing(host: string, urlPath: string, entries: readonly ListedEntry[], truncated: boolean): string {
  const base = urlPath.endsWith('/') ? urlPath : urlPath + '/';
  const title = `${escapeHtml(host)} - ${escapeHtml(base)}`;
  let html = `<html><head><title>${title}</title></head><body><H1>${title}</H1><hr>\n\n<pre>`;
  if (base !== '/') {
    const parent = base.slice(0, base.lastIndexOf('/', base.length - 2) + 1);
    html += `<A HREF="${escapeHtml(encodePath(parent))}">[To Parent Directory]</A><br><br>`;
  }
  const encodedBase = encodePath(base);
  for (const entry of entries) {
    const href = encodedBase + encodeURIComponent(entry.name) + (entry.isDirectory ? '/' : '');
    const size = entry.isDirectory ? '&lt;dir&gt;'.padStart(12 + 6) : String(entry.size).padStart(12);
    html += `${formatDate(entry.mtimeMs)} ${size} <A HREF="${escapeHtml(href)}">${escapeHtml(entry.name)}</A><br>`;
  }
  html += '</pre><hr>';
  if (truncated) html += `<p>Only the first ${MAX_LISTED} entries of this folder are listed.</p>`;
  return html + '</body></html>';
}

async function readEntries(folder: string, hiddenSegments: readonly string[]): Promise<{ entries: Dirent[]; truncated: boolean }> {
  const hidden = new Set(hiddenSegments.map((segment) => segment.toLowerCase()));
  const entries: Dirent[] = [];
  const dir = await fs.opendir(folder, { bufferSize: 256 });
  // Leaving the loop early closes the directory.
  for await (const entry of dir) {
    if (hidden.has(entry.name.toLowerCase()) || !isEncodable(entry.name)) continue;
    if (entries.length === MAX_LISTED) return { entries, truncated: true };
    entries.push(entry);
  }
  return { entries, truncated: false };
}

async function describe(folder: string, entry: Dirent, root: string): Promise<ListedEntry | undefined> {
  const path = join(folder, entry.name);
  try {
    if (entry.isSymbolicLink()) {
      if (!isInside(await fs.realpath(path), root)) return undefined;
    } else if (!entry.isFile() && !entry.isDirectory()) {
      return undefined;
    }
    // stat follows a link already proved to stay inside; for anything else it equals lstat.
    const stats = await fs.stat(path);
    if (!stats.isFile() && !stats.isDirectory()) return undefined;
    return { name: entry.name, isDirectory: stats.isDirectory(), size: stats.isDirectory() ? 0 : stats.size, mtimeMs: stats.mtimeMs };
  } catch {
    // Gone since readdir, a dangling link, or unreadable: not listed.
    return undefined;
  }
}

// Case-insensitively, as NTFS orders a folder; ties broken by code units so the order is total.
function byName(a: ListedEntry, b: ListedEntry): number {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** IIS's " M/D/YYYY  h:mm AM" columns, in UTC so the page does not depend on the server's time zone. */
function formatDate(mtimeMs: number): string {
  const d = new Date(mtimeMs);
  const date = `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
  const hours = d.getUTCHours();
  const time = `${hours % 12 === 0 ? 12 : hours % 12}:${String(d.getUTCMinutes()).padStart(2, '0')} ${hours < 12 ? 'AM' : 'PM'}`;
  return `${date.padStart(10)} ${time.padStart(8)}`;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

// Names that are not valid UTF-16 (lone surrogates) cannot be put in a URL; they are left out.
function isEncodable(name: string): boolean {
  try {
    encodeURIComponent(name);
    return true;
  } catch {
    return false;
  }
}

function hostOf(req: IncomingMessage): string {
  const host = req.headers.host;
  return typeof host === 'string' && host !== '' ? host : 'localhost';
}


export { escapeHtml };
