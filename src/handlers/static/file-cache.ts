/**
 * What a physical path is, cached: its real path (symlinks resolved and kept inside the content root),
 * its type, size and validators, and for small files their bytes.
 *
 * The cache is what makes static serving fast: a hit costs one Map lookup and returns a promise that is
 * already settled, so no file system call and no allocation happens per request. Entries are trusted for
 * `ttlMilliseconds`; a file changed on disk is seen at the latest that long after.
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import { sep } from 'node:path';
import { httpError, Win32, type HttpError } from '../../pipeline/errors.js';
import { etagFor } from './entity-tag.js';
import { formatHttpDate } from './http-date.js';

export interface FileCacheOptions {
  ttlMilliseconds: number;
  maxFileBytes: number;
  maxEntries: number;
}

export interface FileInfo {
  readonly physicalPath: string;
  readonly realPath: string;
  readonly isDirectory: boolean;
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
  /** HTTP-date. */
  readonly lastModified: string;
  /** Files <= maxFileBytes, read once and kept while the entry is valid. */
  readonly content?: Buffer;
}

export type LookupResult = FileInfo | HttpError | undefined;

interface Entry {
  readonly containmentRoot: string;
  readonly result: Promise<LookupResult>;
  /** Infinity while the lookup is in flight, so concurrent requests share it. */
  expires: number;
}

// O_NONBLOCK: should a regular file be swapped for a fifo between stat and open, open must not hang.
export const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

export class FileCache {
  readonly #options: FileCacheOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #roots = new Map<string, Promise<string | undefined>>();

  constructor(options: FileCacheOptions) {
    this.#options = { ...options };
  }

  /**
   * undefined when the path does not exist; HttpError 404 (with a reason naming the symlink) when its real
   * path leaves `containmentRoot`; never throws for bad paths.
   */
  lookup(physicalPath: string, containmentRoot: string): Promise<LookupResult> {
    const entry = this.#entries.get(physicalPath);
    if (entry !== undefined && entry.containmentRoot === containmentRoot && entry.expires > Date.now()) return entry.result;
    return this.#refresh(physicalPath, containmentRoot);
  }

