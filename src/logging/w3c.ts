import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { W3cField } from '../config/schema.js';
import {
  createW3cFormatter, DEFAULT_W3C_FIELDS, escapeW3cValue, formatW3cDateTime, type W3cFormatter, type W3cRecord,
} from './w3c-format.js';

export { DEFAULT_W3C_FIELDS, type W3cRecord } from './w3c-format.js';
export type { W3cField } from '../config/schema.js';

export interface W3cLogOptions {
  readonly directory: string; // e.g. <logs>/W3SVC1 — created if missing
  readonly fields: readonly W3cField[]; // written in the order given
  readonly period: 'daily' | 'hourly';
  readonly software: string; // 'Persona 0.1.0' (a value already starting with '#Software:' is used as is)
  /** Write failures and dropped lines are reported here; the default emits a process warning. */
  readonly onError?: (error: Error) => void;
  /** Clock used to pick the file (and its period); tests inject one to cross day boundaries. */
  readonly now?: () => Date;
  /** How long a line may wait in memory before it is written (default 1000 ms). */
  readonly flushIntervalMs?: number;
  /** Upper bound of lines waiting for the disk, in bytes (default 8 MiB). */
  readonly maxBufferedBytes?: number;
}

// Lines are gathered into batches and each batch is one append; 64 KiB is also IIS's own log buffer size.
const BATCH_BYTES = 64 * 1024;
const DEFAULT_FLUSH_MS = 1000;
const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

interface Batch {
  readonly path: string;
  readonly header: string; // '#Software…#Version' lines
  readonly fields: string; // '#Fields…' line
  readonly started: Date; // for #Date when this batch opens a directive block
  text: string;
  bytes: number;
  lines: number;
  seq: number;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
}

