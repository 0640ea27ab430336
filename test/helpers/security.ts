/**
 * A real security core (SQLite account store, audit log) in a fresh temporary folder, for in-process tests of the
 * stages and handlers that need one: open it in `before`, close it in `after`.
 */
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { closeSecurity, openSecurity, type SecurityServices } from '../../src/security/services.js';
import { newMachineSid } from '../../src/state/machine.js';

export interface TestSecurity {
  readonly security: SecurityServices;
  /** The folder (real path) holding the store and the audit log; tests may put their files there. */
  readonly dir: string;
  close(): Promise<void>;
}

export async function openTestSecurity(prefix: string, machineName = 'TESTBOX'): Promise<TestSecurity> {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), `persona-${prefix}-`)));
  const security = openSecurity({
    databaseFile: path.join(dir, 'accounts.db'),
    machine: { machineName, machineSid: newMachineSid(), createdAt: '' },
    auditFile: path.join(dir, 'audit.log'),
    tokenTtlMs: 60_000,
    processUser: 'www-data',
  });
  return {
    security,
    dir,
    async close() {
      await closeSecurity(security);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
