/**
 * The contract every measured server fulfils, and the registry of the four. Each server lives in its own file
 * with its own private configuration written into the run's temporary folder.
 */
import type { Credentials, ServerId } from './cases.js';
import type { Tracked } from './processes.js';
import { apache, apacheTuned } from './server-apache.js';
import { nginx } from './server-nginx.js';
import { memoryNode, plainNode } from './server-node.js';
import { persona } from './server-persona.js';

export interface BenchEnv {
  /** The run's private folder: configurations, pid files, logs. */
  tmp: string;
  /** The web root every server serves. */
  www: string;
  /** The compiled tree this harness runs from (dist/ or a private outDir): holds src/cli/main.js. */
  distDir: string;
  isRoot: boolean;
  /**
   * The account of the Basic case when it is selected, else null: a server then makes the account and protects
   * cases.ts BASIC_FOLDER with Basic (and does neither when the case is not run).
   */
  basic: Credentials | null;
  /**
   * The account of the NTLM cases when one is selected, else null: Persona then makes it with an NT hash and
   * protects cases.ts NTLM_FOLDER with NTLM only.
   */
  ntlm: Credentials | null;
  /** The account of the Digest case when selected: Persona makes it with Digest verifiers and protects DIGEST_FOLDER. */
  digest: Credentials | null;
  /** A selected case runs cases.ts CGI_FOLDER's `*.cgi` as CGI: the servers map it (and do nothing of it otherwise). */
  cgi: boolean;
  /** The JS handler module's file when a selected case needs it (Persona maps cases.ts MODULE_URL to it), else null. */
  module: string | null;
}

export interface RunningServer {
  port: number;
  proc: Tracked;
  /** Files worth reading when something goes wrong, and the access log the server keeps. */
  logs: string[];
}

export interface ServerDef {
  id: ServerId;
  label: string;
  /** null when it can run here; otherwise why not. */
  unavailable(env: BenchEnv): string | null;
  /** One line naming the version, or null if unknown. */
  version(env: BenchEnv): string | null;
  /** Starts the server on a free loopback port; the caller waits for readiness. */
  start(env: BenchEnv): Promise<RunningServer>;
}

export const SERVERS: readonly ServerDef[] = [persona, plainNode, memoryNode, nginx, apache, apacheTuned];
