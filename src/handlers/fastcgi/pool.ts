/**
 * A pool of FastCGI processes for one (application, OS account) — IIS's <fastCgi><application>, one per account
 * so that `fastcgi.impersonate` can run each identity's requests in processes of its own OS account (MODEL.md §1).
 *
 * - Each process is `fullPath ...arguments -b <socket>` started through the spawner (so it runs as the account, or
 *   the refusal — 403.19 — goes to the request; the socket's folder is made by the account: socket-dir.ts), with the application's `environment` plus PHP_FCGI_CHILDREN=0
 *   (Persona manages the instances: php-cgi must not fork children of its own) and PHP_FCGI_MAX_REQUESTS.
 * - One request at a time per process; up to maxInstances processes, started on demand; up to queueLength requests
 *   wait for one, beyond that 503.4 ("FastCGI queue full", IIS).
 * - A process that exits or crashes is dropped (the log says how) and replaced on demand; one that served
 *   instanceMaxRequests is recycled; one idle for idleTimeout is stopped; `close()` stops them all.
 *
 * Pools belong to a configuration generation: `fastCgiPool(generation, …)` keeps them in a registry keyed by the
 * generation object, and `closeFastCgiPools(generation)` stops them when that generation is closed. Whatever is
 * still running when Persona exits is killed by an exit hook (a detached php-cgi would otherwise outlive it).
 */
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';
import type { Readable } from 'node:stream';
import type { FastCgiApplication } from '../../config/compile.js';
import { CGI_PATH } from '../cgi/environment.js';
import { displayable } from '../cgi/response.js';
import { lookupOsAccount } from '../../identity/os-accounts.js';
import { isSpawnRefusal, type ProcessExit, type ProcessSpawner, type SpawnedProcess } from '../../identity/spawn.js';
import { Exchange, type ExchangeResult, type FastCgiSink } from './exchange.js';
import { checkInstanceDir, ensureSocketRoot, instanceDir, LAUNCH_SCRIPT, removeInstanceDir, removeSocketDirs, SHELL, SOCKET_NAME } from './socket-dir.js';

/** How long a new process may take to accept connections on its socket. */
export const START_TIMEOUT_MS = 10_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The part of pino's Logger the pools use. */
export interface PoolLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Why a request was not given to any process: the status it gets (503.4 queue full, 403.19 spawn refused…). */
export interface PoolRefusal {
  readonly kind: 'refused';
  readonly status: number;
  readonly substatus: number;
  readonly reason: string;
}

export type FastCgiOutcome = ExchangeResult | PoolRefusal;

/** A request in a pool: its outcome, and the controls of a response that streams. */
export interface FastCgiRequest {
  readonly outcome: Promise<FastCgiOutcome>;
  /** Stops reading the application's output (the client is slower). */
  pause(): void;
  resume(): void;
  /** The client went away: leaves the queue, or stops the process serving it. */
  abort(): void;
}

export interface FastCgiPoolOptions {
  readonly app: FastCgiApplication;
  readonly account: string;
  readonly spawner: ProcessSpawner;
  readonly log: PoolLog;
  readonly startTimeoutMs?: number;
}

class Instance {
  busy = true;
  served = 0;
  gone = false;
  idleTimer: NodeJS.Timeout | undefined;
  exit: ProcessExit | undefined;
  constructor(
    readonly proc: SpawnedProcess,
    readonly socketPath: string,
  ) {}
}

type Waiter = (instance: Instance | PoolRefusal) => void;

/** Every process any pool started, for the exit hook. */
const live = new Set<SpawnedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const proc of live) proc.killGroup('SIGKILL');
    removeSocketDirs();
  });
}

export class FastCgiPool {
  private readonly instances = new Set<Instance>();
  private starting = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;
  readonly maxInstances: number;

  constructor(private readonly options: FastCgiPoolOptions) {
    // IIS: maxInstances 0 means "as many as the machine has processors".
    this.maxInstances = options.app.maxInstances > 0 ? options.app.maxInstances : os.availableParallelism();
  }

  get label(): string {
    return `FastCGI ${this.options.app.fullPath} as ${this.options.account}`;
  }

  /** Processes alive now (for tests and status): their pids. */
  get pids(): number[] {
    return [...this.instances].map((i) => i.proc.pid);
  }

  /** Their sockets. */
  get sockets(): string[] {
    return [...this.instances].map((i) => i.socketPath);
  }

