/**
 * A real account store in a fresh temporary folder, with cheap scrypt (ln=4) where the hash cost is not under test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openAccountStore, type SqliteAccountStore, type StoreOptions } from '../../src/accounts/store.js';

export const MACHINE = { machineName: 'WEB1', machineSid: 'S-1-5-21-1111-2222-3333' } as const;
export const CHEAP: StoreOptions = { scryptLn: 4 };

export interface TempStore {
  readonly store: SqliteAccountStore;
  readonly dir: string;
  readonly file: string;
  /** Opens a second connection on the same file (another process would see the same). */
  reopen(options?: StoreOptions): SqliteAccountStore;
  cleanup(): void;
}

export function tempDir(prefix = 'accounts'): string {
  return mkdtempSync(path.join(os.tmpdir(), `persona-${prefix}-`));
}

export function tempStore(options: StoreOptions = CHEAP): TempStore {
  const dir = tempDir();
  const file = path.join(dir, 'accounts.db');
  const store = openAccountStore(file, MACHINE, options);
  const others: SqliteAccountStore[] = [];
  return {
    store,
    dir,
    file,
    reopen(o = options) {
      const s = openAccountStore(file, MACHINE, o);
      others.push(s);
      return s;
    },
    cleanup() {
      for (const s of [store, ...others]) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A test body run against a fresh temporary store, cleaned up afterwards. */
export function withStore(fn: (store: SqliteAccountStore, t: TempStore) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const t = tempStore();
    try {
      await fn(t.store, t);
    } finally {
      t.cleanup();
    }
  };
}
