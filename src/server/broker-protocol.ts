/**
 * The spawn broker's messages over a worker's Node IPC channel, and the pure checks the launcher applies to them.
 *
 * The worker runs as its pool's (unprivileged) OS account; the launcher runs as root. Everything a worker sends is
 * therefore untrusted input: a compromised worker must get nothing beyond its pool's policy. `parseWorkerMessage`
 * never throws, accepts only exactly-shaped messages within fixed bounds, and builds fresh values (nothing of the
 * worker's object is passed on). `brokerPolicyDecision` is the "Replace a process level token" rule.
 *
 * Worker → launcher: `spawn` (id, request), `kill` (id, signal).
 * Launcher → worker: three `stdio` messages each carrying one end of the child's stdio as a handle, then `spawned`
 * (pid, account), later `exit`; or `refused` instead of all of them.
 */
import os from 'node:os';
import { isValidAccountName } from '../identity/os-accounts.js';
import type { OsAccount, ProcessExit, SpawnRefusal, SpawnRequest } from '../identity/spawn.js';

/** Every broker message carries `persona: 'broker'`; other messages on the same channel belong to someone else. */
export const BROKER_TAG = 'broker';

export const BROKER_LIMITS = {
  /** Processes (starting or running) one worker may have at a time. */
  maxLiveProcesses: 256,
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
  maxPurposeChars: 1024,
} as const;

export type StdioName = 'stdin' | 'stdout' | 'stderr';
export const STDIO_NAMES: readonly StdioName[] = ['stdin', 'stdout', 'stderr'];

export interface SpawnMessage {
  readonly persona: typeof BROKER_TAG;
  readonly type: 'spawn';
  readonly id: number;
  readonly request: SpawnRequest;
}
export interface KillMessage {
  readonly persona: typeof BROKER_TAG;
  readonly type: 'kill';
  readonly id: number;
  readonly signal: NodeJS.Signals;
}
export type WorkerMessage = SpawnMessage | KillMessage;

export interface StdioMessage {
  readonly persona: typeof BROKER_TAG;
  readonly type: 'stdio';
  readonly id: number;
  readonly stream: StdioName;
}
export interface SpawnedMessage {
  readonly persona: typeof BROKER_TAG;
  readonly type: 'spawned';
  readonly id: number;
  readonly pid: number;
  readonly account: OsAccount;
}
export interface RefusedMessage extends Omit<SpawnRefusal, 'kind'> {
  readonly persona: typeof BROKER_TAG;
  readonly type: 'refused';
  readonly id: number;
}
export interface ExitMessage extends ProcessExit {
  readonly persona: typeof BROKER_TAG;
  readonly type: 'exit';
  readonly id: number;
}
export type LauncherMessage = StdioMessage | SpawnedMessage | RefusedMessage | ExitMessage;

export interface BrokerPolicy {
  /** The application pool's name, for the reason. */
  readonly pool: string;
  /** The OS account the pool's worker runs as: it may always start processes as this account. */
  readonly poolAccount: string;
  /** IIS "Replace a process level token" (SeAssignPrimaryTokenPrivilege): may start processes as other accounts. */
  readonly replaceProcessToken: boolean;
}

/** What the launcher makes of one message from a worker. */
export type ParsedWorkerMessage =
  | { readonly kind: 'not-broker' }
  | { readonly kind: 'spawn'; readonly id: number; readonly request: SpawnRequest }
  | { readonly kind: 'kill'; readonly id: number; readonly signal: NodeJS.Signals }
  /** A broker message that is not acceptable; `id` when one could be read, so the worker can be answered. */
  | { readonly kind: 'invalid'; readonly id: number | undefined; readonly reason: string };

export function isBrokerMessage(value: unknown): value is Record<string, unknown> & { persona: typeof BROKER_TAG } {
  return isPlainRecord(value) && value.persona === BROKER_TAG;
}

/** Never throws, whatever `value` is. */
export function parseWorkerMessage(value: unknown): ParsedWorkerMessage {
  if (!isBrokerMessage(value)) return { kind: 'not-broker' };
  const id = isValidId(value.id) ? value.id : undefined;
  const invalid = (reason: string): ParsedWorkerMessage => ({ kind: 'invalid', id, reason });
  if (id === undefined) return invalid('the message has no valid id');
  if (value.type === 'spawn') {
    const extra = unexpectedKeys(value, ['persona', 'type', 'id', 'request']);
    if (extra) return invalid(extra);
    const request = parseSpawnRequest(value.request);
    return typeof request === 'string' ? invalid(request) : { kind: 'spawn', id, request };
  }
  if (value.type === 'kill') {
    const extra = unexpectedKeys(value, ['persona', 'type', 'id', 'signal']);
    if (extra) return invalid(extra);
    if (!isSignalName(value.signal)) return invalid('kill: signal is not a signal name');
    return { kind: 'kill', id, signal: value.signal };
  }
  return invalid('unknown message type');
}

