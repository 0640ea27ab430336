/**
 * The spawn broker: the only way a worker (running as its pool's OS account, never root) gets a process started as
 * another OS account. The launcher side (`attachBroker`) listens on a worker's IPC channel, applies the pool's policy
 * and starts the process with the launcher's spawner (setpriv as root); the worker side (`brokerSpawner`) is a
 * ProcessSpawner that asks for it. The child's stdio ends are sent to the worker as handles, so request and response
 * bodies flow between the worker and the process directly, never through the launcher.
 *
 * Trust: the launcher treats every message as untrusted (protocol checks in broker-protocol.ts), bounds the number of
 * processes per worker, only ever signals that worker's own processes, and kills all of them when the worker goes.
 */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { PassThrough, pipeline, type Readable, type Writable } from 'node:stream';
import type { OsAccount, ProcessExit, ProcessSpawner, SpawnCapability, SpawnedProcess, SpawnRefusal, SpawnRequest } from '../identity/spawn.js';
import { isSpawnRefusal } from '../identity/spawn.js';
import {
  BROKER_LIMITS,
  BROKER_TAG,
  brokerPolicyDecision,
  isBrokerMessage,
  isValidId,
  parseWorkerMessage,
  STDIO_NAMES,
  type BrokerPolicy,
  type LauncherMessage,
  type StdioName,
  type WorkerMessage,
} from './broker-protocol.js';

export type { BrokerPolicy } from './broker-protocol.js';

/** What the launcher may want to log (never anything secret: requests carry no credentials). */
export type BrokerEvent =
  | { readonly kind: 'invalid-message'; readonly pool: string; readonly reason: string }
  | { readonly kind: 'refused'; readonly pool: string; readonly purpose: string; readonly account: string; readonly refusal: SpawnRefusal }
  | { readonly kind: 'spawned'; readonly pool: string; readonly purpose: string; readonly account: string; readonly pid: number };

export interface AttachBrokerOptions {
  /** Default BROKER_LIMITS.maxLiveProcesses. */
  readonly maxLiveProcesses?: number;
  readonly onEvent?: (event: BrokerEvent) => void;
}

/** How long an exited leader's process group may still be signalled (what it left running; CGI timeouts are long). */
const EXITED_GROUP_KILLABLE_MS = 15 * 60_000;
const MAX_EXITED_GROUPS = 256;

/**
 * Serves spawn requests from `worker` with `spawner`, within `policy`. Returns a function that stops serving and
 * kills every process of this worker (as a disconnect of the worker does).
 */