  /** Runs one request: waits for a process (or is refused), then exchanges records with it. */
  request(params: Readonly<Record<string, string>>, stdin: Readable | Buffer | undefined, sink: FastCgiSink): FastCgiRequest {
    let exchange: Exchange | undefined;
    let aborted = false;
    let paused = false;
    let leave: (() => void) | undefined;
    const outcome = (async (): Promise<FastCgiOutcome> => {
      const got = await this.acquire((cancel) => (leave = cancel));
      if (!(got instanceof Instance)) return got;
      if (aborted) {
        this.release(got);
        return { kind: 'aborted' };
      }
      const label = `${this.label} (pid ${got.proc.pid})`;
      exchange = new Exchange({
        socketPath: got.socketPath,
        params,
        stdin,
        sink,
        requestTimeoutMs: this.options.app.requestTimeoutMs,
        activityTimeoutMs: this.options.app.activityTimeoutMs,
        kill: (why) => this.stop(got, why),
        describeExit: () => describeExitSoon(got),
        label,
      });
      if (paused) exchange.pause();
      const result = await exchange.result;
      got.served++;
      this.release(got);
      return result;
    })();
    return {
      outcome,
      pause: () => {
        paused = true;
        exchange?.pause();
      },
      resume: () => {
        paused = false;
        exchange?.resume();
      },
      abort: () => {
        aborted = true;
        if (exchange) exchange.abort();
        else leave?.();
      },
    };
  }

  /** Stops every process; later requests are refused. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter(this.refusal(503, 0, `${this.label}: the configuration it belonged to was replaced or Persona is stopping`));
    for (const instance of [...this.instances]) this.stop(instance, 'its pool was closed');
  }

  private refusal(status: number, substatus: number, reason: string): PoolRefusal {
    return { kind: 'refused', status, substatus, reason };
  }

  private acquire(onQueued: (cancel: () => void) => void): Promise<Instance | PoolRefusal> {
    if (this.closed) return Promise.resolve(this.refusal(503, 0, `${this.label}: the pool is closed`));
    for (const instance of this.instances) {
      if (!instance.busy && !instance.gone) {
        instance.busy = true;
        clearTimeout(instance.idleTimer);
        return Promise.resolve(instance);
      }
    }
    if (this.instances.size + this.starting < this.maxInstances) return this.start();
    if (this.waiters.length >= this.options.app.queueLength) {
      return Promise.resolve(
        this.refusal(503, 4, `FastCGI queue full: ${this.label} has ${this.maxInstances} busy process(es) and ${this.waiters.length} request(s) waiting (queueLength ${this.options.app.queueLength})`),
      );
    }
    return new Promise((resolve) => {
      const waiter: Waiter = resolve;
      this.waiters.push(waiter);
      onQueued(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve(this.refusal(503, 0, 'the client went away while the request was queued'));
      });
    });
  }

  /** A request is done with `instance`: recycle it, give it to the next waiter, or let it idle. */
  private release(instance: Instance): void {
    instance.busy = false;
    if (!instance.gone && instance.served >= this.options.app.instanceMaxRequests) {
      this.stop(instance, `it served instanceMaxRequests (${this.options.app.instanceMaxRequests}) requests and is recycled`);
    }
    if (!instance.gone && !this.closed) {
      const next = this.waiters.shift();
      if (next) {
        instance.busy = true;
        return next(instance);
      }
      instance.idleTimer = setTimeout(() => this.stop(instance, `it was idle for idleTimeout (${this.options.app.idleTimeoutMs} ms)`), Math.min(this.options.app.idleTimeoutMs, MAX_TIMER_MS));
      instance.idleTimer.unref();
      return;
    }
    this.serveWaiters();
  }

  /** Capacity was freed (a process ended): waiting requests get new processes. */
  private serveWaiters(): void {
    while (!this.closed && this.waiters.length > 0 && this.instances.size + this.starting < this.maxInstances) {
      const waiter = this.waiters.shift()!;
      void this.start().then(waiter);
    }
  }

  private stop(instance: Instance, why: string): void {
    if (instance.gone) return;
    instance.gone = true;
    clearTimeout(instance.idleTimer);
    this.instances.delete(instance);
    instance.proc.killGroup('SIGKILL');
    this.options.log.info({ pool: this.label, pid: instance.proc.pid, account: this.options.account }, `FastCGI process stopped: ${why}`);
    this.serveWaiters();
  }

  /** Starts a process and waits until it accepts connections; it is returned busy (for the caller). */
  private async start(): Promise<Instance | PoolRefusal> {
    this.starting++;
    try {
      return await this.startProcess();
    } finally {
      this.starting--;
    }
  }

