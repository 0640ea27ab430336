/**
 * How the account and ACL commands reach the account store: the same database and machine identity the server
 * uses, found the same way (the home layout, `<home>/machine.json`, `server.security.accountsDatabase`).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { AccountStore } from '../accounts/types.js';
import { ensureMachineIdentity } from '../state/machine.js';
import { openInitialisedStore } from '../state/security-init.js';
import { Exit } from './exit-codes.js';
import { layoutFrom, type GlobalOptions } from './options.js';

/** The database file: the configuration's `server.security.accountsDatabase` when the file loads, else `<home>/accounts.db`. */
export async function accountsDatabaseFor(options: GlobalOptions): Promise<string> {
  return (await storeSettingsFor(options)).file;
}

/** Where the store is and which slow hash new passwords get (`server.security.passwordHash`), as serve reads them. */
export async function storeSettingsFor(options: GlobalOptions): Promise<{ file: string; passwordHash: 'scrypt' | 'argon2id' }> {
  const layout = layoutFrom(options);
  const fallback = { file: path.join(layout.home, 'accounts.db'), passwordHash: 'scrypt' as const };
  if (!existsSync(layout.configFile)) return fallback;
  // Loaded only when there is a file: compiling the configuration schema costs more than the command itself.
  const { loadConfigFile } = await import('../config/load.js');
  const loaded = await loadConfigFile(layout.configFile);
  if ('problems' in loaded) {
    // Said aloud because a configuration that names another database would otherwise be silently bypassed.
    console.error(`persona: warning: ${layout.configFile} does not load (run persona config test); using ${fallback.file}`);
    return fallback;
  }
  const security = loaded.input.server?.security;
  return { file: security?.accountsDatabase ?? fallback.file, passwordHash: security?.passwordHash ?? 'scrypt' };
}

export async function openStoreFor(options: GlobalOptions): Promise<AccountStore> {
  const layout = layoutFrom(options);
  // The machine SID is made once, by whichever comes first (serve or an account command): accounts created before
  // the first `serve` must keep their SIDs, so the CLI creates the identity exactly as serve would.
  await mkdir(layout.home, { recursive: true, mode: 0o750 });
  const { identity } = await ensureMachineIdentity(layout.machineFile);
  const { file, passwordHash } = await storeSettingsFor(options);
  // Through openInitialisedStore, as serve does: a database the CLI creates gets the same root ACL.
  return openInitialisedStore(file, { machineName: identity.machineName, machineSid: identity.machineSid }, passwordHash).store;
}

/**
 * Opens the store, runs one command against it and closes it. The store reports refusals (a taken name, a bad
 * name, a built-in group) as thrown Errors whose message is written for people; they become one line on stderr and
 * exit 1, like every other failure of these commands.
 */
export async function withStore(options: GlobalOptions, run: (store: AccountStore) => Promise<number> | number): Promise<number> {
  let store: AccountStore;
  try {
    store = await openStoreFor(options);
  } catch (err) {
    console.error(`persona: cannot open the account store: ${(err as Error).message}`);
    return Exit.FAILURE;
  }
  try {
    return await run(store);
  } catch (err) {
    console.error(`persona: ${(err as Error).message}`);
    return Exit.FAILURE;
  } finally {
    store.close();
  }
}

/** One line on stderr and exit 1: the failure shape of every account command. */
export function fail(message: string): number {
  console.error(`persona: ${message}`);
  return Exit.FAILURE;
}
