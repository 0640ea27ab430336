/**
 * The OS account a process for this request runs as (CGI, FastCGI, spawnAsUser): cgiIdentity's pure decision, fed
 * with the URL's application pool and what the spawner can do — the pool's configured account where accounts can be
 * switched (the launcher is root), else this process's own.
 */
import { findPool, type ApplicationPool, type UrlResolution } from '../config/compile.js';
import type { Generation } from '../server/generation.js';
import type { Token } from '../security/token.js';
import { cgiIdentity, type CgiIdentity } from './cgi-identity.js';

export interface RequestPool {
  readonly pool: ApplicationPool;
  /** The OS account the pool's processes run as. */
  readonly poolAccount: string;
}

export function requestPool(generation: Pick<Generation, 'config' | 'spawner'>, resolution: UrlResolution): RequestPool {
  const spawner = generation.spawner;
  const pool = findPool(generation.config.server, resolution.application.applicationPool) ?? { name: resolution.application.applicationPool, identity: '', replaceProcessToken: true };
  return { pool, poolAccount: spawner.capability.canSwitchAccounts ? pool.identity : spawner.capability.processAccount };
}

export function requestProcessIdentity(generation: Pick<Generation, 'config' | 'spawner'>, resolution: UrlResolution, token: Token, asUser: boolean): CgiIdentity {
  const { pool, poolAccount } = requestPool(generation, resolution);
  return cgiIdentity({ token, createProcessAsUser: asUser, pool, poolAccount });
}
