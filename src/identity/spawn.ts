/**
 * Starting processes as an OS account (MODEL.md §8): the contract between the code that needs a process (CGI,
 * FastCGI pools, `spawnAsUser` from handlers) and the only code allowed to switch OS identity (the spawn broker: each
 * pool's forker, native/persona-forker.c).
 *
 * "As an account" means its uid, its primary gid AND its supplementary groups (Node's spawn({uid, gid}) drops the
 * latter, so the forker switches between its own fork and exec). A process is started in its own process group so
 * that a timeout can kill everything it started.
 *
 * Implementations: a spawner that can only start processes as this process's own account (not root: switching is
 * unavailable, and asking for another account is a refusal value, never a silent fallback), and the worker-side
 * client of its pool's forker (forker-spawner.ts).
 */
import { Writable, type Readable } from 'node:stream';

/** An OS account as the kernel sees it: what `id NAME` prints. */
export interface OsAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups (gids), the primary one included, as `id -G` lists them. */
  readonly groups: readonly number[];
  readonly home: string;
}

export interface SpawnRequest {
  /** The OS account to run as (a name; resolved through NSS). */
  readonly account: string;
  /** Absolute path of the program. */
  readonly file: string;
  readonly args: readonly string[];
  /** The complete environment: nothing is inherited from Persona's own. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Who asked and why (e.g. "CGI /cgi-bin/id.cgi as MACHINE\\bob, createProcessAsUser"), for the log. */
  readonly purpose: string;
  /**
   * 'none': the program has nothing to read (a request without a body): its stdin is /dev/null, and `stdin` drops
   * what is written to it. Saves the forker's second connection. Default: a pipe.
   */
  readonly stdin?: 'pipe' | 'none';
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnedProcess {
  readonly pid: number;
  /** The account the process really runs as (resolved uid, gid and groups). */
  readonly account: OsAccount;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles once, when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** Signals the whole process group (default SIGKILL): a CGI's children die with it. */
  killGroup(signal?: NodeJS.Signals): void;
}

/** Why a process could not be started as asked; `status`/`substatus` are what the request gets (e.g. 403.19). */
export interface SpawnRefusal {
  readonly kind: 'refused';
  readonly status: number;
  readonly substatus: number;
  readonly reason: string;
}

export function isSpawnRefusal(value: unknown): value is SpawnRefusal {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'refused';
}

export interface SpawnCapability {
  /** True when processes can be started as other accounts (the launcher runs as root). */
  readonly canSwitchAccounts: boolean;
  /** The account processes run as when no switch happens. */
  readonly processAccount: string;
  /** One sentence for start-up and `explain`: why switching is or is not available. */
  readonly reason: string;
}

export interface ProcessSpawner {
  readonly capability: SpawnCapability;
  spawn(request: SpawnRequest): Promise<SpawnedProcess | SpawnRefusal>;
}

/** The `stdin` of a process started with stdin 'none': what is written is dropped, as /dev/null would take it. */
export function discardingStdin(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}
