/**
 * Traces on disk: one JSON line per request in a file per site and day, `<logs>/trace/W3SVC<id>/trace-YYYYMMDD.jsonl`
 * (UTC) — as IIS's Failed Request Tracing writes a folder per site — so traces outlive the worker that recorded them
 * and every pool's worker is seen by `persona trace` and the diagnostic endpoint. Each line is written by one append
 * (O_APPEND), so workers of several pools serving the same site never interleave within a line.
 */
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseTraceLine, type TraceDocument } from './trace.js';

export function traceDirectory(logDirectory: string, siteId: number): string {
  return path.join(logDirectory, 'trace', `W3SVC${siteId}`);
}

export function traceFileName(at: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `trace-${at.getUTCFullYear()}${two(at.getUTCMonth() + 1)}${two(at.getUTCDate())}.jsonl`;
}

const FILE_PATTERN = /^trace-\d{8}\.jsonl$/;
const SITE_PATTERN = /^W3SVC(\d{1,9})$/;

/** Appends trace lines, one write per line, in order per file; failures are reported once per file and dropped. */
export class TraceFileWriter {
  private tail: Promise<void> = Promise.resolve();
  private readonly made = new Set<string>();
  private readonly failed = new Set<string>();

  constructor(
    private readonly logDirectory: string,
    private readonly onError: (file: string, err: Error) => void,
  ) {}

  write(doc: TraceDocument): void {
    const dir = traceDirectory(this.logDirectory, doc.siteId);
    const file = path.join(dir, traceFileName(new Date(doc.time)));
    const line = `${JSON.stringify(doc)}\n`;
    this.tail = this.tail.then(async () => {
      try {
        if (!this.made.has(dir)) {
          await mkdir(dir, { recursive: true });
          this.made.add(dir);
        }
        await appendFile(file, line);
        this.failed.delete(file);
      } catch (err) {
        if (!this.failed.has(file)) this.onError(file, err as Error);
        this.failed.add(file);
      }
    });
  }

  /** Resolves when every line written so far is on disk (or has failed). */
  flush(): Promise<void> {
    return this.tail;
  }
}

/** Site ids with a trace folder, ascending. */
async function siteIds(logDirectory: string): Promise<number[]> {
  const names = await readdir(path.join(logDirectory, 'trace')).catch(() => [] as string[]);
  return names.flatMap((n) => SITE_PATTERN.exec(n)?.[1] ?? []).map(Number).sort((a, b) => a - b);
}

/** The trace files of the sites asked for (all when undefined), oldest day first. */
async function traceFiles(logDirectory: string, sites: readonly number[] | undefined): Promise<string[]> {
  const ids = sites ?? (await siteIds(logDirectory));
  const files: { day: string; file: string }[] = [];
  for (const id of ids) {
    const dir = traceDirectory(logDirectory, id);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names) if (FILE_PATTERN.test(n)) files.push({ day: n, file: path.join(dir, n) });
  }
  return files.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0)).map((f) => f.file);
}

async function* linesOf(file: string): AsyncGenerator<TraceDocument> {
  const input = createReadStream(file, { encoding: 'utf8' });
  input.on('error', () => undefined);
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      const doc = parseTraceLine(line);
      if (doc) yield doc;
    }
  } catch {
    // A file removed or unreadable while being read: what was read stands.
  } finally {
    input.destroy();
  }
}

/** The last `last` traces (by end time) of the sites asked for, oldest first. Reads back from the newest day only as far as needed. */
export async function recentTraces(logDirectory: string, options: { sites?: readonly number[]; last: number }): Promise<TraceDocument[]> {
  if (options.last <= 0) return [];
  const files = await traceFiles(logDirectory, options.sites);
  const days = [...new Set(files.map((f) => path.basename(f)))].reverse();
  const kept: TraceDocument[] = [];
  for (const day of days) {
    for (const file of files.filter((f) => path.basename(f) === day)) {
      const ofFile: TraceDocument[] = [];
      for await (const doc of linesOf(file)) {
        ofFile.push(doc);
        // Bounded memory whatever the file holds: trim in batches rather than shifting on every line.
        if (ofFile.length >= options.last * 2 + 1000) ofFile.splice(0, ofFile.length - options.last);
      }
      kept.push(...ofFile.slice(-options.last));
    }
    if (kept.length >= options.last) break;
  }
  return kept.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0)).slice(-options.last);
}

/** The trace with this id, newest files first; undefined when no file holds it. */
export async function findTrace(logDirectory: string, id: string, sites?: readonly number[]): Promise<TraceDocument | undefined> {
  const files = (await traceFiles(logDirectory, sites)).reverse();
  for (const file of files) {
    for await (const doc of linesOf(file)) if (doc.id === id) return doc;
  }
  return undefined;
}
