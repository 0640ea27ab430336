/**
 * A worker's ProcessSpawner: asks its pool's forker (native/persona-forker.c, root) to start processes as OS
 * accounts. One control connection carries the forker's answers (started/refused), the processes' stderr and exits,
 * and our kill requests.
 *
 * - A process with nothing to read (stdin 'none': a request without a body, most CGI requests) is asked for on the
 *   control connection itself (SPAWN) and its stdout comes back on it too, relayed by the forker with flow control
 *   (PAUSE/RESUME when our reader is full, DROP when it is gone): no connection is made per process. A socket per
 *   process was most of a worker's cost per CGI request (creating, connecting, tearing down ≈ 100 µs of its CPU).
 * - A process with input gets two connections of its own, which become its stdout and its stdin — so a request body
 *   goes to the program and the response back without any process in between (Apache's mod_cgid does the same). Two,
 *   not one: writing to a program that has exited fails, and Node tears a socket down on a write error, with whatever
 *   output it had not read yet.
 */
import net from 'node:net';
import { PassThrough, type Writable } from 'node:stream';
import { checkSpawnRequest, connectionPrefix, ControlParser, encodeCheckedSpawnRequest, killLine, outputLine, SPAWN_LIMITS, type CheckedSpawnRequest, type ControlMessage } from './forker-protocol.js';
import { discardingStdin, type OsAccount, type ProcessExit, type ProcessSpawner, type SpawnCapability, type SpawnedProcess, type SpawnRefusal, type SpawnRequest } from './spawn.js';

export interface ForkerSpawnerOptions {
  /** How long to wait for the forker's answer to a spawn request. Default 10 s. */
  readonly timeoutMs?: number;
}

/** stderr a reader does not take is kept up to this much per process, then dropped (it arrives on the shared control connection). */
const STDERR_BACKLOG_LIMIT = 1024 * 1024;

interface Entry {
  readonly request: SpawnRequest;
  /** The program's stdout connection; undefined when the forker relays its stdout (SPAWN). */
  readonly connection: net.Socket | undefined;
  /** The program's stdin: its connection, or (stdin 'none') a stream that drops what is written. */
  readonly input: Writable;
  /** The program's output as the caller reads it: the connection's (see spawn), or the relayed STDOUT messages. */
  readonly stdout: PassThrough;
  /** A relayed stdout: whether the forker was asked to stop reading it, and whether STDOUTEND came. */
  readonly relay: { paused: boolean; ended: boolean } | undefined;
  readonly stderr: PassThrough;
  resolve?: (result: SpawnedProcess | SpawnRefusal) => void;
  resolveExit?: (exit: ProcessExit) => void;
  exited?: ProcessExit;
  timer?: NodeJS.Timeout;
}