  /** The real path of a content root, resolved once; undefined when it does not exist. */
  realRoot(containmentRoot: string): Promise<string | undefined> {
    let root = this.#roots.get(containmentRoot);
    if (root === undefined) {
      root = resolveRoot(containmentRoot);
      this.#roots.set(containmentRoot, root);
      // A root that does not exist yet may be created later: only successes are remembered.
      void root.then((real) => {
        if (real === undefined && this.#roots.get(containmentRoot) === root) this.#roots.delete(containmentRoot);
      });
    }
    return root;
  }

  clear(): void {
    this.#entries.clear();
    this.#roots.clear();
  }

  #refresh(physicalPath: string, containmentRoot: string): Promise<LookupResult> {
    const result = this.#load(physicalPath, containmentRoot);
    const entry: Entry = { containmentRoot, result, expires: Infinity };
    this.#entries.delete(physicalPath);
    this.#entries.set(physicalPath, entry);
    this.#evict();
    void result.then(() => {
      if (this.#entries.get(physicalPath) !== entry) return;
      if (this.#options.ttlMilliseconds > 0 && this.#options.maxEntries > 0) entry.expires = Date.now() + this.#options.ttlMilliseconds;
      else this.#entries.delete(physicalPath);
    });
    return result;
  }

  // Map iteration order is insertion order, and refreshed entries are re-inserted: the first key is the oldest.
  #evict(): void {
    const max = Math.max(this.#options.maxEntries, 0);
    while (this.#entries.size > max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) return;
      this.#entries.delete(oldest.value);
    }
  }

  async #load(physicalPath: string, containmentRoot: string): Promise<LookupResult> {
    try {
      const root = await this.realRoot(containmentRoot);
      if (root === undefined) return undefined;
      let realPath: string;
      try {
        realPath = await fs.realpath(physicalPath);
      } catch (error) {
        return fsFailure(error, physicalPath);
      }
      if (!isInside(realPath, root)) return await escapeError(physicalPath, realPath, containmentRoot, root);
      const stats = await fs.stat(realPath);
      if (stats.isDirectory()) return fileInfo(physicalPath, realPath, stats, true);
      if (!stats.isFile()) return notRegular(physicalPath);
      if (stats.size > this.#options.maxFileBytes) return fileInfo(physicalPath, realPath, stats, false);
      return await readSmall(physicalPath, realPath, this.#options.maxFileBytes);
    } catch (error) {
      return fsFailure(error, physicalPath);
    }
  }
}

/** Whether `realPath` is `realRoot` or below it (both already free of symlinks, `..` and duplicate slashes). */
export function isInside(realPath: string, realRoot: string): boolean {
  if (realPath === realRoot) return true;
  const prefix = realRoot.endsWith(sep) ? realRoot : realRoot + sep;
  return realPath.startsWith(prefix);
}

/** Builds the FileInfo of a stat'ed file or directory (a directory's size is reported as 0). */
export function fileInfo(physicalPath: string, realPath: string, stats: Pick<Stats, 'size' | 'mtimeMs'>, isDirectory: boolean, content?: Buffer): FileInfo {
  const size = isDirectory ? 0 : stats.size;
  const base = {
    physicalPath,
    realPath,
    isDirectory,
    size,
    mtimeMs: stats.mtimeMs,
    etag: etagFor(stats.mtimeMs, size),
    lastModified: formatHttpDate(stats.mtimeMs),
  };
  return content === undefined ? base : { ...base, content };
}

/** A 404 for something that exists but is neither a regular file nor a directory; it is never opened. */
export function notRegular(physicalPath: string): HttpError {
  return httpError(404, 0, `'${physicalPath}' is not a regular file or a directory (a fifo, socket or device), which is never served.`, Win32.FILE_NOT_FOUND);
}

async function resolveRoot(containmentRoot: string): Promise<string | undefined> {
  try {
    return await fs.realpath(containmentRoot);
  } catch {
    return undefined;
  }
}

// The bytes and the stats come from the same open file, so the ETag always describes the bytes kept.
async function readSmall(physicalPath: string, realPath: string, maxFileBytes: number): Promise<LookupResult> {
  const handle = await fs.open(realPath, OPEN_FLAGS);
  try {
    if (!(await opensPath(handle.fd, realPath))) return undefined;
    const stats = await handle.stat();
    if (!stats.isFile()) return stats.isDirectory() ? fileInfo(physicalPath, realPath, stats, true) : notRegular(physicalPath);
    if (stats.size > maxFileBytes) return fileInfo(physicalPath, realPath, stats, false);
    // Not from the shared pool: this buffer lives as long as the entry and must not pin an 8 KiB slab.
    const content = Buffer.allocUnsafeSlow(stats.size);
    let filled = 0;
    while (filled < content.length) {
      const { bytesRead } = await handle.read(content, filled, content.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    // The file shrank while being read: describe what was read rather than what stat said.
    if (filled < content.length) return fileInfo(physicalPath, realPath, { size: filled, mtimeMs: stats.mtimeMs }, false, content.subarray(0, filled));
    return fileInfo(physicalPath, realPath, stats, false, content);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Whether an open file is still the one at `realPath`. Between realpath() and open() a path component may
 * be replaced by a symlink leading out of the root; the kernel's own record of what was opened
 * (/proc/self/fd) settles it. Where /proc is not mounted the check is skipped.
 */
export async function opensPath(fd: number, realPath: string): Promise<boolean> {
  let opened: string;
  try {
    opened = await fs.readlink(`/proc/self/fd/${fd}`);
  } catch {
    return true;
  }
  return opened === realPath;
}

/** What a failed file system call means for the client: not found (undefined), or an HttpError. */
export function fsFailure(error: unknown, physicalPath: string): HttpError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // Not there, or not a path at all (a NUL byte, a component that is a file): the client sees "not found".
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG' || code === 'EINVAL' || code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_INVALID_ARG_TYPE') return undefined;
  if (code === 'ELOOP') return httpError(404, 0, `'${physicalPath}' goes through a loop of symbolic links.`, Win32.FILE_NOT_FOUND);
  if (code === 'EACCES' || code === 'EPERM') {
    return httpError(500, 0, `The server process cannot read '${physicalPath}' (${code}): grant its OS account read access, or remove the file.`, Win32.ACCESS_DENIED);
  }
  return httpError(500, 0, `Reading '${physicalPath}' failed: ${code ?? String(error)}.`, Win32.SUCCESS);
}

/**
 * The 404 for a path whose real path leaves the root. The link responsible is found by walking the path
 * from the root; this costs a few lstat calls, only on this refusal.
 */
async function escapeError(physicalPath: string, realPath: string, containmentRoot: string, realRoot: string): Promise<HttpError> {
  let link = physicalPath;
  const rootPrefix = containmentRoot.endsWith(sep) ? containmentRoot : containmentRoot + sep;
  if (physicalPath.startsWith(rootPrefix)) {
    const parts = physicalPath.slice(rootPrefix.length).split(sep);
    let current = rootPrefix.slice(0, -1);
    for (const part of parts) {
      if (part === '') continue;
      current = current + sep + part;
      const stats = await fs.lstat(current).catch(() => undefined);
      if (stats?.isSymbolicLink()) {
        link = current;
        break;
      }
    }
  }
  return httpError(
    404,
    0,
    `The symbolic link '${link}' leads to '${realPath}', outside the content root '${realRoot}': symbolic links must stay inside the virtual directory.`,
    Win32.FILE_NOT_FOUND,
  );
}
