/**
 * The supervisor of one application pool's worker (MODEL.md §8, ARCHITECTURE "Processes"), inside the launcher that
 * `persona serve` is when started as root: it starts the worker as the pool's unprivileged account, opens listening
 * sockets (privileged ports included) for the front worker, hands over TLS files, runs the pool's forker (the spawn
 * broker: it starts processes as other accounts within the pool's replaceProcessToken), and restarts a worker that
 * dies. The launcher handles no request itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Logger } from 'pino';
import { lookupOsAccount } from '../identity/os-accounts.js';
import { SETPRIV } from '../identity/setpriv.js';
import { Forker } from './forker.js';
import { guardInternalMessages } from './ipc-guard.js';
import { readFile } from 'node:fs/promises';
import { loadConfigFile } from '../config/load.js';
import { isLauncherRequest, isSecretsRequest, type LauncherReply } from './launcher-protocol.js';

export interface WorkerSpec {
  readonly pool: string;
  /** The pool's OS account. */
  readonly account: string;
  readonly replaceProcessToken: boolean;
  /** The state group's gid, added to the worker's supplementary groups. */
  readonly stateGid: number;
  /** node and its arguments: the same program in worker mode. */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** The configuration file: the launcher reads its TLS files for the worker. */
  readonly configFile: string;
  /** Only the front worker has listening sockets opened for it. */
  readonly mayBind: boolean;
  /** The pool's forker's socket (the worker finds it in PERSONA_FORKER_SOCKET). */
  readonly forkerSocket: string;
}

const RESTARTS_ALLOWED = 5;
const RESTART_WINDOW_MS = 60_000;

export class Launcher {
  private worker: ChildProcess | undefined;
  private forker: Forker | undefined;
  private stopping = false;
  private exitCode: number | undefined;
  private readonly restarts: number[] = [];
  private exitResolve!: (code: number) => void;
  /** Settles with the launcher's exit code. */
  readonly done = new Promise<number>((resolve) => (this.exitResolve = resolve));

  constructor(
    private readonly spec: WorkerSpec,
    private readonly log: Logger,
  ) {}