export function forkerSpawner(capability: SpawnCapability, socketPath: string, options: ForkerSpawnerOptions = {}): ProcessSpawner {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const entries = new Map<number, Entry>();
  let nextId = 1;
  let control: net.Socket | undefined;
  let ready: Promise<net.Socket | string> | undefined;

  const refusal = (request: SpawnRequest, status: number, substatus: number, why: string): SpawnRefusal => ({ kind: 'refused', status, substatus, reason: `cannot run ${request.purpose}: ${why}` });

  /** Only while processes are starting or running does the control connection keep the worker's event loop alive. */
  const updateRef = (): void => {
    if (!control) return;
    if (entries.size > 0) control.ref();
    else control.unref();
  };

  const forget = (id: number): void => {
    const entry = entries.get(id);
    if (entry) clearTimeout(entry.timer);
    entries.delete(id);
    updateRef();
  };

  /** Everything the forker will say about the process has been said: its id may be used again. */
  const finished = (entry: Entry): boolean => entry.exited !== undefined && entry.stderr.writableEnded && (entry.relay === undefined || entry.relay.ended);

  const onMessage = (message: ControlMessage): void => {
    if (message.type === 'hello') return;
    const entry = entries.get(message.id);
    if (!entry) return; // given up on (time-out): the forker learns when its connection closes
    switch (message.type) {
      case 'started':
        if (!entry.resolve) return;
        clearTimeout(entry.timer);
        entry.resolve(assemble(message.id, entry, message.pid, message.account));
        entry.resolve = undefined;
        return;
      case 'refused':
        clearTimeout(entry.timer);
        entry.connection?.destroy();
        // The forker has forgotten the id: no DROP for it.
        if (entry.relay) entry.relay.ended = true;
        entry.stdout.destroy();
        entry.input.destroy();
        entry.resolve?.({ kind: 'refused', status: message.status, substatus: message.substatus, reason: message.reason });
        forget(message.id);
        return;
      case 'stderr':
        // Nobody reading: keep a bounded backlog, never hold up the other processes' messages. Both sides count: once
        // its readable side is full, a PassThrough keeps what is written on its writable side.
        if (entry.stderr.readableLength + entry.stderr.writableLength < STDERR_BACKLOG_LIMIT) entry.stderr.write(message.data);
        return;
      case 'stderr-end':
        entry.stderr.end();
        if (finished(entry)) forget(message.id);
        return;
      case 'stdout': {
        const relay = entry.relay;
        // Dropped by the caller (DROP is on its way) or not relayed: nothing to deliver.
        if (relay === undefined || entry.stdout.destroyed) return;
        if (!entry.stdout.write(message.data) && !relay.paused && control) {
          relay.paused = true;
          control.write(outputLine('PAUSE', message.id));
        }
        return;
      }
      case 'stdout-end':
        if (entry.relay === undefined) return;
        entry.relay.ended = true;
        if (!entry.stdout.writableEnded && !entry.stdout.destroyed) entry.stdout.end();
        if (finished(entry)) forget(message.id);
        return;
      case 'exit':
        entry.exited = { code: message.code, signal: message.signal };
        entry.resolveExit?.(entry.exited);
        if (finished(entry)) forget(message.id);
        return;
    }
  };

  const assemble = (id: number, entry: Entry, pid: number, account: OsAccount): SpawnedProcess => {
    const exited = new Promise<ProcessExit>((resolve) => {
      entry.resolveExit = resolve;
      if (entry.exited) resolve(entry.exited);
    });
    return {
      pid,
      account,
      stdin: entry.input,
      stdout: entry.stdout,
      stderr: entry.stderr,
      exited,
      killGroup(signal: NodeJS.Signals = 'SIGKILL') {
        if (control && !control.destroyed) control.write(killLine(id, signal));
      },
    };
  };

  /** The control connection is gone: the forker kills our processes; everyone waiting is answered. */
  const onControlLost = (socket: net.Socket, why: string): void => {
    if (control !== socket) return;
    control = undefined;
    ready = undefined;
    for (const [id, entry] of [...entries]) {
      entry.resolve?.(refusal(entry.request, 500, 0, `the forker's control connection was lost (${why})`));
      entry.resolve = undefined;
      if (!entry.stderr.writableEnded) entry.stderr.end();
      // A relayed stdout ends as a connection would when the forker is gone (it killed the process).
      if (entry.relay && !entry.stdout.writableEnded && !entry.stdout.destroyed) entry.stdout.end();
      entry.exited ??= { code: null, signal: 'SIGKILL' };
      entry.resolveExit?.(entry.exited);
      forget(id);
    }
  };

  const connectControl = (): Promise<net.Socket | string> =>
    new Promise((resolve) => {
      const socket = net.connect(socketPath);
      const parser = new ControlParser();
      let greeted = false;
      const fail = (why: string): void => {
        if (!greeted) resolve(`the forker at ${socketPath} is not available (${why})`);
        socket.destroy();
        onControlLost(socket, why);
      };
      control = socket;
      socket.write(connectionPrefix('PCTL', 0));
      socket.on('data', (chunk: Buffer) => {
        let messages: ControlMessage[];
        try {
          messages = parser.push(chunk);
        } catch (error) {
          fail((error as Error).message);
          return;
        }
        for (const message of messages) {
          if (!greeted && message.type === 'hello') {
            greeted = true;
            resolve(socket);
          }
          onMessage(message);
        }
      });
      socket.on('error', (error) => fail(error.message));
      socket.on('close', () => fail('closed'));
    });

  const spawn = async (request: SpawnRequest): Promise<SpawnedProcess | SpawnRefusal> => {
    const checked = checkSpawnRequest(request);
    if (typeof checked === 'string') return refusal(request, 500, 0, checked);
    ready ??= connectControl();
    const connected = await ready;
    if (typeof connected === 'string') {
      ready = undefined; // try again next time: the launcher restarts a forker that died
      return refusal(request, 500, 0, connected);
    }
    let id = nextId;
    while (entries.has(id)) id = id + 1 >= SPAWN_LIMITS.maxId ? 1 : id + 1;
    nextId = id + 1 >= SPAWN_LIMITS.maxId ? 1 : id + 1;
    const stderr = new PassThrough();
    if (checked.fields.stdin === 'none') return relayed(id, request, checked, connected, stderr);
    // In this order, in one go: the forker takes the input connection as the next one after the spawn connection.
    const connection = net.connect({ path: socketPath });
    // Until the caller has them, errors (the program exiting before reading its stdin) must not be unhandled.
    connection.on('error', () => undefined);
    connection.write(encodeCheckedSpawnRequest(id, checked));
    const input = net.connect({ path: socketPath, allowHalfOpen: true });
    input.on('error', () => undefined);
    input.write(connectionPrefix('PSIN', id));
    // Nothing comes back on it; reading lets it close once the program is gone.
    input.resume();
    // A socket reads as soon as it is connected and, at an EOF with nothing buffered, emits 'end' at once (net calls
    // read(0)): a program that exits before STARTED arrives would end its output before the caller listens. The
    // PassThrough keeps output and end for the caller. Tied by hand rather than with stream.pipeline, which costs an
    // AbortController and a DOMException per process: destroying stdout closes the socket, a broken socket ends stdout.
    const stdout = new PassThrough();
    connection.pipe(stdout);
    stdout.once('close', () => connection.destroy());
    connection.once('close', () => {
      if (!stdout.writableEnded) stdout.end();
    });
    return started(id, { request, connection, input, stdout, stderr, relay: undefined }, connected);
  };

  /** SPAWN on the control connection: stdin /dev/null, stdout relayed by the forker. */
  const relayed = (id: number, request: SpawnRequest, checked: CheckedSpawnRequest, connected: net.Socket, stderr: PassThrough): Promise<SpawnedProcess | SpawnRefusal> => {
    const relay = { paused: false, ended: false };
    const stdout = new PassThrough();
    // The caller's reader caught up: the forker reads the program's stdout again.
    stdout.on('drain', () => {
      if (!relay.paused) return;
      relay.paused = false;
      if (control === connected && !relay.ended) connected.write(outputLine('RESUME', id));
    });
    // The caller is gone before the end: the forker closes the pipe (the program's next write fails, as on a closed
    // connection) and says STDOUTEND, which completes the entry.
    stdout.once('close', () => {
      if (!relay.ended && control === connected) connected.write(outputLine('DROP', id));
    });
    connected.write(encodeCheckedSpawnRequest(id, checked));
    return started(id, { request, connection: undefined, input: discardingStdin(), stdout, stderr, relay }, connected);
  };

  /** Waits for STARTED or REFUSED (or the time-out) for an entry whose request is on its way. */
  const started = (id: number, fields: Omit<Entry, 'resolve'>, connected: net.Socket): Promise<SpawnedProcess | SpawnRefusal> =>
    new Promise((resolve) => {
      const entry: Entry = { ...fields, resolve };
      entries.set(id, entry);
      updateRef();
      entry.timer = setTimeout(() => {
        entry.resolve?.(refusal(entry.request, 500, 0, `the forker did not answer within ${timeoutMs} ms`));
        entry.resolve = undefined;
        // Closing its connections ends a process that started after all; the forker's group kill does the rest.
        entry.connection?.destroy();
        entry.stdout.destroy();
        entry.input.destroy();
        connected.write(killLine(id, 'SIGKILL'));
        forget(id);
      }, timeoutMs);
    });

  return { capability, spawn };
}