export function attachBroker(worker: ChildProcess, spawner: ProcessSpawner, policy: BrokerPolicy, options: AttachBrokerOptions = {}): () => void {
  const maxLive = options.maxLiveProcesses ?? BROKER_LIMITS.maxLiveProcesses;
  const emit = (event: BrokerEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // A logging hook must not take the broker down.
    }
  };
  /** Requests being started (process undefined) and running processes, by the worker's id. */
  const live = new Map<number, { process?: SpawnedProcess; pendingSignal?: NodeJS.Signals }>();
  /** Exited leaders whose group may still hold processes, oldest first. */
  const exitedGroups = new Map<number, { readonly process: SpawnedProcess; readonly at: number }>();
  let closed = false;

  /**
   * Messages not yet written. Node holds messages behind a handle until the worker acknowledges it, and a worker that
   * dies meanwhile leaves them unsent, without calling back: shutDown settles them (and closes their handles).
   */
  const unsent = new Set<{ readonly settle: (ok: boolean) => void; readonly handle?: NativeHandle }>();
  const send = (message: LauncherMessage, handle?: NativeHandle): Promise<boolean> =>
    new Promise((resolve) => {
      if (closed || !worker.connected) {
        resolve(false);
        return;
      }
      const item = {
        settle: (ok: boolean): void => {
          unsent.delete(item);
          resolve(ok);
        },
        handle,
      };
      unsent.add(item);
      try {
        // With a callback, a channel that closes meanwhile reports here instead of as an 'error' event.
        worker.send(message, handle as unknown as net.Socket | undefined, (error) => item.settle(!error));
      } catch {
        item.settle(false);
      }
    });

  const refuse = (id: number, refusal: SpawnRefusal): void => {
    void send({ persona: BROKER_TAG, type: 'refused', id, status: refusal.status, substatus: refusal.substatus, reason: refusal.reason });
  };

  const start = async (id: number, request: SpawnRequest): Promise<void> => {
    if (live.has(id)) {
      refuse(id, { kind: 'refused', status: 500, substatus: 0, reason: `broker: request id ${id} is already in use by this worker` });
      return;
    }
    if (live.size >= maxLive) {
      const refusal: SpawnRefusal = { kind: 'refused', status: 503, substatus: 2, reason: `application pool ${policy.pool} already has ${live.size} processes started through the broker (limit ${maxLive})` };
      emit({ kind: 'refused', pool: policy.pool, purpose: request.purpose, account: request.account, refusal });
      refuse(id, refusal);
      return;
    }
    const denied = brokerPolicyDecision(policy, request);
    if (denied) {
      emit({ kind: 'refused', pool: policy.pool, purpose: request.purpose, account: request.account, refusal: denied });
      refuse(id, denied);
      return;
    }
    const entry: { process?: SpawnedProcess; pendingSignal?: NodeJS.Signals } = {};
    live.set(id, entry);
    let result: SpawnedProcess | SpawnRefusal;
    try {
      result = await spawner.spawn(request);
    } catch (error) {
      result = { kind: 'refused', status: 500, substatus: 0, reason: `broker: starting ${request.purpose} failed: ${(error as Error).message}` };
    }
    if (isSpawnRefusal(result)) {
      live.delete(id);
      emit({ kind: 'refused', pool: policy.pool, purpose: request.purpose, account: request.account, refusal: result });
      refuse(id, result);
      return;
    }
    const child = result;
    // Before anything else (no I/O may happen first), take the pipe handles out of the child's stdio sockets:
    // - Node starts reading a child's output as soon as it creates the socket, and handles sent while an earlier
    //   one awaits its acknowledgement are queued; what the child writes meanwhile would be read here and lost;
    // - Node destroys a child's stdin socket when the child exits, which can happen while its handle is queued:
    //   the worker would get the message without the handle.
    // Detached, they are ours alone; they are sent as native handles and closed here once sent.
    const ends = takeStdioHandles(child);
    if (typeof ends === 'string') {
      child.killGroup('SIGKILL');
      for (const stream of [child.stdin, child.stdout, child.stderr]) stream.destroy();
      live.delete(id);
      refuse(id, { kind: 'refused', status: 500, substatus: 0, reason: `broker: ${ends}` });
      return;
    }
    entry.process = child;
    if (closed) {
      child.killGroup('SIGKILL');
      for (const handle of Object.values(ends)) closeHandle(handle);
      return;
    }
    if (entry.pendingSignal) child.killGroup(entry.pendingSignal);
    emit({ kind: 'spawned', pool: policy.pool, purpose: request.purpose, account: child.account.name, pid: child.pid });
    const sent = await Promise.all(
      STDIO_NAMES.map(async (stream) => {
        const ok = await send({ persona: BROKER_TAG, type: 'stdio', id, stream }, ends[stream]);
        // Once written, the descriptor travels with the message (SCM_RIGHTS): the launcher's copy can go.
        closeHandle(ends[stream]);
        return ok;
      }),
    );
    const announced = sent.every(Boolean) && (await send({ persona: BROKER_TAG, type: 'spawned', id, pid: child.pid, account: child.account }));
    if (!announced) {
      // The worker is gone (its disconnect kills the rest) or will never be able to use the process.
      child.killGroup('SIGKILL');
    }
    const exit = await child.exited;
    live.delete(id);
    rememberExitedGroup(id, child);
    void send({ persona: BROKER_TAG, type: 'exit', id, code: exit.code, signal: exit.signal });
  };

  const rememberExitedGroup = (id: number, child: SpawnedProcess): void => {
    if (closed) {
      child.killGroup('SIGKILL');
      return;
    }
    exitedGroups.delete(id);
    exitedGroups.set(id, { process: child, at: Date.now() });
    if (exitedGroups.size > MAX_EXITED_GROUPS) exitedGroups.delete(exitedGroups.keys().next().value!);
  };

  const kill = (id: number, signal: NodeJS.Signals): void => {
    // Only ids of this worker's own map can be reached: no other worker's process, no arbitrary pid.
    const entry = live.get(id);
    if (entry) {
      if (entry.process) entry.process.killGroup(signal);
      else entry.pendingSignal = signal;
      return;
    }
    const exited = exitedGroups.get(id);
    if (exited && Date.now() - exited.at < EXITED_GROUP_KILLABLE_MS) exited.process.killGroup(signal);
  };

  const onMessage = (message: unknown, handle: unknown): void => {
    if (!isBrokerMessage(message)) return; // Someone else's message on the same channel.
    if (handle) closeHandle(handle); // The broker never takes handles from a worker: drop, don't leak the fd.
    const parsed = parseWorkerMessage(message);
    switch (parsed.kind) {
      case 'spawn':
        void start(parsed.id, parsed.request).catch(() => undefined);
        return;
      case 'kill':
        kill(parsed.id, parsed.signal);
        return;
      case 'invalid':
        emit({ kind: 'invalid-message', pool: policy.pool, reason: parsed.reason });
        // Answer when there is an id, so a buggy worker fails fast; but never about an id that is in use.
        if (parsed.id !== undefined && !live.has(parsed.id) && (message as { type?: unknown }).type === 'spawn') {
          refuse(parsed.id, { kind: 'refused', status: 500, substatus: 0, reason: `broker: malformed spawn request: ${parsed.reason}` });
        }
        return;
      case 'not-broker':
        return;
    }
  };

  const shutDown = (): void => {
    if (closed) return;
    closed = true;
    worker.off('message', onMessage);
    worker.off('disconnect', shutDown);
    worker.off('exit', shutDown);
    for (const entry of live.values()) entry.process?.killGroup('SIGKILL');
    for (const { process: child } of exitedGroups.values()) child.killGroup('SIGKILL');
    exitedGroups.clear();
    for (const item of [...unsent]) {
      if (item.handle) closeHandle(item.handle);
      item.settle(false);
    }
  };

  guardInternalMessages(worker);
  worker.on('message', onMessage);
  worker.once('disconnect', shutDown);
  worker.once('exit', shutDown);
  return shutDown;
}

