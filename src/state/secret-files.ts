/**
 * Files only the launcher may read (TLS private keys, often 0600 root): under a launcher, the worker gets their
 * bytes over the IPC channel instead of reading them (as IIS workers never read keys: HTTP.sys holds them). Readers
 * of such files ask here first, then fall back to the disk (a process without a launcher reads them itself).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const provided = new Map<string, Buffer>();

/** Replaces the provided files (absolute path → bytes), e.g. before a start or a reload. */
export function provideSecretFiles(files: ReadonlyMap<string, Buffer>): void {
  provided.clear();
  for (const [file, bytes] of files) provided.set(path.resolve(file), bytes);
}

/** The bytes the launcher provided for this file, if any. */
export function providedSecretFile(file: string): Buffer | undefined {
  return provided.get(path.resolve(file));
}

export function readSecretFile(file: string): Buffer {
  return providedSecretFile(file) ?? readFileSync(file);
}