  private async startProcess(): Promise<Instance | PoolRefusal> {
    const { app, account, spawner } = this.options;
    const osAccount = await lookupOsAccount(account);
    if (!osAccount) return this.refusal(500, 0, `${this.label}: the OS account ${account} is unknown to NSS`);
    const root = ensureSocketRoot();
    if ('kind' in root) return this.refusal(500, 0, `${this.label}: ${root.reason}`);
    const dir = instanceDir(root.root, account);
    if (typeof dir !== 'string') return this.refusal(500, 0, `${this.label}: ${dir.reason}`);
    const socketPath = path.join(dir, SOCKET_NAME);
    installExitHook();
    // The account makes its own socket folder, then becomes the FastCGI program (socket-dir.ts says why).
    const spawned = await spawner.spawn({
      account,
      file: SHELL,
      args: ['-c', LAUNCH_SCRIPT, 'persona-fastcgi', dir, app.fullPath, ...app.arguments, '-b', socketPath],
      env: { PATH: CGI_PATH, ...app.environment, PHP_FCGI_CHILDREN: '0', PHP_FCGI_MAX_REQUESTS: String(app.instanceMaxRequests) },
      cwd: root.root,
      purpose: this.label,
    });
    if (isSpawnRefusal(spawned)) return this.refusal(spawned.status, spawned.substatus, spawned.reason);
    live.add(spawned);
    const instance = new Instance(spawned, socketPath);
    spawned.stdout.resume();
    const stderr = collectOutput(spawned);
    void spawned.exited.then((exit) => {
      instance.exit = exit;
      live.delete(spawned);
      spawned.killGroup('SIGKILL');
      removeInstanceDir(dir);
      if (instance.gone) return;
      instance.gone = true;
      clearTimeout(instance.idleTimer);
      this.instances.delete(instance);
      const printed = stderr();
      this.options.log.warn(
        { pool: this.label, pid: spawned.pid, account, code: exit.code, signal: exit.signal, ...(printed ? { stderr: printed } : {}) },
        `FastCGI process exited on its own (${describeExit(exit)}); it is replaced on demand`,
      );
      this.serveWaiters();
    });
    const ready = await waitForSocket(socketPath, spawned, this.options.startTimeoutMs ?? START_TIMEOUT_MS);
    // A socket that answers in a folder that is not the account's own private one is not used (nor trusted).
    const unsafe = ready === true ? checkInstanceDir(dir, osAccount, root.gid) : undefined;
    if (ready !== true || unsafe) {
      instance.gone = true;
      spawned.killGroup('SIGKILL');
      const printed = stderr();
      const why = unsafe ? unsafe.reason : ready;
      return this.refusal(500, 0, `${this.label} (pid ${spawned.pid}) did not start: ${why}${printed ? `; it printed: ${printed}` : ''}`);
    }
    if (this.closed) {
      this.stop(instance, 'its pool was closed while it started');
      return this.refusal(503, 0, `${this.label}: the pool is closed`);
    }
    this.instances.add(instance);
    this.options.log.info({ pool: this.label, pid: spawned.pid, account: spawned.account.name }, 'FastCGI process started');
    return instance;
  }
}

/** The process's own stderr (not the FastCGI STDERR stream), up to 4 KiB, for the log. */
function collectOutput(proc: SpawnedProcess): () => string {
  const chunks: Buffer[] = [];
  let kept = 0;
  proc.stderr.on('data', (chunk: Buffer) => {
    if (kept >= 4096) return;
    chunks.push(chunk.subarray(0, 4096 - kept));
    kept += Math.min(chunk.length, 4096 - kept);
  });
  return () => displayable(Buffer.concat(chunks)).trim();
}

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `ended by ${exit.signal}` : `exit code ${exit.code}`;
}

/** How the process ended, waiting up to 500 ms for it (a crash closes the socket just before the exit is seen). */
async function describeExitSoon(instance: Instance): Promise<string | undefined> {
  if (instance.exit) return `the process ${describeExit(instance.exit)}`;
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([instance.proc.exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 500)))]);
  clearTimeout(timer);
  return exit ? `the process ${describeExit(exit)}` : undefined;
}

/** True once the socket accepts a connection; else why not (the process exited, or the time ran out). */
async function waitForSocket(socketPath: string, proc: SpawnedProcess, timeoutMs: number): Promise<true | string> {
  let exited: ProcessExit | undefined;
  void proc.exited.then((e) => (exited = e));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) return `it exited (${describeExit(exited)}) before listening on ${socketPath}`;
    const ok = await new Promise<boolean>((resolve) => {
      const probe = net.connect(socketPath);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (ok) return true;
    if (Date.now() > deadline) return `it did not listen on ${socketPath} within ${timeoutMs} ms`;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pools of each generation, by application and account. */
const registry = new WeakMap<object, Map<string, FastCgiPool>>();

/** The pool of `app` for `account` in `generation`, created on first use. */
export function fastCgiPool(generation: object, app: FastCgiApplication, account: string, spawner: ProcessSpawner, log: PoolLog): FastCgiPool {
  let pools = registry.get(generation);
  if (!pools) {
    pools = new Map();
    registry.set(generation, pools);
  }
  const key = JSON.stringify([app.fullPath, app.arguments, account]);
  let pool = pools.get(key);
  if (!pool) {
    pool = new FastCgiPool({ app, account, spawner, log });
    pools.set(key, pool);
  }
  return pool;
}

/** Stops every FastCGI process of `generation` (call it where the generation is closed). */
export function closeFastCgiPools(generation: object): void {
  const pools = registry.get(generation);
  if (!pools) return;
  registry.delete(generation);
  for (const pool of pools.values()) pool.close();
}