const guarded = new WeakSet<ChildProcess>();

/**
 * Node's IPC trusts its peer: messages whose `cmd` starts with "NODE_" are handled by Node itself, before any
 * 'message' listener, and two of them crash the parent — a NODE_HANDLE_ACK/NACK that arrives when no handle is
 * waiting for one fails an internal assertion, and a NODE_HANDLE naming an unknown handle type throws a TypeError.
 * A compromised worker (it runs as a less privileged account) could so take the root launcher down with one line.
 * This listener runs first and makes both harmless: it gives Node an empty handle queue to acknowledge, and it closes
 * any handle a worker sends (workers never send handles to the launcher) and relabels it as a plain native handle
 * for Node, with a broker message that the broker ignores. Uses Node internals (`_handleQueue`, 'internalMessage');
 * the broker tests send these messages, so a Node that changes them fails a test instead of the launcher.
 */
function guardInternalMessages(worker: ChildProcess): void {
  if (guarded.has(worker)) return;
  guarded.add(worker);
  const internals = worker as ChildProcess & { _handleQueue?: unknown[] | null };
  worker.prependListener('internalMessage' as 'message', (message: unknown, handle: unknown) => {
    if (typeof message !== 'object' || message === null) return;
    const m = message as { cmd?: unknown; type?: unknown; msg?: unknown };
    if ((m.cmd === 'NODE_HANDLE_ACK' || m.cmd === 'NODE_HANDLE_NACK') && !Array.isArray(internals._handleQueue)) internals._handleQueue = [];
    if (m.cmd === 'NODE_HANDLE' && handle) {
      closeHandle(handle);
      m.type = 'net.Native';
      m.msg = { persona: BROKER_TAG, type: 'unexpected-handle' };
    }
  });
}

/** A libuv pipe handle as Node wraps it (internal): what a net.Socket reads and writes through. */
interface NativeHandle {
  reading?: boolean;
  readStop(): number;
  close(): void;
}

/**
 * The child's stdio pipe handles, detached from their sockets (no longer read, nor closed by Node when the child
 * exits); or why they cannot be passed. Internal: a socket's `_handle`; pause() does not stop a handle from reading.
 */
function takeStdioHandles(child: SpawnedProcess): Record<StdioName, NativeHandle> | string {
  const streams = { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr };
  const handles: Partial<Record<StdioName, NativeHandle>> = {};
  for (const name of STDIO_NAMES) {
    const stream = streams[name];
    if (!(stream instanceof net.Socket)) return `the spawner's ${name} is not a pipe socket whose handle can be passed`;
    const socket = stream as unknown as { _handle: NativeHandle | null };
    const handle = socket._handle;
    if (!handle || typeof handle.readStop !== 'function') return `the spawner's ${name} is already closed`;
    if (name !== 'stdin') {
      handle.readStop();
      handle.reading = false;
      if (stream.readableLength > 0) return `the child's ${name} was read by the launcher before it could be passed to the worker`;
    }
    handles[name] = handle;
  }
  for (const name of STDIO_NAMES) {
    (streams[name] as unknown as { _handle: NativeHandle | null })._handle = null;
    // Without a handle, destroying only settles the socket (Node's ChildProcess counts their 'close').
    streams[name].destroy();
  }
  return handles as Record<StdioName, NativeHandle>;
}

