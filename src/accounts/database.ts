/**
 * The account database file: SQLite opened for several processes (the server and the CLI write the same file), with
 * the schema versioned by `PRAGMA user_version` and migrated in code.
 *
 * - WAL: readers never block the writer and a crash leaves only whole transactions (the WAL is replayed or ignored
 *   frame-by-commit on the next open).
 * - busy_timeout 10 s: a writer waits for the other process's transaction instead of failing with SQLITE_BUSY; every
 *   write transaction is BEGIN IMMEDIATE (see store.ts), so no transaction has to upgrade a read lock, the one case
 *   where SQLite returns SQLITE_BUSY without waiting.
 * - synchronous NORMAL by default: in WAL mode a commit survives a process crash (kill -9) at once and a power loss
 *   once checkpointed; the store switches to FULL for administrative changes (store.ts explains).
 * - foreign_keys ON: memberships and verifiers cannot outlive their accounts.
 * - The file is created 0600 (it holds password verifiers); SQLite creates -wal and -shm with the file's mode.
 */
import Database from 'better-sqlite3';
import { closeSync, constants, openSync } from 'node:fs';

export type Db = Database.Database;

export const BUSY_TIMEOUT_MS = 10_000;

/** What a migration may need beyond the database: facts of the machine the store is opened for. */
export interface MigrationContext {
  /** The machine name: the first Digest realm (IIS sends the machine's name as the realm when none is set). */
  readonly machineName: string;
}

/** SQL, or code for a migration that needs more than SQL (initial rows that depend on the machine). */
type Migration = string | ((db: Db, context: MigrationContext) => void);

