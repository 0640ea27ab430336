/**
 * The wire format between a worker and its pool's forker (native/persona-forker.c, whose header comment is the
 * protocol's reference): the spawn request a worker sends (on a fresh connection, or as a SPAWN message on its
 * control connection), and the messages either side sends on the control connection. The worker checks a request here first (`parseSpawnRequest`: the forker checks
 * again, it trusts no worker) so that a caller's mistake is a clear refusal, not a malformed-request event.
 */
import os from 'node:os';
import { isValidAccountName } from './os-accounts.js';
import type { OsAccount, SpawnRequest } from './spawn.js';

export const SPAWN_LIMITS = {
  /** Request ids are positive integers below this (worker-chosen, unique among its live processes). */
  maxId: 2 ** 31,
  /** PATH_MAX, in UTF-8 bytes. */
  maxPathBytes: 4096,
  /** Linux MAX_ARG_STRLEN: the kernel refuses longer single arguments or environment strings anyway. */
  maxStringBytes: 128 * 1024,
  maxArgs: 4096,
  maxEnvEntries: 4096,
  /** file + args + env together; execve's own limit is about 2 MiB. */
  maxTotalBytes: 1024 * 1024,
  /** In UTF-8 bytes (the forker counts bytes). */
  maxPurposeBytes: 1024,
} as const;

/** The 8-byte prefix of a connection: a kind and a number (a length, or PSIN's id; big-endian), as the forker reads them. */
export function connectionPrefix(kind: 'PCTL' | 'PSPN' | 'PSIN', length: number): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.write(kind, 0, 'latin1');
  prefix.writeUInt32BE(length, 4);
  return prefix;
}

/** A request that passed checkSpawnRequest: its fields, and the environment as a list, ready to encode. */
export interface CheckedSpawnRequest {
  readonly fields: Omit<SpawnRequest, 'env'>;
  readonly env: readonly (readonly [string, string])[];
}

/** A fresh, validated SpawnRequest, or why the value is not one. Never throws. */
export function parseSpawnRequest(value: unknown): SpawnRequest | string {
  const checked = checkSpawnRequest(value);
  // Object.fromEntries defines own properties: a "__proto__" variable stays a variable.
  return typeof checked === 'string' ? checked : { ...checked.fields, env: Object.fromEntries(checked.env) };
}

/** parseSpawnRequest's checks, without building a new request: what a worker does before each spawn. */
export function checkSpawnRequest(value: unknown): CheckedSpawnRequest | string {
  if (!isPlainRecord(value)) return 'request: not an object';
  const extra = Object.keys(value).find((key) => !['account', 'file', 'args', 'env', 'cwd', 'purpose', 'stdin'].includes(key));
  if (extra !== undefined) return `request: unexpected field ${JSON.stringify(extra.slice(0, 64))}`;
  const { account, file, args, env, cwd, purpose, stdin } = value;
  if (stdin !== undefined && stdin !== 'pipe' && stdin !== 'none') return 'request.stdin: neither "pipe" nor "none"';
  if (typeof account !== 'string' || !isValidAccountName(account)) return 'request.account: not a valid account name';
  const fileProblem = absolutePathProblem(file);
  if (fileProblem) return `request.file: ${fileProblem}`;
  const cwdProblem = absolutePathProblem(cwd);
  if (cwdProblem) return `request.cwd: ${cwdProblem}`;
  if (typeof purpose !== 'string') return 'request.purpose: not a string';
  if (!Array.isArray(args) || args.length > SPAWN_LIMITS.maxArgs) return `request.args: not an array of at most ${SPAWN_LIMITS.maxArgs} strings`;
  // Sizes are in UTF-8 bytes, counted exactly only where a limit could be reached: a string of n UTF-16 units has
  // at most 3n bytes, and a CGI environment (this runs once per CGI request) is far below every limit.
  let upper = atMostBytes(file as string);
  const argList: string[] = [];
  for (const arg of args as unknown[]) {
    const problem = execStringProblem(arg);
    if (problem) return `request.args: ${problem}`;
    argList.push(arg as string);
    upper += atMostBytes(arg as string) + 1;
  }
  if (!isPlainRecord(env)) return 'request.env: not an object';
  const keys = Object.keys(env);
  if (keys.length > SPAWN_LIMITS.maxEnvEntries) return `request.env: more than ${SPAWN_LIMITS.maxEnvEntries} variables`;
  const entries: [string, string][] = [];
  for (const key of keys) {
    const item = env[key];
    // A name may not be empty nor contain "=" (execve would split it elsewhere) nor NUL (it would be cut).
    if (key === '' || key.includes('=') || key.includes('\0')) return 'request.env: a variable name is empty or contains "=" or NUL';
    const problem = execStringProblem(item);
    if (problem) return `request.env: ${problem}`;
    const bytes = atMostBytes(key) + 1 + atMostBytes(item as string);
    if (bytes > SPAWN_LIMITS.maxStringBytes && Buffer.byteLength(key) + 1 + Buffer.byteLength(item as string) > SPAWN_LIMITS.maxStringBytes) {
      return `request.env: ${key} is longer than ${SPAWN_LIMITS.maxStringBytes} bytes`;
    }
    entries.push([key, item as string]);
    upper += bytes + 1;
  }
  if (upper > SPAWN_LIMITS.maxTotalBytes && exactTotal(file as string, argList, entries) > SPAWN_LIMITS.maxTotalBytes) return `request: arguments and environment exceed ${SPAWN_LIMITS.maxTotalBytes} bytes`;
  return {
    fields: {
      account,
      file: file as string,
      args: argList,
      cwd: cwd as string,
      purpose: purposeForWire(purpose),
      ...(stdin !== undefined && { stdin: stdin as 'pipe' | 'none' }),
    },
    env: entries,
  };
}

