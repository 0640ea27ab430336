/**
 * The `persona` object a handler module gets (contract.ts HandlerContext): the current identity from the async
 * context, ACL-checked files, RevertToSelf / impersonation, LogonUser and CreateProcessAsUser through the spawn broker.
 *
 * logonUser makes tokens with authPackage 'Basic': in Persona's vocabulary that is the package of "a clear-text
 * password verified by logonUser" — what IIS's Basic authentication does with LogonUser, and what a handler's
 * LogonUser call is. 'Process' would be wrong: it marks the process identity (cgi-identity runs it as the pool's
 * account), so a handler that logged bob on would start his processes as the pool.
 */
import path from 'node:path';
import { cgiIdentity } from '../../identity/cgi-identity.js';
import type { ProcessSpawner, SpawnRefusal } from '../../identity/spawn.js';
import type { AccessDecision } from '../../security/acl-types.js';
import { logonUser } from '../../security/logon.js';
import type { SecurityServices } from '../../security/services.js';
import type { LogonMethod, Token } from '../../security/token.js';
import type { CurrentIdentity, HandlerContext } from './contract.js';
import { currentIdentity, runAs } from './identity-context.js';
import { createIdentityFs } from './identity-fs.js';

export interface HandlerContextOptions {
  readonly requestToken: Token;
  readonly processToken: Token;
  /**
   * The identity of the handler's flow, used when the async context has none: callbacks Node runs in the context
   * of the resource that emits them (e.g. `req.on('data')` runs in the connection's) do not see the handler's.
   */
  readonly identity: CurrentIdentity;
  readonly security: Pick<SecurityServices, 'store' | 'acl' | 'audit'>;
  readonly spawner: ProcessSpawner;
  readonly pool: { readonly name: string; readonly replaceProcessToken: boolean };
  /** The pool worker's OS account: the process identity's account for spawnAsUser. */
  readonly poolAccount: string;
  /** Where logons made by the handler come from, for the audit log. */
  readonly clientAddress: string;
  /** Working folder of spawned processes when none is given (the module's folder). */
  readonly defaultCwd: string;
  readonly onDenied?: (token: Token, target: string, decision: AccessDecision) => void;
}

/** A minimal PATH: a spawned process inherits nothing from Persona's environment. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function createHandlerContext(o: HandlerContextOptions): HandlerContext {
  const identity = (): CurrentIdentity => currentIdentity() ?? o.identity;
  const self: CurrentIdentity = { token: o.processToken, reason: `RevertToSelf: the process identity ${o.processToken.user.name}` };
  return {
    identity,
    requestToken: o.requestToken,
    fs: createIdentityFs({ acl: o.security.acl, nameOf: (sid) => o.security.store.nameOf(sid), identity, onDenied: o.onDenied }),
    revertToSelf: <T>(fn: () => T): T => runAs(self, fn),
    impersonate: <T>(token: Token, fn: () => T): T => runAs({ token, reason: `impersonating ${token.user.name} (persona.impersonate)` }, fn),
    async logonUser(userName: string, password: string, options?: { logonMethod?: LogonMethod }): Promise<Token | null> {
      const result = await logonUser(
        o.security.store,
        { name: userName, domain: undefined, password, logonMethod: options?.logonMethod ?? 'ClearText', authPackage: 'Basic', defaultLogonDomain: '', clientAddress: o.clientAddress },
        o.security.audit,
      );
      // The reason is in the audit log (4625); the handler gets null, as LogonUser returns FALSE.
      return result.ok ? result.token : null;
    },
    async spawnAsUser(file: string, args: readonly string[], options?: { cwd?: string; env?: Record<string, string> }) {
      const { token } = identity();
      const who = cgiIdentity({ token, createProcessAsUser: true, pool: o.pool, poolAccount: o.poolAccount });
      if (!who.ok) return { kind: 'refused', status: who.status, substatus: who.substatus, reason: who.reason } satisfies SpawnRefusal;
      return o.spawner.spawn({
        account: who.account,
        file: path.resolve(file),
        args,
        env: { PATH: DEFAULT_PATH, ...options?.env },
        cwd: options?.cwd ?? o.defaultCwd,
        purpose: `spawnAsUser from a handler module as ${token.user.name}: ${who.reason}`,
      });
    },
  };
}