/** A fresh, validated SpawnRequest, or why the value is not one. */
export function parseSpawnRequest(value: unknown): SpawnRequest | string {
  if (!isPlainRecord(value)) return 'request: not an object';
  const extra = unexpectedKeys(value, ['account', 'file', 'args', 'env', 'cwd', 'purpose']);
  if (extra) return `request: ${extra}`;
  const { account, file, args, env, cwd, purpose } = value;
  if (typeof account !== 'string' || !isValidAccountName(account)) return 'request.account: not a valid account name';
  const fileProblem = absolutePathProblem(file);
  if (fileProblem) return `request.file: ${fileProblem}`;
  const cwdProblem = absolutePathProblem(cwd);
  if (cwdProblem) return `request.cwd: ${cwdProblem}`;
  if (typeof purpose !== 'string' || purpose.length > BROKER_LIMITS.maxPurposeChars) return `request.purpose: not a string of at most ${BROKER_LIMITS.maxPurposeChars} characters`;
  if (!Array.isArray(args) || args.length > BROKER_LIMITS.maxArgs) return `request.args: not an array of at most ${BROKER_LIMITS.maxArgs} strings`;
  let total = Buffer.byteLength(file as string);
  const argList: string[] = [];
  for (const arg of args as unknown[]) {
    const problem = execStringProblem(arg);
    if (problem) return `request.args: ${problem}`;
    argList.push(arg as string);
    total += Buffer.byteLength(arg as string) + 1;
  }
  if (!isPlainRecord(env)) return 'request.env: not an object';
  const keys = Object.keys(env);
  if (keys.length > BROKER_LIMITS.maxEnvEntries) return `request.env: more than ${BROKER_LIMITS.maxEnvEntries} variables`;
  const entries: [string, string][] = [];
  for (const key of keys) {
    const item = env[key];
    // A name may not be empty nor contain "=" (execve would split it elsewhere) nor NUL (it would be cut).
    if (key === '' || key.includes('=') || key.includes('\0')) return 'request.env: a variable name is empty or contains "=" or NUL';
    const problem = execStringProblem(item);
    if (problem) return `request.env: ${problem}`;
    entries.push([key, item as string]);
    total += Buffer.byteLength(key) + Buffer.byteLength(item as string) + 2;
  }
  if (total > BROKER_LIMITS.maxTotalBytes) return `request: arguments and environment exceed ${BROKER_LIMITS.maxTotalBytes} bytes`;
  // Object.fromEntries defines own properties: a "__proto__" variable stays a variable.
  return { account, file: file as string, args: argList, env: Object.fromEntries(entries), cwd: cwd as string, purpose };
}

/**
 * The pool's right to start processes as other accounts (IIS: a CGI with createProcessAsUser needs the pool identity
 * to hold "Replace a process level token"; without it the pool can only run processes as itself). Pure.
 */
export function brokerPolicyDecision(policy: BrokerPolicy, request: SpawnRequest): SpawnRefusal | undefined {
  if (request.account === policy.poolAccount || policy.replaceProcessToken) return undefined;
  return {
    kind: 'refused',
    status: 403,
    substatus: 19,
    reason:
      `application pool ${policy.pool} is not granted replaceProcessToken (IIS: Replace a process level token), so it cannot start CGI as the user: ` +
      `${request.purpose} asked for OS account "${request.account}", the pool runs as "${policy.poolAccount}"`,
  };
}

export function isValidId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < BROKER_LIMITS.maxId;
}

export function isSignalName(value: unknown): value is NodeJS.Signals {
  return typeof value === 'string' && Object.hasOwn(os.constants.signals, value);
}

function absolutePathProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.startsWith('/')) return 'not an absolute path';
  if (value.includes('\0')) return 'contains NUL';
  if (Buffer.byteLength(value) > BROKER_LIMITS.maxPathBytes) return `longer than ${BROKER_LIMITS.maxPathBytes} bytes`;
  return undefined;
}

function execStringProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'not a string';
  if (value.includes('\0')) return 'contains NUL';
  if (Buffer.byteLength(value) > BROKER_LIMITS.maxStringBytes) return `a string is longer than ${BROKER_LIMITS.maxStringBytes} bytes`;
  return undefined;
}

function unexpectedKeys(value: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  const extra = Object.keys(value).find((key) => !allowed.includes(key));
  return extra === undefined ? undefined : `unexpected field ${JSON.stringify(extra.slice(0, 64))}`;
}

/** An object that is not an array (IPC delivers JSON, or structured clones with "advanced" serialization). */
function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