/** The purpose is only for logs and reasons: shortened and without NUL rather than refused. */
function purposeForWire(purpose: string): string {
  let text = purpose.replaceAll('\0', ' ');
  while (Buffer.byteLength(text) > SPAWN_LIMITS.maxPurposeBytes) text = text.slice(0, Math.floor(text.length * 0.9));
  return text;
}

/**
 * A spawn request on the wire: id, account, file, cwd, purpose, argc, args, envc, env (NUL-separated), after
 * - "PSPN" + its length (uint32 BE): the first bytes of a spawn connection, which becomes the program's stdout (an
 *   input connection follows and becomes its stdin), or, when stdin is 'none',
 * - "SPAWN <length>\n": a message on the control connection; the program reads /dev/null and the forker relays its
 *   stdout as STDOUT messages (no connection at all).
 */
export function encodeSpawnRequest(id: number, request: SpawnRequest): Buffer {
  const { env, ...fields } = request;
  return encodeCheckedSpawnRequest(id, { fields, env: Object.entries(env) });
}

export function encodeCheckedSpawnRequest(id: number, checked: CheckedSpawnRequest): Buffer {
  const request = checked.fields;
  let text = `${id}\0${request.account}\0${request.file}\0${request.cwd}\0${request.purpose}\0${request.args.length}`;
  for (const arg of request.args) text += `\0${arg}`;
  text += `\0${checked.env.length}`;
  for (const [name, value] of checked.env) text += `\0${name}=${value}`;
  const length = Buffer.byteLength(text);
  const prefix = request.stdin === 'none' ? Buffer.from(`SPAWN ${length}\n`, 'latin1') : connectionPrefix('PSPN', length);
  const bytes = Buffer.allocUnsafe(prefix.length + length);
  prefix.copy(bytes);
  bytes.write(text, prefix.length, 'utf8');
  return bytes;
}

/** The worker's hold on a relayed stdout (SPAWN): stop reading it, read it again, or close it (STDOUTEND follows). */
export function outputLine(what: 'PAUSE' | 'RESUME' | 'DROP', id: number): string {
  return `${what} ${id}\n`;
}

export type ControlMessage =
  | { readonly type: 'hello'; readonly pool: string }
  | { readonly type: 'started'; readonly id: number; readonly pid: number; readonly account: OsAccount }
  | { readonly type: 'refused'; readonly id: number; readonly status: number; readonly substatus: number; readonly reason: string }
  | { readonly type: 'stderr'; readonly id: number; readonly data: Buffer }
  | { readonly type: 'stderr-end'; readonly id: number }
  | { readonly type: 'stdout'; readonly id: number; readonly data: Buffer }
  | { readonly type: 'stdout-end'; readonly id: number }
  | { readonly type: 'exit'; readonly id: number; readonly code: number | null; readonly signal: NodeJS.Signals | null };

/** What the control stream held that is not a message: the worker drops the connection (the forker kills its processes). */
export class ControlProtocolError extends Error {}

const MAX_LINE = 64 * 1024;
const MAX_OUTPUT_CHUNK = 1024 * 1024;

/**
 * Splits the forker's control stream into messages. Incremental: feed chunks as they arrive, in any sizes. Throws
 * ControlProtocolError on anything malformed (the forker is trusted more than a worker, but a bug must not turn into
 * misattributed output).
 */
export class ControlParser {
  private buffered: Buffer = Buffer.alloc(0);
  /** While reading a STDERR or STDOUT payload: its kind, id and the bytes still to come. */
  private payload: Payload | undefined;

  push(chunk: Buffer): ControlMessage[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const messages: ControlMessage[] = [];
    for (;;) {
      if (this.payload) {
        if (this.buffered.length < this.payload.left) break;
        const data = this.buffered.subarray(0, this.payload.left);
        messages.push({ type: this.payload.type, id: this.payload.id, data: Buffer.from(data) });
        this.buffered = this.buffered.subarray(this.payload.left);
        this.payload = undefined;
        continue;
      }
      const newline = this.buffered.indexOf(0x0a);
      if (newline < 0) {
        if (this.buffered.length > MAX_LINE) throw new ControlProtocolError('a control line is too long');
        break;
      }
      const line = this.buffered.toString('latin1', 0, newline);
      this.buffered = this.buffered.subarray(newline + 1);
      const message = parseLine(line);
      if ('payload' in message) this.payload = message.payload;
      else messages.push(message);
    }
    return messages;
  }
}