function two(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** IIS names: u_exYYMMDD.log (daily), u_exYYMMDDHH.log (hourly), UTC. */
export function w3cFileName(at: Date, period: 'daily' | 'hourly'): string {
  const base = 'u_ex' + two(at.getUTCFullYear() % 100) + two(at.getUTCMonth() + 1) + two(at.getUTCDate());
  return (period === 'hourly' ? base + two(at.getUTCHours()) : base) + '.log';
}

function defaultOnError(error: Error): void {
  process.emitWarning(error);
}

/**
 * The IIS W3C extended log of one site. `write` only formats and appends to an in-memory batch; batches are
 * appended to the file asynchronously, one at a time, so a slow disk never blocks a request.
 */
export class W3cLog {
  readonly #directory: string;
  readonly #period: 'daily' | 'hourly';
  readonly #header: string;
  readonly #onError: (error: Error) => void;
  readonly #clock: () => number;
  readonly #flushMs: number;
  readonly #maxBuffered: number;

  #fieldsLine = '';
  #format: W3cFormatter = () => '-';

  #periodStart = NaN;
  #periodEnd = NaN;
  #path = '';

  #current: Batch | null = null;
  readonly #queue: Batch[] = [];
  #buffered = 0;
  #seq = 0;
  #writtenSeq = 0;
  readonly #waiters: Waiter[] = [];
  #pump: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;

  #handle: FileHandle | null = null;
  #handlePath = '';
  #handleDirectives = ''; // header + fields last written into the open file

  #closing: Promise<void> | null = null;
  #dropped = 0;
  #dropping = false;

  constructor(options: W3cLogOptions) {
    this.#directory = options.directory;
    this.#period = options.period === 'hourly' ? 'hourly' : 'daily';
    const software = String(options.software).replace(/^#Software:\s*/, '').replace(/[\x00-\x1f\x7f]/g, ' ');
    this.#header = '#Software: ' + software + '\r\n#Version: 1.0\r\n';
    this.#onError = options.onError ?? defaultOnError;
    const now = options.now;
    this.#clock = now === undefined ? Date.now : () => now().getTime();
    this.#flushMs = options.flushIntervalMs !== undefined && options.flushIntervalMs >= 0 ? options.flushIntervalMs : DEFAULT_FLUSH_MS;
    this.#maxBuffered = options.maxBufferedBytes !== undefined && options.maxBufferedBytes > 0 ? options.maxBufferedBytes : DEFAULT_MAX_BUFFERED;
    this.setFields(options.fields);
  }

  /** Lines lost so far: buffer full while the disk stalled, failed writes, or writes after close. */
  get dropped(): number {
    return this.#dropped;
  }

  /** A configuration reload changed the field list: later lines use it, under a new #Fields directive. */
  setFields(fields: readonly W3cField[]): void {
    const list = fields.length > 0 ? fields : DEFAULT_W3C_FIELDS;
    const line = '#Fields: ' + list.map((f) => escapeW3cValue(f)).join(' ') + '\r\n';
    if (line === this.#fieldsLine) return;
    this.#seal();
    this.#fieldsLine = line;
    this.#format = createW3cFormatter(list);
  }

  write(record: W3cRecord): void {
    if (this.#closing !== null) {
      this.#dropped++;
      return;
    }
    try {
      let ms = this.#clock();
      if (!Number.isFinite(ms)) ms = Date.now();
      if (!(ms >= this.#periodStart && ms < this.#periodEnd)) this.#enterPeriod(ms);
      const line = this.#format(record) + '\r\n';
      const size = line.length; // every value is escaped to ASCII, so characters are bytes
      // Bounded on purpose: when the disk stalls, lines are dropped and counted rather than letting memory
      // grow with the request rate until the process dies.
      if (this.#buffered + size > this.#maxBuffered) {
        this.#drop();
        return;
      }
      let batch = this.#current;
      if (batch === null) {
        batch = { path: this.#path, header: this.#header, fields: this.#fieldsLine, started: new Date(ms), text: '', bytes: 0, lines: 0, seq: 0 };
        this.#current = batch;
      }
      batch.text += line;
      batch.bytes += size;
      batch.lines++;
      this.#buffered += size;
      if (batch.bytes >= BATCH_BYTES) {
        this.#seal();
        this.#kick();
      } else if (this.#timer === null) {
        this.#timer = setTimeout(this.#onTimer, this.#flushMs);
        this.#timer.unref(); // a pending log line must not keep the process alive; close() flushes
      }
    } catch (error) {
      this.#report(error);
    }
  }

  /** Resolves when every line written before the call has reached the file (or was counted as dropped). */
  flush(): Promise<void> {
    this.#seal();
    const target = this.#seq;
    if (this.#writtenSeq >= target) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.#waiters.push({ seq: target, resolve }));
    this.#kick();
    return done;
  }

  /** Flushes and closes the file; later writes are counted as dropped. */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closing = this.flush().then(async () => {
        if (this.#pump !== null) await this.#pump;
        await this.#closeHandle();
      });
    }
    return this.#closing;
  }

  #enterPeriod(ms: number): void {
    const size = this.#period === 'hourly' ? HOUR_MS : DAY_MS;
    const start = Math.floor(ms / size) * size; // UTC has no DST, so periods are exact multiples
    this.#periodStart = start;
    this.#periodEnd = start + size;
    const path = join(this.#directory, w3cFileName(new Date(start), this.#period));
    if (path !== this.#path) {
      this.#seal(); // lines already gathered belong to the previous file
      this.#path = path;
    }
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    this.#seal();
    this.#kick();
  };

  #seal(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const batch = this.#current;
    if (batch === null) return;
    this.#current = null;
    if (batch.lines === 0) return;
    batch.seq = ++this.#seq;
    this.#queue.push(batch);
  }

  #kick(): void {
    if (this.#pump === null && this.#queue.length > 0) this.#pump = this.#run();
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue[0]!;
        try {
          await this.#writeBatch(batch);
        } catch (error) {
          // The lines are given up rather than retried: a full disk or a missing folder rarely heals within
          // the flush interval, and retrying would hold memory. The next batch reopens the file.
          this.#dropped += batch.lines;
          this.#report(error);
          await this.#closeHandle();
        }
        this.#queue.shift();
        this.#buffered -= batch.bytes;
        this.#writtenSeq = batch.seq;
        if (this.#dropping && this.#buffered <= this.#maxBuffered / 2) this.#dropping = false;
        this.#releaseWaiters();
      }
    } finally {
      this.#pump = null;
    }
  }

  async #writeBatch(batch: Batch): Promise<void> {
    if (this.#handle !== null && this.#handlePath !== batch.path) await this.#closeHandle();
    if (this.#handle !== null) {
      // A deleted file (or folder) still accepts writes through the open descriptor and the lines vanish;
      // reopen instead so logging resumes in a new file with its own directives.
      const stat = await this.#handle.stat();
      if (stat.nlink === 0) await this.#closeHandle();
    }
    if (this.#handle === null) {
      await mkdir(this.#directory, { recursive: true });
      this.#handle = await open(batch.path, 'a');
      this.#handlePath = batch.path;
      this.#handleDirectives = '';
    }
    const directives = batch.header + batch.fields;
    let data = batch.text;
    if (this.#handleDirectives !== directives) {
      data = batch.header + '#Date: ' + formatW3cDateTime(batch.started) + '\r\n' + batch.fields + data;
    }
    await this.#handle.appendFile(data);
    this.#handleDirectives = directives;
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    this.#handlePath = '';
    this.#handleDirectives = '';
    if (handle === null) return;
    try {
      await handle.close();
    } catch (error) {
      this.#report(error);
    }
  }

  #releaseWaiters(): void {
    const waiters = this.#waiters;
    let kept = 0;
    for (const w of waiters) {
      if (w.seq <= this.#writtenSeq) w.resolve();
      else waiters[kept++] = w;
    }
    waiters.length = kept;
  }

  #drop(): void {
    this.#dropped++;
    if (!this.#dropping) {
      this.#dropping = true;
      this.#report(new Error(`W3C log ${this.#directory}: ${this.#maxBuffered} bytes waiting for the disk; dropping lines until it catches up`));
    }
  }

  #report(error: unknown): void {
    try {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // A failing error callback must not turn a logging problem into a request failure.
    }
  }
}
