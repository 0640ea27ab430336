/**
 * `persona acl …` through the real CLI on a real folder tree: grant/deny/remove/inherit/reset, each checked with
 * `acl show --json`; symbolic links and paths that do not exist yet; exit codes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SimpleRight } from '../../src/security/access-mask.js';
import { assertNothingSecretPrinted, cli, expectStatus, json, tempHome } from './run.js';

interface AceJson {
  type: 'allow' | 'deny';
  sid: string;
  name: string;
  mask: number;
  rights: string;
  flags: { objectInherit: boolean; containerInherit: boolean; inheritOnly: boolean; noPropagate: boolean; inherited: boolean };
  inherited: boolean;
  from: string;
  text: string;
}
interface ShowJson {
  path: string;
  exists: boolean;
  isContainer: boolean;
  stored: boolean;
  owner: { sid: string; name: string } | null;
  protected: boolean;
  nullDacl: boolean;
  noAclInChain: boolean;
  aces: AceJson[];
  reason: string;
}

const ADMINS = 'S-1-5-32-544';
const USERS = 'S-1-5-32-545';
const EVERYONE = 'S-1-1-0';

describe('persona acl', () => {
  let home: string;
  let www: string;
  let secure: string;
  let index: string;
  let annSid: string;
  const show = (p: string): ShowJson => json<ShowJson>(cli(home, ['acl', 'show', p, '--json']));
  const brief = (s: ShowJson) => s.aces.map((a) => `${a.type} ${a.sid} ${a.inherited ? 'I' : 'E'}`);

  before(async () => {
    home = await tempHome('acl');
    www = path.join(await realpath(home), 'www');
    secure = path.join(www, 'secure');
    index = path.join(www, 'index.html');
    await mkdir(secure, { recursive: true });
    await writeFile(index, 'hello');
    await writeFile(path.join(secure, 's.txt'), 'secret');
    await symlink(www, path.join(home, 'link'));
    expectStatus(cli(home, ['user', 'add', 'ann'], 'pw-ann\n'), 0);
    annSid = json<{ sid: string }>(cli(home, ['user', 'show', 'ann', '--json'])).sid;
  });
  after(() => assertNothingSecretPrinted(['pw-ann', 'pw-temp']));

  test('a database the CLI creates starts with the root ACL serve would write', () => {
    const root = show('/');
    assert.equal(root.stored, true);
    assert.equal(root.protected, true);
    assert.deepEqual(root.aces.map((a) => a.text), ['BUILTIN\\Administrators:(OI)(CI)(F)', 'NT AUTHORITY\\SYSTEM:(OI)(CI)(F)', 'BUILTIN\\Users:(OI)(CI)(RX)']);
    assert.ok(show(index).aces.every((a) => a.inherited && a.from === '/'));
  });

  test('show with no descriptor anywhere in the chain says plainly that every access is denied', () => {
    // The rest of this file works on a tree with no root ACL, which an administrator may choose too.
    expectStatus(cli(home, ['acl', 'reset', '/']), 0);
    const s = show(index);
    assert.equal(s.noAclInChain, true);
    assert.deepEqual(s.aces, []);
    assert.equal(s.exists, true);
    assert.equal(s.isContainer, false);
    const text = expectStatus(cli(home, ['acl', 'show', index]), 0).stdout;
    assert.match(text, /no ACL applies: every access is denied; run persona acl grant/);
  });

  test('grant on a folder: explicit there, inherited (I) below with its origin', () => {
    const r = expectStatus(cli(home, ['acl', 'grant', www, 'Administrators:(OI)(CI)F', 'Users:(OI)(CI)RX']), 0);
    assert.match(r.stdout, /granted BUILTIN\\Administrators:\(OI\)\(CI\)\(F\), BUILTIN\\Users:\(OI\)\(CI\)\(RX\)/);
    const folder = show(www);
    assert.equal(folder.stored, true);
    assert.equal(folder.isContainer, true);
    assert.deepEqual(brief(folder), [`allow ${ADMINS} E`, `allow ${USERS} E`]);
    const file = show(index);
    assert.equal(file.stored, false);
    assert.deepEqual(brief(file), [`allow ${ADMINS} I`, `allow ${USERS} I`]);
    assert.ok(file.aces.every((a) => a.from === www));
    assert.equal(file.aces[1]!.text, 'BUILTIN\\Users:(I)(RX)');
    assert.equal(file.aces[1]!.mask, SimpleRight.RX);
    assert.deepEqual(show(secure).aces.map((a) => a.text), ['BUILTIN\\Administrators:(I)(OI)(CI)(F)', 'BUILTIN\\Users:(I)(OI)(CI)(RX)']);
    const text = expectStatus(cli(home, ['acl', 'show', index]), 0).stdout;
    assert.match(text, new RegExp(`BUILTIN\\\\Users:\\(I\\)\\(RX\\)\\s+from ${www.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  test('a grant for a SID and flags that already have an explicit allow ACE merges the masks', () => {
    expectStatus(cli(home, ['acl', 'grant', www, 'Users:(OI)(CI)W']), 0);
    const users = show(www).aces.filter((a) => a.sid === USERS);
    assert.equal(users.length, 1);
    assert.equal(users[0]!.mask, (SimpleRight.RX | SimpleRight.W) >>> 0);
    // Different flags: a separate ACE.
    expectStatus(cli(home, ['acl', 'grant', www, 'Users:D']), 0);
    assert.equal(show(www).aces.filter((a) => a.sid === USERS).length, 2);
  });

  test('deny puts the deny ACE before the explicit allow ACEs (canonical order)', () => {
    expectStatus(cli(home, ['acl', 'deny', www, 'ann:(OI)(CI)W']), 0);
    const s = show(www);
    assert.equal(s.aces[0]!.type, 'deny');
    assert.equal(s.aces[0]!.sid, annSid);
    assert.match(s.aces[0]!.text, /\\ann:\(OI\)\(CI\)\(DENY\)\(W\)$/);
    assert.deepEqual(brief(show(index))[0], `deny ${annSid} I`);
  });

  test('explicit ACEs on a file come before what it inherits', () => {
    expectStatus(cli(home, ['acl', 'grant', index, `*${annSid}:R`]), 0);
    // Users:D on the folder has no inheritance flags, so it stays there.
    assert.deepEqual(brief(show(index)), [`allow ${annSid} E`, `deny ${annSid} I`, `allow ${ADMINS} I`, `allow ${USERS} I`]);
    assert.equal(show(index).aces[0]!.text.endsWith('\\ann:(R)'), true);
  });

  test('remove drops every explicit ACE of the principals; inherited ones are said to remain', () => {
    assert.match(expectStatus(cli(home, ['acl', 'remove', www, 'ann']), 0).stdout, /removed 1 explicit ACE/);
    assert.ok(!show(www).aces.some((a) => a.sid === annSid));
    assert.match(expectStatus(cli(home, ['acl', 'remove', index, annSid]), 0).stdout, /removed 1 explicit ACE/);
    assert.ok(!show(index).aces.some((a) => a.sid === annSid));
    const r = expectStatus(cli(home, ['acl', 'remove', secure, 'Users']), 0);
    assert.match(r.stdout, /no explicit ACE for BUILTIN\\Users; nothing changed; inherited ACEs for them remain \(from /);
    assert.match(expectStatus(cli(home, ['acl', 'remove', www, 'nobody-here']), 1).stderr, /no such principal: nobody-here/);
  });

  test('inherit disable copies the inherited ACEs as explicit ones, then protects', () => {
    const before = show(secure);
    assert.match(expectStatus(cli(home, ['acl', 'inherit', secure, 'disable']), 0).stdout, /inheritance disabled; 2 inherited ACE\(s\) copied/);
    const after = show(secure);
    assert.equal(after.protected, true);
    assert.equal(after.stored, true);
    assert.deepEqual(
      after.aces.map((a) => [a.type, a.sid, a.mask, a.inherited, a.from]),
      before.aces.map((a) => [a.type, a.sid, a.mask, false, secure]),
    );
    // Changes above no longer reach it.
    expectStatus(cli(home, ['acl', 'grant', www, 'Everyone:(OI)(CI)R']), 0);
    assert.ok(show(index).aces.some((a) => a.sid === EVERYONE));
    assert.ok(!show(secure).aces.some((a) => a.sid === EVERYONE));
    assert.ok(!show(path.join(secure, 's.txt')).aces.some((a) => a.sid === EVERYONE));
    assert.match(expectStatus(cli(home, ['acl', 'show', secure]), 0).stdout, /inheritance:\s+disabled/);
    assert.match(expectStatus(cli(home, ['acl', 'inherit', secure, 'disable']), 0).stdout, /already disabled/);
  });

  test('inherit enable lets the parent in again, after the explicit ACEs', () => {
    expectStatus(cli(home, ['acl', 'inherit', secure, 'enable']), 0);
    const s = show(secure);
    assert.equal(s.protected, false);
    assert.ok(s.aces.some((a) => a.sid === EVERYONE && a.inherited));
    const firstInherited = s.aces.findIndex((a) => a.inherited);
    assert.ok(s.aces.slice(firstInherited).every((a) => a.inherited));
    assert.match(expectStatus(cli(home, ['acl', 'inherit', secure, 'enable']), 0).stdout, /already inherits/);
  });

  test('reset drops the descriptor: the path only inherits', () => {
    assert.match(expectStatus(cli(home, ['acl', 'reset', secure]), 0).stdout, /descriptor is dropped/);
    const s = show(secure);
    assert.equal(s.stored, false);
    assert.ok(s.aces.length > 0 && s.aces.every((a) => a.inherited));
    assert.match(expectStatus(cli(home, ['acl', 'reset', secure]), 0).stdout, /nothing changed/);
  });

  test('inherit remove protects without copying: an empty DACL denies everything, and says so', () => {
    const r = expectStatus(cli(home, ['acl', 'inherit', secure, 'remove']), 0);
    assert.match(r.stdout, /inheritance removed; .*every access is denied/);
    const s = show(secure);
    assert.equal(s.protected, true);
    assert.deepEqual(s.aces, []);
    assert.equal(s.noAclInChain, false);
    assert.match(expectStatus(cli(home, ['acl', 'show', secure]), 0).stdout, /empty DACL: every access is denied/);
    expectStatus(cli(home, ['acl', 'reset', secure]), 0);
  });

  test('a path through a symbolic link is stored under its real path', () => {
    expectStatus(cli(home, ['acl', 'grant', path.join(home, 'link', 'index.html'), 'Guests:R']), 0);
    const s = show(index);
    assert.equal(s.path, index);
    assert.ok(s.aces.some((a) => a.sid === 'S-1-5-32-546' && !a.inherited));
    assert.equal(show(path.join(home, 'link', 'index.html')).path, index);
  });

  test('a path that does not exist yet can be given ACEs; its existing part is canonicalised', async () => {
    const ghost = path.join(home, 'link', 'new', 'later.txt');
    expectStatus(cli(home, ['acl', 'grant', ghost, 'ann:R']), 0);
    const s = show(path.join(www, 'new', 'later.txt'));
    assert.equal(s.exists, false);
    assert.equal(s.path, path.join(www, 'new', 'later.txt'));
    assert.deepEqual(s.aces[0]!.sid, annSid);
    assert.ok(s.aces.some((a) => a.sid === USERS && a.inherited));
    assert.equal(show(path.join(www, 'new') + '/').isContainer, true);
    // Relative paths are made absolute.
    assert.equal(show('.').path, await realpath(process.cwd()));
  });

  test('a bad spec or unknown principal changes nothing (exit 1)', () => {
    const before = show(www);
    for (const spec of ['Users', 'Users:(XX)R', 'Users:Q', 'nobody-here:R', ':R', 'Users:(OI']) {
      const r = expectStatus(cli(home, ['acl', 'grant', www, 'ann:F', spec]), 1);
      assert.match(r.stderr, /nothing changed/, spec);
    }
    expectStatus(cli(home, ['acl', 'deny', www, 'nobody-here:R']), 1);
    assert.deepEqual(show(www), before);
  });

  test('an ACE naming a removed account shows its SID, and can be removed by *SID', () => {
    expectStatus(cli(home, ['user', 'add', 'temp'], 'pw-temp\n'), 0);
    const tempSid = json<{ sid: string }>(cli(home, ['user', 'show', 'temp', '--json'])).sid;
    expectStatus(cli(home, ['acl', 'grant', www, 'temp:(OI)R']), 0);
    expectStatus(cli(home, ['user', 'remove', 'temp']), 0);
    const orphan = show(www).aces.find((a) => a.sid === tempSid);
    assert.equal(orphan?.text, `*${tempSid}:(OI)(R)`);
    expectStatus(cli(home, ['acl', 'remove', www, `*${tempSid}`]), 0);
    assert.ok(!show(www).aces.some((a) => a.sid === tempSid));
  });

  test('usage errors exit 2: unknown inherit mode, missing spec, no subcommand', () => {
    expectStatus(cli(home, ['acl', 'inherit', www, 'sideways']), 2);
    expectStatus(cli(home, ['acl', 'grant', www]), 2);
    expectStatus(cli(home, ['acl', 'remove', www]), 2);
    expectStatus(cli(home, ['acl']), 2);
    expectStatus(cli(home, ['acl', 'show']), 2);
  });
});

describe('persona audit tail', () => {
  test('a home with no audit log yet: exit 0 and says so; a bad -n is a usage error', async () => {
    const home = await tempHome('audit');
    const r = expectStatus(cli(home, ['audit', 'tail']), 0);
    assert.match(r.stderr, /no audit log yet/);
    expectStatus(cli(home, ['audit', 'tail', '-n', 'many']), 2);
    expectStatus(cli(home, ['audit', 'tail', '--lines', '-3']), 2);
  });
});