  /** Starts the worker; resolves once it says it is ready (its listener open), or rejects if it dies first. */
  async start(): Promise<void> {
    const account = await lookupOsAccount(this.spec.account);
    if (!account) throw new Error(`application pool ${this.spec.pool} runs as OS account "${this.spec.account}", which does not exist (create it, or set server.applicationPools[].identity)`);
    if (account.uid === 0) throw new Error(`application pool ${this.spec.pool} would run as root ("${this.spec.account}"): requests are never handled as root`);
    this.forker = new Forker(
      { pool: this.spec.pool, poolAccount: this.spec.account, replaceProcessToken: this.spec.replaceProcessToken, socket: this.spec.forkerSocket, group: this.spec.stateGid },
      (event) => {
        const [first, ...rest] = event.fields;
        if (event.kind === 'refused') this.log.info({ pool: event.pool, purpose: first, account: rest[0], reason: rest[1] }, 'forker: spawn refused');
        else if (event.kind === 'restarting') this.log.error({ pool: event.pool, why: first }, 'forker died; restarting it');
        else this.log.warn({ pool: event.pool, kind: event.kind, reason: event.fields.join(' ') }, 'forker: request refused');
      },
      (why) => {
        this.log.fatal({ pool: this.spec.pool, why }, why);
        console.error(`persona: ${why}`);
        this.exitCode = 1;
        this.signal('SIGTERM');
      },
    );
    await this.forker.start();
    this.startWorker(account.uid, account.gid, [...new Set([...account.groups, this.spec.stateGid])]);
    const child = this.worker!;
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (typeof message === 'object' && message !== null && (message as { persona?: unknown; type?: unknown }).persona === 'launcher' && (message as { type?: unknown }).type === 'ready') {
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = () => {
        child.off('message', onMessage);
        reject(new Error(`the worker of application pool ${this.spec.pool} exited before it was ready`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  private startWorker(uid: number, gid: number, groups: number[]): void {
    const [node, ...args] = this.spec.argv;
    const child = spawn(SETPRIV, [`--reuid=${uid}`, `--regid=${gid}`, `--groups=${groups.join(',')}`, '--inh-caps=-all', '--', node!, ...args], {
      env: { ...this.spec.env, PERSONA_WORKER: '1', PERSONA_FORKER_SOCKET: this.spec.forkerSocket },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.worker = child;
    guardInternalMessages(child);
    // setpriv execs node: the pid is the worker's, the one its forker accepts connections from.
    if (child.pid !== undefined) this.forker?.setWorker(child.pid);
    child.on('message', (message: unknown) => {
      if (isLauncherRequest(message) && this.spec.mayBind) void this.bind(child, message.id, message.ip, message.port);
      else if (isSecretsRequest(message)) void this.sendSecrets(child, message.id);
    });
    child.once('exit', (code, signal) => {
      // The forker kills what the dead worker started, and accepts nobody until the next worker.
      this.forker?.setWorker(0);
      if (this.stopping) {
        this.forker?.stop();
        this.exitResolve(this.exitCode ?? code ?? 0);
        return;
      }
      const now = Date.now();
      this.restarts.push(now);
      while (this.restarts.length && now - this.restarts[0]! > RESTART_WINDOW_MS) this.restarts.shift();
      const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
      if (this.restarts.length > RESTARTS_ALLOWED) {
        this.log.fatal({ pool: this.spec.pool, why }, `worker ${why}; ${RESTARTS_ALLOWED} restarts within ${RESTART_WINDOW_MS / 1000} s — giving up`);
        console.error(`persona: the worker ${why} again; giving up after ${RESTARTS_ALLOWED} restarts in ${RESTART_WINDOW_MS / 1000} s`);
        this.exitCode = 1;
        this.forker?.stop();
        this.exitResolve(1);
        return;
      }
      this.log.error({ pool: this.spec.pool, why }, `worker ${why}; restarting it`);
      console.error(`persona: the worker of pool ${this.spec.pool} ${why}; restarting it`);
      // Not unref'd: between two workers this timer is what keeps the launcher alive.
      setTimeout(() => (this.stopping ? this.exitResolve(0) : this.startWorker(uid, gid, groups)), 500);
    });
  }

  /**
   * Opens a listening socket for the worker and hands it over; the launcher's own copy is closed, so it never
   * accepts a connection itself (a restarted worker asks again).
   */
  private async bind(child: ChildProcess, id: number, ip: string, port: number): Promise<void> {
    const server = net.createServer();
    const reply = (message: LauncherReply, handle?: net.Server) => {
      if (child.connected) child.send(message, handle as never);
    };
    const host = ip === '*' ? '::' : ip;
    await new Promise<void>((resolve) => {
      const fail = (err: NodeJS.ErrnoException) => {
        if (ip === '*' && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')) {
          server.once('error', (e: Error) => {
            reply({ persona: 'launcher', type: 'bind-failed', id, reason: e.message });
            resolve();
          });
          server.listen(port, '0.0.0.0', () => resolve());
          return;
        }
        reply({ persona: 'launcher', type: 'bind-failed', id, reason: err.message });
        resolve();
      };
      server.once('error', fail);
      server.listen({ port, host, ipv6Only: false }, () => {
        server.off('error', fail);
        resolve();
      });
    });
    if (!server.listening) return;
    reply({ persona: 'launcher', type: 'bound', id }, server);
    // After the handle is sent: closing our copy leaves the worker's open.
    setImmediate(() => server.close());
  }

  /**
   * The TLS certificate and key files of the current configuration, read as root and handed to the worker (which
   * cannot read a 0600 key). An invalid configuration yields none: the worker's own loader then reports it.
   */
  private async sendSecrets(child: ChildProcess, id: number): Promise<void> {
    const files: [string, string][] = [];
    const loaded = await loadConfigFile(this.spec.configFile);
    if (!('problems' in loaded)) {
      for (const site of loaded.input.sites) {
        for (const file of site.tls ? [site.tls.certificate, site.tls.key] : []) {
          try {
            files.push([file, (await readFile(file)).toString('base64')]);
          } catch {
            // Unreadable even for root: the worker's loader says why.
          }
        }
      }
    }
    const reply: LauncherReply = { persona: 'launcher', type: 'secrets', id, files };
    if (child.connected) child.send(reply);
  }

  /** Forwarded to the worker: SIGHUP reloads, SIGTERM/SIGINT stop. */
  signal(signal: NodeJS.Signals): void {
    if (signal !== 'SIGHUP') this.stopping = true;
    if (this.worker && this.worker.exitCode === null && this.worker.signalCode === null) this.worker.kill(signal);
    else if (this.stopping) {
      this.forker?.stop();
      this.exitResolve(this.exitCode ?? 0);
    }
  }
}
