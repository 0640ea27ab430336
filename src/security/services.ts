/**
 * The security services a server process holds for its lifetime: the account store, the token cache, the audit log
 * and the ACL resolver. Opened once at start (not per configuration generation): the store is shared with the CLI and
 * its stamps keep the caches honest across processes.
 */
import { openInitialisedStore } from '../state/security-init.js';
import type { AccountStore } from '../accounts/types.js';
import type { MachineIdentity } from '../state/machine.js';
import { AclResolver } from './acl-resolver.js';
import { AuditLog } from './audit.js';
import { TokenCache } from './token-cache.js';

export interface SecurityServices {
  readonly store: AccountStore;
  readonly tokens: TokenCache;
  readonly audit: AuditLog;
  readonly acl: AclResolver;
  readonly machineName: string;
  /** The OS account this process runs as: the process identity's account. */
  readonly processUser: string;
  /**
   * The installation's Digest nonce key (src/state/digest-key.ts), shared by all workers and kept across restarts.
   * Absent (tests, embedded use): Digest uses a per-process key.
   */
  readonly digestKey?: Buffer;
}

export function openSecurity(options: {
  readonly databaseFile: string;
  readonly machine: MachineIdentity;
  readonly auditFile: string;
  readonly tokenTtlMs: number;
  readonly processUser: string;
  readonly passwordHash?: 'scrypt' | 'argon2id';
  readonly digestKey?: Buffer;
}): SecurityServices & { readonly created: boolean } {
  const { store, created } = openInitialisedStore(options.databaseFile, { machineName: options.machine.machineName, machineSid: options.machine.machineSid }, options.passwordHash);
  return {
    created,
    store,
    tokens: new TokenCache({ ttlMs: options.tokenTtlMs, maxEntries: 10_000 }),
    audit: new AuditLog(options.auditFile),
    acl: new AclResolver(store),
    machineName: options.machine.machineName,
    processUser: options.processUser,
    ...(options.digestKey !== undefined && { digestKey: options.digestKey }),
  };
}

export async function closeSecurity(services: SecurityServices): Promise<void> {
  await services.audit.close();
  services.store.close();
}
