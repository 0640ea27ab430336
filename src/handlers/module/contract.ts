/**
 * JS handler modules (ISAPI extensions' heir, MODEL.md §1 "Extension / in-process handler"): the contract between
 * the pipeline and `handlers/module`. A handler module is an ES module whose default export serves requests:
 *
 *   export default async function (req, res, persona) { … }      // persona: HandlerContext
 *   export async function start(persona) { … }                    // optional: once, as the process identity
 *
 * The request runs impersonating an identity chosen by the `identity` setting (ASP.NET <identity>): the request
 * token (impersonate: true, default), the process identity (impersonate: false), or a fixed account (userName/
 * password). Node cannot change its OS identity per request, so Persona enforces it (MODEL.md §8): the identity
 * travels in an async context, and `persona.fs` checks every access against the file's ACL with it. Plain
 * `node:fs` and `child_process` run as the worker's OS account, as CreateProcess does on Windows — documented,
 * and `persona.spawnAsUser` goes through the spawn broker instead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Token } from '../../security/token.js';
import type { SpawnedProcess, SpawnRefusal } from '../../identity/spawn.js';

/** Who the code runs as right now, and why (for `explain` and for error messages). */
export interface CurrentIdentity {
  readonly token: Token;
  /** e.g. "impersonating the request token (identity.impersonate: true)". */
  readonly reason: string;
}

export interface IdentityFs {
  /** Reads a file after checking read access for the current identity (AccessDeniedError names the deciding ACE). */
  readFile(file: string): Promise<Buffer>;
  readFile(file: string, encoding: BufferEncoding): Promise<string>;
  writeFile(file: string, data: string | Uint8Array): Promise<void>;
  readdir(dir: string): Promise<string[]>;
}

export interface HandlerContext {
  /** The identity the code runs as at this point of the async flow. */
  identity(): CurrentIdentity;
  /** The request's authenticated token, whatever the current impersonation. */
  readonly requestToken: Token;
  /** ACL-checked file access with the current identity. */
  readonly fs: IdentityFs;
  /** Runs `fn` as the process identity (IIS RevertToSelf); the impersonation resumes afterwards. */
  revertToSelf<T>(fn: () => T): T;
  /** Runs `fn` impersonating `token` (IIS ImpersonateLoggedOnUser). */
  impersonate<T>(token: Token, fn: () => T): T;
  /** A password logon (audited, lockout counted), as LogonUser: the token or null. */
  logonUser(userName: string, password: string, options?: { logonMethod?: 'Interactive' | 'Batch' | 'Network' | 'ClearText' }): Promise<Token | null>;
  /** Starts a process as the current identity's OS account through the spawn broker (CreateProcessAsUser). */
  spawnAsUser(file: string, args: readonly string[], options?: { cwd?: string; env?: Record<string, string> }): Promise<SpawnedProcess | SpawnRefusal>;
}

/** The shape of a handler module once loaded. */
export interface HandlerModule {
  readonly handle: (req: IncomingMessage, res: ServerResponse, persona: HandlerContext) => unknown;
  readonly start?: (persona: HandlerContext) => unknown;
}
