/**
 * The launcher's side of a pool's forker (native/persona-forker.c, compiled into dist/libexec at install): starts it
 * as root with an empty inheritable capability set (so nothing it starts can regain a capability through exec), tells
 * it which process is the pool's worker, logs its events, and restarts it if it dies. The forker is the only code that
 * starts processes as other OS accounts (MODEL.md §8: the spawn broker); it applies the pool's policy itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SETPRIV } from '../identity/setpriv.js';
import type { SpawnPolicy } from '../identity/spawn-policy.js';

/** Built by scripts/build-forker.mjs (npm install, npm run build) next to the compiled JavaScript: dist/libexec. */
export const FORKER_BINARY = fileURLToPath(new URL('../../libexec/persona-forker', import.meta.url));

export interface ForkerOptions extends SpawnPolicy {
  /** The Unix socket the forker listens on (owner root, group `group`, mode 0660). */
  readonly socket: string;
  /** The gid whose members (the workers) may connect; the forker also checks the peer's pid. */
  readonly group: number;
  /** Processes (starting or running) the worker may have at a time. Default 256. */
  readonly maxLive?: number;
}

export type ForkerEvent = { readonly kind: string; readonly pool: string; readonly fields: readonly string[] };

/** Why the forker cannot run here, or undefined. */
export function forkerUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'Persona is not running as root, so it cannot start processes as other OS accounts';
  for (const [file, what] of [
    [FORKER_BINARY, 'the forker, built from native/persona-forker.c at install (run `node scripts/build-forker.mjs`; it needs a C compiler: build-essential)'],
    [SETPRIV, 'setpriv (util-linux)'],
  ] as const) {
    try {
      accessSync(file, constants.X_OK);
    } catch {
      return `${file} is missing: ${what} is needed to start processes as other OS accounts`;
    }
  }
  return undefined;
}

export class Forker {
  private child: ChildProcess | undefined;
  private workerPid = 0;
  private stopped = false;
  private readonly restarts: number[] = [];

  constructor(
    private readonly options: ForkerOptions,
    private readonly onEvent: (event: ForkerEvent) => void,
    private readonly onGiveUp: (why: string) => void,
  ) {}

  /** Resolves once the forker listens (its socket exists), rejects if it exits first. */
  start(): Promise<void> {
    const o = this.options;
    const unavailable = forkerUnavailableReason();
    if (unavailable) return Promise.reject(new Error(`the forker of application pool ${o.pool} cannot start: ${unavailable}`));
    const args = ['--inh-caps=-all', '--', FORKER_BINARY, '--socket', o.socket, '--group', String(o.group), '--pool', o.pool, '--pool-account', o.poolAccount, '--replace-process-token', o.replaceProcessToken ? '1' : '0', '--max-live', String(o.maxLive ?? 256)];
    // A socket left by an earlier run would look like this forker's before it listens.
    rmSync(o.socket, { force: true });
    const child = spawn(SETPRIV, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });
    this.child = child;
    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const [tag, kind, pool, ...fields] = buffered.slice(0, newline).split('\t');
        buffered = buffered.slice(newline + 1);
        if (tag === 'event' && kind !== undefined) this.onEvent({ kind, pool: pool ?? o.pool, fields });
      }
    });
    child.stdin!.on('error', () => undefined);
    this.tellWorker();
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        reject(new Error(`the forker of application pool ${o.pool} exited at start (${signal ?? `code ${code}`})`));
      };
      child.once('exit', onExit);
      // The socket exists once it listens; poll briefly rather than add a readiness message to the protocol.
      const started = Date.now();
      const check = (): void => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        try {
          accessSync(o.socket, constants.F_OK);
          child.off('exit', onExit);
          child.once('exit', (code, signal) => this.onExit(code, signal));
          resolve();
        } catch {
          if (Date.now() - started > 10_000) reject(new Error(`the forker of application pool ${o.pool} did not open ${o.socket} within 10 s`));
          else setTimeout(check, 10);
        }
      };
      check();
    });
  }

  /** The pool's current worker (0: none). The forker accepts connections only from it; a change kills the old one's processes. */
  setWorker(pid: number): void {
    this.workerPid = pid;
    this.tellWorker();
  }

  stop(): void {
    this.stopped = true;
    // EOF on its stdin: the forker kills the worker's processes, removes its socket and exits.
    this.child?.stdin?.end();
  }

  private tellWorker(): void {
    const stdin = this.child?.stdin;
    if (stdin && !stdin.destroyed) stdin.write(`worker ${this.workerPid}\n`);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopped) return;
    const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
    const now = Date.now();
    this.restarts.push(now);
    while (this.restarts.length && now - this.restarts[0]! > 60_000) this.restarts.shift();
    if (this.restarts.length > 5) {
      this.onGiveUp(`the forker of application pool ${this.options.pool} ${why} again; giving up after 5 restarts in 60 s`);
      return;
    }
    this.onEvent({ kind: 'restarting', pool: this.options.pool, fields: [why] });
    setTimeout(() => {
      if (!this.stopped) this.start().catch((error: Error) => this.onGiveUp(error.message));
    }, 200);
  }
}