function isNativeHandle(value: unknown): value is NativeHandle {
  return typeof value === 'object' && value !== null && typeof (value as { readStart?: unknown }).readStart === 'function' && typeof (value as NativeHandle).close === 'function';
}

function closeHandle(handle: unknown): void {
  try {
    const h = handle as { destroy?: () => void; close?: () => void };
    if (typeof h.destroy === 'function') h.destroy();
    else if (typeof h.close === 'function') h.close();
  } catch {
    // Already closed.
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Worker side.

export interface BrokerSpawnerOptions {
  /** How long to wait for the launcher's answer to a spawn request. Default 10 s. */
  readonly timeoutMs?: number;
}

interface Pending {
  readonly request: SpawnRequest;
  /** The sockets received; stdout and stderr are handed out through `outputs`. */
  readonly stdio: Partial<Record<StdioName, net.Socket>>;
  readonly outputs: Partial<Record<'stdout' | 'stderr', PassThrough>>;
  spawned?: { pid: number; account: OsAccount };
  exit?: ProcessExit;
  /** Set while the caller still waits for the SpawnedProcess. */
  resolve?: (result: SpawnedProcess | SpawnRefusal) => void;
  /** Set once the SpawnedProcess was handed out. */
  resolveExit?: (exit: ProcessExit) => void;
  timer?: NodeJS.Timeout;
  /** The caller gave up (timeout): whatever still arrives is closed and killed. */
  abandoned?: boolean;
}

/**
 * A ProcessSpawner for a worker: asks the launcher over `channel` (the worker's IPC channel). Concurrent spawns are
 * told apart by id. While requests or processes are outstanding it listens on the channel (which keeps it ref'd);
 * otherwise it leaves the channel's ref count as the worker set it.
 */
export function brokerSpawner(capability: SpawnCapability, channel: NodeJS.Process = process, options: BrokerSpawnerOptions = {}): ProcessSpawner {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let listening = false;

  const post = (message: WorkerMessage): boolean => {
    if (!channel.send || !channel.connected) return false;
    try {
      channel.send(message, undefined, {}, () => undefined);
      return true;
    } catch {
      return false;
    }
  };

  const settle = (id: number): void => {
    const entry = pending.get(id);
    if (!entry) return;
    if (entry.abandoned) {
      // Too late: release what arrived and make sure the process does not outlive the request.
      for (const socket of Object.values(entry.stdio)) socket.destroy();
      if (entry.spawned && !entry.exit) post({ persona: BROKER_TAG, type: 'kill', id, signal: 'SIGKILL' });
      if (entry.exit) forget(id);
      return;
    }
    if (entry.resolve && entry.spawned && STDIO_NAMES.every((name) => entry.stdio[name])) {
      const resolve = entry.resolve;
      entry.resolve = undefined;
      clearTimeout(entry.timer);
      resolve(assemble(id, entry));
    }
    if (entry.exit && entry.resolveExit) {
      entry.resolveExit(entry.exit);
      forget(id);
    }
  };

  const assemble = (id: number, entry: Pending): SpawnedProcess => {
    const stdin = entry.stdio.stdin!;
    // The stdin end is a socket too: consume its (empty) readable side so it closes once the child is gone.
    stdin.resume();
    const exited = new Promise<ProcessExit>((resolve) => {
      entry.resolveExit = resolve;
    });
    const { pid, account } = entry.spawned!;
    return {
      pid,
      account,
      stdin: stdin as Writable,
      stdout: entry.outputs.stdout! as Readable,
      stderr: entry.outputs.stderr! as Readable,
      exited,
      killGroup(signal: NodeJS.Signals = 'SIGKILL') {
        post({ persona: BROKER_TAG, type: 'kill', id, signal });
      },
    };
  };

  const forget = (id: number): void => {
    const entry = pending.get(id);
    if (entry) clearTimeout(entry.timer);
    pending.delete(id);
    if (pending.size === 0) stopListening();
  };

  const onMessage = (message: unknown, handle: unknown): void => {
    if (!isBrokerMessage(message)) return;
    const m = message as Partial<LauncherMessage> & { persona: string };
    const entry = isValidId(m.id) ? pending.get(m.id) : undefined;
    if (!entry || (handle && m.type !== 'stdio')) {
      if (handle) closeHandle(handle); // nothing waits for it (e.g. a late answer): don't keep the descriptor
      if (!entry) return;
    }
    const id = m.id!;
    switch (m.type) {
      case 'stdio':
        if (isNativeHandle(handle) && m.stream && STDIO_NAMES.includes(m.stream) && !entry.stdio[m.stream]) {
          // As Node itself wraps a received socket handle (the `handle` option is internal to net).
          const socket = new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
          entry.stdio[m.stream] = socket;
          if (m.stream !== 'stdin') {
            // A received socket starts reading at once and, on an empty EOF, emits 'end' right away (net calls
            // read(0) after EOF), before the caller — who gets it only when all parts have arrived — can listen.
            // A PassThrough keeps data and the end until the caller reads; pipeline ties their errors and destroys.
            const output = new PassThrough();
            entry.outputs[m.stream] = output;
            pipeline(socket, output, () => undefined);
          }
        } else if (handle) closeHandle(handle);
        break;
      case 'spawned':
        entry.spawned = { pid: m.pid!, account: m.account! };
        break;
      case 'exit':
        entry.exit = { code: m.code ?? null, signal: m.signal ?? null };
        break;
      case 'refused':
        if (entry.resolve) {
          clearTimeout(entry.timer);
          entry.resolve({ kind: 'refused', status: m.status ?? 500, substatus: m.substatus ?? 0, reason: m.reason ?? 'refused by the launcher' });
        }
        for (const socket of Object.values(entry.stdio)) socket.destroy();
        forget(id);
        return;
      default:
        return;
    }
    settle(id);
  };

  const onDisconnect = (): void => {
    // The launcher is gone (it kills our processes when it sees us go; if it crashed, nobody knows): answer everyone.
    for (const [id, entry] of [...pending]) {
      if (entry.resolve) {
        clearTimeout(entry.timer);
        entry.resolve({ kind: 'refused', status: 500, substatus: 0, reason: `the launcher went away before ${entry.request.purpose} started` });
        entry.resolve = undefined;
      }
      if (entry.resolveExit) entry.resolveExit({ code: null, signal: null });
      else for (const socket of Object.values(entry.stdio)) socket.destroy(); // never handed out
      forget(id);
    }
  };

  const startListening = (): void => {
    if (listening) return;
    listening = true;
    channel.on('message', onMessage);
    channel.on('disconnect', onDisconnect);
  };
  const stopListening = (): void => {
    if (!listening) return;
    listening = false;
    channel.off('message', onMessage);
    channel.off('disconnect', onDisconnect);
  };

  return {
    capability,
    spawn(request: SpawnRequest): Promise<SpawnedProcess | SpawnRefusal> {
      return new Promise((resolve) => {
        let id = nextId;
        while (pending.has(id)) id = id + 1 >= BROKER_LIMITS.maxId ? 1 : id + 1;
        nextId = id + 1 >= BROKER_LIMITS.maxId ? 1 : id + 1;
        const entry: Pending = { request, stdio: {}, outputs: {}, resolve };
        pending.set(id, entry);
        startListening();
        if (!post({ persona: BROKER_TAG, type: 'spawn', id, request: { account: request.account, file: request.file, args: [...request.args], env: { ...request.env }, cwd: request.cwd, purpose: request.purpose } })) {
          forget(id);
          resolve({ kind: 'refused', status: 500, substatus: 0, reason: `cannot run ${request.purpose}: this worker has no IPC channel to the launcher's spawn broker` });
          return;
        }
        entry.timer = setTimeout(() => {
          if (!entry.resolve) return;
          entry.resolve = undefined;
          entry.abandoned = true;
          resolve({ kind: 'refused', status: 500, substatus: 0, reason: `cannot run ${request.purpose}: the launcher's spawn broker did not answer within ${timeoutMs} ms` });
          settle(id);
          // Keep listening a while for a late answer, so its handles are closed and its process killed.
          if (pending.has(id)) {
            entry.timer = setTimeout(() => {
              for (const socket of Object.values(entry.stdio)) socket.destroy();
              forget(id);
            }, timeoutMs);
            entry.timer.unref();
          }
        }, timeoutMs);
      });
    },
  };
}
