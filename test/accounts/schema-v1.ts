/**
 * An account database of schema version 1 as the code before the Digest migration wrote it (commit 23352aa:
 * openAccountStore on WEB1 / S-1-5-21-1111-2222-3333 with scrypt ln=4, then Alice created with NTLM, bob in Users and
 * Administrators and a group Editors, a right and a descriptor), dumped as SQL. Tests restore it into a file and open
 * it with the current code, which must migrate it without losing anything.
 *
 * Passwords: Alice = "Alice-v1-pw", bob = "Bob-v1-pw".
 */
export const SCHEMA_V1_MACHINE = { machineName: 'WEB1', machineSid: 'S-1-5-21-1111-2222-3333' } as const;

export const SCHEMA_V1_SQL = String.raw`
PRAGMA user_version = 1;
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
CREATE TABLE rights (
    sid TEXT NOT NULL,
    user_right TEXT NOT NULL,
    PRIMARY KEY (sid, user_right)
  ) STRICT, WITHOUT ROWID;
CREATE TABLE descriptors (
    path TEXT PRIMARY KEY,
    descriptor TEXT NOT NULL
  ) STRICT;
INSERT INTO "meta" VALUES (1, 'S-1-5-21-1111-2222-3333', 1003, 3, 2, 0, 1800, 1800);
INSERT INTO "principals" VALUES ('S-1-5-32-544', 'group', 'Administrators', 'administrators', 'Administrators have complete and unrestricted access to the computer/domain', 1);
INSERT INTO "principals" VALUES ('S-1-5-32-545', 'group', 'Users', 'users', 'Users are prevented from making accidental or intentional system-wide changes and can run most applications', 1);
INSERT INTO "principals" VALUES ('S-1-5-32-546', 'group', 'Guests', 'guests', 'Guests have the same access as members of the Users group by default, except for the Guest account which is further restricted', 1);
INSERT INTO "principals" VALUES ('S-1-5-32-568', 'group', 'IIS_IUSRS', 'iis_iusrs', 'Built-in group used by Internet Information Services.', 1);
INSERT INTO "principals" VALUES ('S-1-5-21-1111-2222-3333-1000', 'user', 'Alice', 'alice', '', 0);
INSERT INTO "principals" VALUES ('S-1-5-21-1111-2222-3333-1001', 'user', 'bob', 'bob', '', 0);
INSERT INTO "principals" VALUES ('S-1-5-21-1111-2222-3333-1002', 'group', 'Editors', 'editors', 'people who edit', 0);
INSERT INTO "users" VALUES ('S-1-5-21-1111-2222-3333-1000', 1000, 'Alice Liddell', 0, 0, 0, NULL, '2026-11-22T04:38:01.293Z', '2026-11-22T04:38:01.293Z', 1, 0, NULL, 0, NULL);
INSERT INTO "users" VALUES ('S-1-5-21-1111-2222-3333-1001', 1001, '', 0, 0, 0, NULL, '2026-11-22T04:38:01.295Z', '2026-11-22T04:38:01.295Z', 2, 0, NULL, 0, NULL);
INSERT INTO "verifiers" VALUES ('S-1-5-21-1111-2222-3333-1000', 'nt', '297deb53a69464a884ff1626c0291368');
INSERT INTO "verifiers" VALUES ('S-1-5-21-1111-2222-3333-1000', 'password', '$scrypt$ln=4,r=8,p=1$Gt06wdI9EygmdEueV8BmBg$wz1JycthxdC0C0TRfNcFcyBayhmpCG4JcWy7nylSFBA');
INSERT INTO "verifiers" VALUES ('S-1-5-21-1111-2222-3333-1001', 'password', '$scrypt$ln=4,r=8,p=1$Hp4LKlvnEeh1deFgLdOAeg$Kg3uuGbMaern/BMPjnzsYbgBFg63/kOTajG2ac/RyWU');
INSERT INTO "members" VALUES ('S-1-5-32-545', 'S-1-5-21-1111-2222-3333-1000');
INSERT INTO "members" VALUES ('S-1-5-21-1111-2222-3333-1002', 'S-1-5-21-1111-2222-3333-1001');
INSERT INTO "members" VALUES ('S-1-5-32-544', 'S-1-5-21-1111-2222-3333-1001');
INSERT INTO "members" VALUES ('S-1-5-32-545', 'S-1-5-21-1111-2222-3333-1001');
INSERT INTO "rights" VALUES ('S-1-1-0', 'SeNetworkLogonRight');
INSERT INTO "rights" VALUES ('S-1-5-19', 'SeAssignPrimaryTokenPrivilege');
INSERT INTO "rights" VALUES ('S-1-5-20', 'SeAssignPrimaryTokenPrivilege');
INSERT INTO "rights" VALUES ('S-1-5-21-1111-2222-3333-1002', 'SeBatchLogonRight');
INSERT INTO "rights" VALUES ('S-1-5-32-544', 'SeBatchLogonRight');
INSERT INTO "rights" VALUES ('S-1-5-32-544', 'SeImpersonatePrivilege');
INSERT INTO "rights" VALUES ('S-1-5-32-544', 'SeInteractiveLogonRight');
INSERT INTO "rights" VALUES ('S-1-5-32-544', 'SeNetworkLogonRight');
INSERT INTO "rights" VALUES ('S-1-5-32-545', 'SeInteractiveLogonRight');
INSERT INTO "rights" VALUES ('S-1-5-32-545', 'SeNetworkLogonRight');
INSERT INTO "rights" VALUES ('S-1-5-32-568', 'SeBatchLogonRight');
INSERT INTO "rights" VALUES ('S-1-5-32-568', 'SeImpersonatePrivilege');
INSERT INTO "rights" VALUES ('S-1-5-6', 'SeImpersonatePrivilege');
INSERT INTO "descriptors" VALUES ('/srv/www', '{"dacl":[{"type":"allow","sid":"S-1-5-32-545","mask":1179817,"flags":{"objectInherit":true,"containerInherit":true,"inheritOnly":false,"noPropagate":false,"inherited":false}}],"protected":false}');
`;