/** Schema migrations: entry i takes the database from user_version i to i + 1. Never edit one that shipped; add one. */
const MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    machine_sid TEXT NOT NULL,
    next_rid INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    acl_epoch INTEGER NOT NULL,
    lockout_threshold INTEGER NOT NULL,
    lockout_window INTEGER NOT NULL,
    lockout_duration INTEGER NOT NULL
  ) STRICT;

  -- Users and groups share one name space (Windows: a name is one account), hence one table with a unique name key.
  CREATE TABLE principals (
    sid TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    builtin INTEGER NOT NULL DEFAULT 0
  ) STRICT;

  CREATE TABLE users (
    sid TEXT PRIMARY KEY REFERENCES principals (sid) ON DELETE CASCADE,
    rid INTEGER NOT NULL UNIQUE,
    full_name TEXT NOT NULL DEFAULT '',
    disabled INTEGER NOT NULL DEFAULT 0,
    password_expired INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    os_account TEXT,
    created_at TEXT NOT NULL,
    password_changed_at TEXT,
    stamp INTEGER NOT NULL DEFAULT 1,
    failures INTEGER NOT NULL DEFAULT 0,
    last_failure_at INTEGER,
    locked INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER
  ) STRICT;

  -- Verifiers apart from the account rows: no query that reads accounts can return one by accident, and the NT hash
  -- and Digest hashes (later issues) are more kinds of the same row.
  CREATE TABLE verifiers (
    sid TEXT NOT NULL REFERENCES users (sid) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (sid, kind)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE members (
    group_sid TEXT NOT NULL REFERENCES principals (sid) ON DELETE CASCADE,
    user_sid TEXT NOT NULL REFERENCES users (sid) ON DELETE CASCADE,
    PRIMARY KEY (group_sid, user_sid)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX members_by_user ON members (user_sid);

  -- Rights may be held by SIDs that are not in principals (Everyone, SERVICE…), so no foreign key.
  CREATE TABLE rights (
    sid TEXT NOT NULL,
    user_right TEXT NOT NULL,
    PRIMARY KEY (sid, user_right)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE descriptors (
    path TEXT PRIMARY KEY,
    descriptor TEXT NOT NULL
  ) STRICT;
  `,
  // 2 (issue 7): Digest verifiers. MODEL.md §2: H(user:realm:password) per realm and hash, password-equivalent, so
  // kept only for accounts with Digest enabled. Three tables whose foreign keys make the invariants unrepresentable
  // rather than merely unwritten: a verifier without the account's switch (deleting the switch cascades to them), a
  // verifier for a realm the store no longer serves (removing a realm cascades), a verifier of a removed account.
  (db, context) => {
    db.exec(`
      -- The realms verifiers are made for, in the order they were added (rowid): a setting of the store, since the
      -- verifiers depend on it and the server and the CLI must agree on it.
      CREATE TABLE digest_realms (
        realm TEXT PRIMARY KEY
      ) STRICT;

      -- The account's Digest switch: a row means enabled. Apart from the verifiers because an enabled account may have
      -- none for a realm added after its last password change.
      CREATE TABLE digest_accounts (
        sid TEXT PRIMARY KEY REFERENCES users (sid) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;

      -- One row per account, realm, hash and user-name form (Digest hashes the name as typed; see store.ts), with the
      -- userhash H(username:realm) of the same form for RFC 7616 userhash lookups (hence the index).
      CREATE TABLE digest_verifiers (
        sid TEXT NOT NULL REFERENCES digest_accounts (sid) ON DELETE CASCADE,
        realm TEXT NOT NULL REFERENCES digest_realms (realm) ON DELETE CASCADE,
        hash TEXT NOT NULL CHECK (hash IN ('MD5', 'SHA-256', 'SHA-512-256')),
        username TEXT NOT NULL,
        ha1 TEXT NOT NULL,
        userhash TEXT NOT NULL,
        PRIMARY KEY (sid, realm, hash, username)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX digest_by_userhash ON digest_verifiers (realm, hash, userhash);
    `);
    // The machine name is a valid realm: account-name rules forbid the quote, the backslash and control characters.
    db.prepare(`INSERT INTO digest_realms (realm) VALUES (?)`).run(context.machineName);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating if needed) the database at `file`, sets the pragmas and brings the schema up to date (`context`
 * feeds the migrations that need it). `initialise` runs once, in the same transaction as the first migration, to write the initial rows: a process killed during the
 * first open leaves an empty database, never a half-seeded one. Throws an Error with a readable message when the file
 * is not an account database or is newer than this code.
 */
export function openDatabase(file: string, context: MigrationContext, initialise: (db: Db) => void): Db {
  createPrivate(file);
  let db: Db;
  try {
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  } catch (err) {
    throw new Error(`cannot open the account database ${file}: ${(err as Error).message}`);
  }
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`the file system does not support WAL (journal mode stays ${String(mode)})`);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, file, context, initialise);
    return db;
  } catch (err) {
    db.close();
    const message = (err as Error).message;
    throw new Error(message.includes(file) ? message : `cannot open the account database ${file}: ${message}`);
  }
}

function migrate(db: Db, file: string, context: MigrationContext, initialise: (db: Db) => void): void {
  const version = (): number => Number(db.pragma('user_version', { simple: true }));
  if (version() === SCHEMA_VERSION) return; // the common case, without taking the write lock
  db.transaction(() => {
    // Read again under the write lock: another process may have migrated meanwhile.
    const from = version();
    if (from > SCHEMA_VERSION) throw new Error(`the account database ${file} has schema version ${from}, newer than this Persona supports (${SCHEMA_VERSION})`);
    if (from === 0) {
      const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_schema`).get() as { n: number };
      if (tables.n > 0) throw new Error(`${file} is an SQLite database but not a Persona account database`);
    }
    for (let v = from; v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v]!;
      if (typeof step === 'string') db.exec(step);
      else step(db, context);
    }
    if (from === 0) initialise(db);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** Creates the file with mode 0600 if it does not exist (an existing file keeps its mode: the administrator's choice). */
function createPrivate(file: string): void {
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the account database ${file}: ${(err as Error).message}`);
  }
}