interface Payload {
  readonly type: 'stderr' | 'stdout';
  readonly id: number;
  readonly left: number;
}

function parseLine(line: string): ControlMessage | { readonly payload: Payload } {
  const fields = line.split(' ');
  const bad = (): never => {
    throw new ControlProtocolError(`unexpected control line ${JSON.stringify(line.slice(0, 80))}`);
  };
  const id = (): number => {
    const value = Number(fields[1]);
    return /^[1-9][0-9]{0,9}$/.test(fields[1] ?? '') && value < SPAWN_LIMITS.maxId ? value : bad();
  };
  const count = (text: string | undefined): number => (text !== undefined && /^(0|[1-9][0-9]{0,9})$/.test(text) ? Number(text) : bad());
  switch (fields[0]) {
    case 'HELLO':
      return fields.length === 2 ? { type: 'hello', pool: unescape(fields[1]!) } : bad();
    case 'STARTED': {
      if (fields.length !== 8) bad();
      const groups = fields[5] === '' ? [] : fields[5]!.split(',').map(count);
      const account: OsAccount = { uid: count(fields[3]), gid: count(fields[4]), groups, name: unescape(fields[6]!), home: unescape(fields[7]!) };
      return { type: 'started', id: id(), pid: count(fields[2]), account };
    }
    case 'REFUSED':
      return fields.length === 5 ? { type: 'refused', id: id(), status: count(fields[2]), substatus: count(fields[3]), reason: unescape(fields[4]!) } : bad();
    case 'STDERR':
    case 'STDOUT': {
      if (fields.length !== 3) bad();
      const left = count(fields[2]);
      return left > 0 && left <= MAX_OUTPUT_CHUNK ? { payload: { type: fields[0] === 'STDERR' ? 'stderr' : 'stdout', id: id(), left } } : bad();
    }
    case 'STDERREND':
      return fields.length === 2 ? { type: 'stderr-end', id: id() } : bad();
    case 'STDOUTEND':
      return fields.length === 2 ? { type: 'stdout-end', id: id() } : bad();
    case 'EXIT': {
      if (fields.length !== 4) bad();
      const code = fields[2] === '-' ? null : count(fields[2]);
      // The forker sends the signal's number (Perl's names would need its large Config module).
      const signal = fields[3] === '-' ? null : (SIGNAL_NAMES.get(count(fields[3])) ?? bad());
      return { type: 'exit', id: id(), code, signal };
    }
    default:
      return bad();
  }
}

/** The forker's %XX escaping of a field (whitespace, controls, "%"), undone. Bytes are UTF-8. */
function unescape(field: string): string {
  // Most fields (ids, numbers, ASCII names and paths) have nothing to undo.
  if (!/[%\x80-\xff]/.test(field)) return field;
  const bytes = Buffer.from(field.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  return bytes.toString('utf8');
}

/** Number → name, the first name of each number (SIGABRT before SIGIOT, SIGIO before SIGPOLL), as Node names a child's signal. */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(os.constants.signals)) if (!SIGNAL_NAMES.has(number)) SIGNAL_NAMES.set(number, name as NodeJS.Signals);

/** The control line asking the forker to signal a process's group. */
export function killLine(id: number, signal: NodeJS.Signals): string {
  return `KILL ${id} ${signal}\n`;
}

export function isSignalName(value: unknown): value is NodeJS.Signals {
  return typeof value === 'string' && Object.hasOwn(os.constants.signals, value);
}

function absolutePathProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.startsWith('/')) return 'not an absolute path';
  if (value.includes('\0')) return 'contains NUL';
  if (Buffer.byteLength(value) > SPAWN_LIMITS.maxPathBytes) return `longer than ${SPAWN_LIMITS.maxPathBytes} bytes`;
  return undefined;
}

/** An upper bound of a string's UTF-8 length: 3 bytes per UTF-16 unit at most (a surrogate pair: 4 for 2). */
function atMostBytes(value: string): number {
  return value.length * 3;
}

/** file + args + env in UTF-8 bytes, each string with its terminating NUL (env strings as NAME=VALUE). */
function exactTotal(file: string, args: readonly string[], env: readonly (readonly [string, string])[]): number {
  let total = Buffer.byteLength(file);
  for (const arg of args) total += Buffer.byteLength(arg) + 1;
  for (const [key, value] of env) total += Buffer.byteLength(key) + Buffer.byteLength(value) + 2;
  return total;
}

function execStringProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'not a string';
  if (value.includes('\0')) return 'contains NUL';
  if (atMostBytes(value) > SPAWN_LIMITS.maxStringBytes && Buffer.byteLength(value) > SPAWN_LIMITS.maxStringBytes) return `a string is longer than ${SPAWN_LIMITS.maxStringBytes} bytes`;
  return undefined;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
