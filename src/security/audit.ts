/**
 * The security audit log (MODEL.md §3, iis-reference §6.1): one JSON line per logon attempt — 4624 success, 4625
 * failure, with Windows' fields (account, domain, logon type, package, client address, status and sub-status) —
 * and one per access denial (4656). It answers "why was this user refused?" for administrators: clients only ever
 * see 401.1, never which check failed. It never holds a secret: only the whitelisted fields below are written,
 * whatever else the caller's object carries.
 */
import { closeSync, fchmodSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LogonType } from './token.js';

export interface AuditEvent {
  eventId: 4624 | 4625 | 4656 /* access denied: object access failure */;
  time: string;
  account: string;
  domain: string;
  sid?: string;
  logonType?: number;
  package?: string;
  clientAddress?: string;
  status?: string;
  subStatus?: string;
  statusCode?: string;
  subStatusCode?: string;
  logonId?: string;
  object?: string;
  desiredAccess?: string;
  reason?: string;
  /** How a successful challenge/response logon was made (Windows' "Package Name (NTLM only)": NTLMv2, MIC, bindings). */
  detail?: string;
  traceId?: string;
}

const EVENT_IDS: ReadonlySet<number> = new Set([4624, 4625, 4656]);

/** The optional string fields, in the order they are written (stable lines are easier to read and diff). */
const STRING_FIELDS = [
  'sid', 'package', 'clientAddress', 'status', 'subStatus', 'statusCode', 'subStatusCode',
  'logonId', 'object', 'desiredAccess', 'reason', 'detail', 'traceId',
] as const satisfies readonly (keyof AuditEvent)[];

/**
 * Values come partly from clients (the user name typed into a Basic prompt); a bound keeps one request from
 * writing megabytes into the audit log, and is far above any real account name, path or reason.
 */
export const MAX_FIELD_CHARS = 1024;

const bound = (value: string): string => (value.length > MAX_FIELD_CHARS ? `${value.slice(0, MAX_FIELD_CHARS)}…` : value);

/** The event as written: whitelisted fields only, in a fixed order, `time` first. */
function serialize(event: Omit<AuditEvent, 'time'>, time: string): string {
  const out: Record<string, string | number> = {
    time,
    eventId: event.eventId,
    account: bound(String(event.account ?? '')),
    domain: bound(String(event.domain ?? '')),
  };
  if (typeof event.logonType === 'number' && Number.isInteger(event.logonType)) out.logonType = event.logonType;
  for (const field of STRING_FIELDS) {
    const value = event[field];
    if (typeof value === 'string') out[field] = bound(value);
  }
  return JSON.stringify(out) + '\n';
}

export class AuditLog {
  readonly file: string;
  #fd: number | undefined;
  #warned = false;

  /** Opens (creating it and its folder if needed) for appending, owner-only: the log names accounts and clients. */
  constructor(file: string) {
    this.file = file;
    mkdirSync(dirname(file), { recursive: true });
    this.#fd = openSync(file, 'a', 0o600);
    // The mode above applies only to a new file; an existing one made by hand may be wider.
    try {
      // Only a regular file: the audit log may be a device (/dev/null, a tty) whose mode is not ours to change.
      const stat = fstatSync(this.#fd);
      if (stat.isFile() && (stat.mode & 0o077) !== 0) fchmodSync(this.#fd, 0o600);
    } catch {
      // Not the owner (e.g. a file prepared by an administrator): its permissions are theirs to decide.
    }
  }

  /**
   * Appends one line with one write(2) on an O_APPEND descriptor, so lines from the server and the CLI never
   * interleave, and it is on disk (in the page cache) before the request that caused it is answered.
   */
  write(event: Omit<AuditEvent, 'time'>): void {
    if (this.#fd === undefined) {
      this.#warn('the audit log is closed; an event was not written');
      return;
    }
    const line = Buffer.from(serialize(event, new Date().toISOString()), 'utf8');
    try {
      let written = 0;
      while (written < line.length) written += writeSync(this.#fd, line, written, line.length - written);
    } catch (error) {
      // Refusing the request because the disk is full would turn an audit problem into an outage; say it loudly.
      this.#warn(`cannot write the audit log ${this.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    closeSync(fd);
  }

  #warn(message: string): void {
    if (this.#warned) return;
    this.#warned = true;
    process.emitWarning(message, 'PersonaAuditWarning');
  }
}

/**
 * One line of the audit log as an event, or undefined when it is not one (a torn write, another program's line).
 * Unknown keys are dropped; a known key with the wrong type rejects the line.
 */
export function parseAuditLine(line: string): AuditEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.eventId !== 'number' || !EVENT_IDS.has(v.eventId)) return undefined;
  if (typeof v.time !== 'string' || typeof v.account !== 'string' || typeof v.domain !== 'string') return undefined;
  const event: AuditEvent = { eventId: v.eventId as AuditEvent['eventId'], time: v.time, account: v.account, domain: v.domain };
  if (v.logonType !== undefined) {
    if (typeof v.logonType !== 'number' || !Number.isInteger(v.logonType)) return undefined;
    event.logonType = v.logonType;
  }
  for (const field of STRING_FIELDS) {
    const f = v[field];
    if (f === undefined) continue;
    if (typeof f !== 'string') return undefined;
    event[field] = f;
  }
  return event;
}

const CHUNK_BYTES = 64 * 1024;
/** A line longer than this is not one of ours; dropping it bounds the memory a damaged file can take. */
const MAX_LINE_BYTES = 1024 * 1024;
const FOLLOW_POLL_MS = 200;

/**
 * The last `lines` events of an audit log, then (with `follow`) every event appended after, until `signal` aborts.
 * Lines that are not events are skipped. Following survives truncation and replacement (rotation) of the file, and
 * waits for a file that does not exist yet.
 */
export async function* tailAudit(file: string, options: { lines: number; follow: boolean; signal?: AbortSignal }): AsyncGenerator<AuditEvent> {
  const { signal } = options;
  let offset = 0;
  let inode: number | undefined;
  try {
    const handle = await open(file, 'r');
    try {
      const info = await handle.stat();
      inode = info.ino;
      const last = await lastEvents(handle, info.size, Math.max(0, Math.floor(options.lines)), options.follow);
      for (const event of last.events) yield event;
      offset = last.resumeAt;
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (!options.follow) return;

  let pending: Buffer = Buffer.alloc(0);
  while (!signal?.aborted) {
    const info = await stat(file).catch(() => undefined);
    if (info !== undefined) {
      if (info.size < offset || (inode !== undefined && info.ino !== inode)) {
        // Truncated or replaced: the new content starts over.
        offset = 0;
        pending = Buffer.alloc(0);
      }
      inode = info.ino;
      if (info.size > offset) {
        const handle = await open(file, 'r').catch(() => undefined);
        if (handle !== undefined) {
          try {
            while (offset < info.size) {
              const length = Math.min(CHUNK_BYTES, info.size - offset);
              const chunk = Buffer.alloc(length);
              const { bytesRead } = await handle.read(chunk, 0, length, offset);
              if (bytesRead === 0) break;
              offset += bytesRead;
              pending = Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
              let newline: number;
              while ((newline = pending.indexOf(0x0a)) !== -1) {
                const event = parseAuditLine(pending.subarray(0, newline).toString('utf8'));
                pending = pending.subarray(newline + 1);
                if (event !== undefined) yield event;
              }
              if (pending.length > MAX_LINE_BYTES) pending = Buffer.alloc(0);
            }
          } finally {
            await handle.close();
          }
        }
      }
    }
    try {
      await delay(FOLLOW_POLL_MS, undefined, signal === undefined ? undefined : { signal });
    } catch {
      return; // aborted
    }
  }
}

/**
 * Reads backwards from the end until `count` events are found or the file starts. The bytes after the last newline
 * are an unfinished line when following (a writer may be mid-line): they are left for the follow loop, which starts
 * at `resumeAt`; otherwise they are parsed as the newest line.
 */
async function lastEvents(
  handle: FileHandle,
  size: number,
  count: number,
  follow: boolean,
): Promise<{ events: AuditEvent[]; resumeAt: number }> {
  const newestFirst: AuditEvent[] = [];
  let trailing: Buffer | undefined;
  const take = (bytes: Buffer): void => {
    if (newestFirst.length >= count) return;
    const event = parseAuditLine(bytes.toString('utf8'));
    if (event !== undefined) newestFirst.push(event);
  };
  let position = size;
  let carry: Buffer = Buffer.alloc(0);
  while (position > 0 && (trailing === undefined || newestFirst.length < count)) {
    const start = Math.max(0, position - CHUNK_BYTES);
    const chunk = Buffer.alloc(position - start);
    await handle.read(chunk, 0, chunk.length, start);
    const buffer = Buffer.concat([chunk, carry]);
    let end = buffer.length;
    while (end > 0) {
      const newline = buffer.lastIndexOf(0x0a, end - 1);
      if (newline === -1) break;
      const line = buffer.subarray(newline + 1, end);
      if (trailing === undefined) trailing = line;
      else take(line);
      end = newline;
    }
    carry = buffer.subarray(0, end);
    if (carry.length > MAX_LINE_BYTES) carry = Buffer.alloc(0);
    position = start;
  }
  if (position === 0) {
    if (trailing === undefined) trailing = carry;
    else take(carry);
  }
  trailing ??= Buffer.alloc(0);
  if (follow) return { events: newestFirst.reverse(), resumeAt: size - trailing.length };
  // Not following: the unfinished line is the newest one, ahead of everything found so far.
  const event = trailing.length > 0 ? parseAuditLine(trailing.toString('utf8')) : undefined;
  const events = event === undefined ? newestFirst : [event, ...newestFirst];
  return { events: events.slice(0, count).reverse(), resumeAt: size };
}

const LOGON_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(LogonType).map(([name, n]) => [n, name]));

const TITLES: Readonly<Record<AuditEvent['eventId'], string>> = {
  4624: 'logon success',
  4625: 'logon failure',
  4656: 'access denied',
};

/**
 * Control characters (a name typed with a newline, an escape sequence for the terminal) are shown escaped, so one
 * event is always exactly one line and cannot forge another or repaint the operator's screen.
 */
function printable(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One human line: time, event id and title, account, logon type, package, client, status and sub-status. */
export function formatAuditEvent(e: AuditEvent): string {
  const parts: string[] = [`${e.time} ${e.eventId} ${TITLES[e.eventId] ?? 'event'}`];
  parts.push(e.domain === '' ? e.account || '-' : `${e.domain}\\${e.account}`);
  if (e.logonType !== undefined) parts.push(`logon type ${e.logonType} ${LOGON_TYPE_NAMES[e.logonType] ?? 'unknown'}`);
  if (e.package !== undefined) parts.push(`package ${e.package}`);
  if (e.clientAddress !== undefined) parts.push(`client ${e.clientAddress}`);
  if (e.status !== undefined) parts.push(`status ${e.status}${e.statusCode === undefined ? '' : ` (${e.statusCode})`}`);
  if (e.subStatus !== undefined) parts.push(`sub-status ${e.subStatus}${e.subStatusCode === undefined ? '' : ` (${e.subStatusCode})`}`);
  if (e.object !== undefined) parts.push(`object ${e.object}`);
  if (e.desiredAccess !== undefined) parts.push(`desired access ${e.desiredAccess}`);
  if (e.logonId !== undefined) parts.push(`logon id ${e.logonId}`);
  if (e.traceId !== undefined) parts.push(`trace ${e.traceId}`);
  if (e.reason !== undefined) parts.push(`reason: ${e.reason}`);
  return printable(parts.join(' · '));
}
