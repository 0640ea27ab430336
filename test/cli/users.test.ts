/**
 * `persona user …` through the real CLI on a temporary home: passwords from stdin and from a real terminal (never
 * from argv), the account lifecycle, exit codes, and no password or verifier ever printed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { assertNothingSecretPrinted, cli, expectStatus, json, openHomeStore, ptyRun, tempHome, verify } from './run.js';

const PASSWORDS = ['Alice-pw-1', 'Alice-pw-2', 'Bob pw with spaces', 'tty-Secret-77', 'tty-Other-88', 'never-used-pw', 'crlf-pw-5'];

interface Shown {
  name: string;
  qualifiedName: string;
  sid: string;
  rid: number;
  fullName: string;
  description: string;
  disabled: boolean;
  lockedOut: boolean;
  failedAttempts: number;
  lockedUntil: string | null;
  passwordExpired: boolean;
  mustChangePassword: boolean;
  passwordChangedAt: string | null;
  osAccount: string | null;
  groups: { sid: string; name: string }[];
  rights: { right: string; via: { sid: string; name: string }[] }[];
}

describe('persona user', () => {
  let home: string;
  before(async () => {
    home = await tempHome('users');
  });
  after(() => assertNothingSecretPrinted(PASSWORDS));

  test('user add reads the password from the first line of stdin and creates the machine identity and database', async () => {
    const r = expectStatus(cli(home, ['user', 'add', 'alice', '--full-name', 'Alice Liddell', '--description', 'test user'], 'Alice-pw-1\nignored second line\n'), 0);
    assert.match(r.stdout, /user .*\\alice created \(S-1-5-21-\d+-\d+-\d+-1000\), member of BUILTIN\\Users/);
    assert.ok(existsSync(path.join(home, 'machine.json')));
    assert.ok(existsSync(path.join(home, 'accounts.db')));
    assert.equal(await verify(home, 'alice', 'Alice-pw-1'), true);
    assert.equal(await verify(home, 'alice', 'ignored second line'), false);
  });

  test('a CRLF line ending is not part of the password; spaces are', async () => {
    expectStatus(cli(home, ['user', 'add', 'carol'], 'crlf-pw-5\r\n'), 0);
    assert.equal(await verify(home, 'carol', 'crlf-pw-5'), true);
    expectStatus(cli(home, ['user', 'add', 'bob'], 'Bob pw with spaces'), 0); // no newline at all: EOF ends the line
    assert.equal(await verify(home, 'bob', 'Bob pw with spaces'), true);
  });

  test('an empty password is refused with a message, and nothing is created', () => {
    for (const input of ['', '\n', '\r\n']) {
      const r = expectStatus(cli(home, ['user', 'add', 'empty'], input), 1);
      assert.match(r.stderr, /empty password is refused/);
    }
    expectStatus(cli(home, ['user', 'show', 'empty']), 1);
  });

  test('bytes that are not UTF-8 are refused rather than decoded into another password', () => {
    const r = expectStatus(cli(home, ['user', 'add', 'latin'], Buffer.from([0x70, 0xe9, 0x0a])), 1);
    assert.match(r.stderr, /not valid UTF-8/);
  });

  test('there is no way to give a password in argv: an option or an extra argument is a usage error (exit 2)', () => {
    for (const args of [
      ['user', 'add', 'dave', '--password', 'never-used-pw'],
      ['user', 'add', 'dave', 'never-used-pw'],
      ['user', 'passwd', 'alice', 'never-used-pw'],
      ['user', 'add', 'dave', '-p', 'never-used-pw'],
    ]) {
      const r = expectStatus(cli(home, args, 'never-used-pw\n'), 2);
      assert.ok(r.stderr.length > 0);
    }
    expectStatus(cli(home, ['user', 'show', 'dave']), 1);
  });

  test('user add refuses an existing name, and an unknown group before reading any password', () => {
    assert.match(expectStatus(cli(home, ['user', 'add', 'ALICE'], 'x\n'), 1).stderr, /already exists/);
    assert.match(expectStatus(cli(home, ['user', 'add', 'erin', '--group', 'NoSuchGroup'], 'x\n'), 1).stderr, /no such group: NoSuchGroup/);
    expectStatus(cli(home, ['user', 'show', 'erin']), 1);
  });

  test('user add --group replaces the default group; --must-change and --os-account are recorded', () => {
    expectStatus(cli(home, ['user', 'add', 'admin1', '--group', 'Administrators', '--group', 'IIS_IUSRS', '--must-change', '--os-account', 'root'], 'x-admin\n'), 0);
    const shown = json<Shown>(cli(home, ['user', 'show', 'admin1', '--json']));
    assert.deepEqual(shown.groups.map((g) => g.name).sort(), ['BUILTIN\\Administrators', 'BUILTIN\\IIS_IUSRS']);
    assert.equal(shown.mustChangePassword, true);
    assert.equal(shown.osAccount, 'root');
  });

  test('user show: SID, flags, lockout, groups, rights with their origin, never a hash', () => {
    const shown = json<Shown>(cli(home, ['user', 'show', 'alice', '--json']));
    assert.match(shown.sid, /^S-1-5-21-\d+-\d+-\d+-1000$/);
    assert.equal(shown.rid, 1000);
    assert.equal(shown.fullName, 'Alice Liddell');
    assert.equal(shown.description, 'test user');
    assert.equal(shown.disabled, false);
    assert.equal(shown.lockedOut, false);
    assert.equal(shown.osAccount, null);
    assert.ok(shown.passwordChangedAt);
    assert.deepEqual(shown.groups.map((g) => g.sid), ['S-1-5-32-545']);
    const network = shown.rights.find((r) => r.right === 'SeNetworkLogonRight');
    assert.ok(network?.via.some((v) => v.sid === 'S-1-1-0'), 'SeNetworkLogonRight through Everyone');
    assert.ok(shown.rights.find((r) => r.right === 'SeInteractiveLogonRight')?.via.some((v) => v.sid === 'S-1-5-32-545'));
    assert.deepEqual(Object.keys(shown).filter((k) => /hash|verifier|salt|^password$/i.test(k)), []);

    const text = expectStatus(cli(home, ['user', 'show', 'alice']), 0).stdout;
    assert.match(text, /SID\s+S-1-5-21-/);
    assert.match(text, /Account active\s+Yes/);
    assert.match(text, /Local group memberships\s+BUILTIN\\Users/);
    assert.match(text, /SeNetworkLogonRight \(via .*Everyone/);
  });

  test('user list, as text and JSON', () => {
    const list = json<{ name: string; sid: string; disabled: boolean }[]>(cli(home, ['user', 'list', '--json']));
    assert.deepEqual(list.map((u) => u.name).sort(), ['admin1', 'alice', 'bob', 'carol']);
    const text = expectStatus(cli(home, ['user', 'list']), 0).stdout;
    assert.match(text, /^User accounts for \\\\/);
    assert.match(text, /alice\s+Alice Liddell\s+active/);
    assert.match(text, /admin1\s+active, must change password/);
  });

  test('user passwd replaces the password: the old one stops verifying', async () => {
    const r = expectStatus(cli(home, ['user', 'passwd', 'alice'], 'Alice-pw-2\n'), 0);
    assert.match(r.stdout, /password of .*alice changed/);
    assert.equal(await verify(home, 'alice', 'Alice-pw-2'), true);
    assert.equal(await verify(home, 'alice', 'Alice-pw-1'), false);
    assert.match(expectStatus(cli(home, ['user', 'passwd', 'alice'], '\n'), 1).stderr, /empty password/);
    assert.equal(await verify(home, 'alice', 'Alice-pw-2'), true);
  });

  test('user passwd clears "must change" unless --must-change is given again', () => {
    expectStatus(cli(home, ['user', 'passwd', 'admin1'], 'x-admin-2\n'), 0);
    assert.equal(json<Shown>(cli(home, ['user', 'show', 'admin1', '--json'])).mustChangePassword, false);
    expectStatus(cli(home, ['user', 'passwd', 'admin1', '--must-change'], 'x-admin-3\n'), 0);
    assert.equal(json<Shown>(cli(home, ['user', 'show', 'admin1', '--json'])).mustChangePassword, true);
  });

  test('user disable and enable', () => {
    assert.match(expectStatus(cli(home, ['user', 'disable', 'bob']), 0).stdout, /disabled/);
    assert.equal(json<Shown>(cli(home, ['user', 'show', 'bob', '--json'])).disabled, true);
    assert.match(expectStatus(cli(home, ['user', 'list']), 0).stdout, /bob\s+disabled/);
    assert.match(expectStatus(cli(home, ['user', 'disable', 'bob']), 0).stdout, /already disabled/);
    expectStatus(cli(home, ['user', 'enable', 'bob']), 0);
    assert.equal(json<Shown>(cli(home, ['user', 'show', 'bob', '--json'])).disabled, false);
  });

  test('user unlock ends a lockout made by real failed logons counted in the store', () => {
    expectStatus(cli(home, ['lockout', 'policy', '--threshold', '2', '--window', '600', '--duration', '0']), 0);
    const store = openHomeStore(home);
    try {
      const carol = store.findUser('carol')!;
      store.recordFailure(carol.sid, Date.now());
      store.recordFailure(carol.sid, Date.now());
    } finally {
      store.close();
    }
    const locked = json<Shown>(cli(home, ['user', 'show', 'carol', '--json']));
    assert.equal(locked.lockedOut, true);
    assert.equal(locked.lockedUntil, null, 'duration 0: locked until unlocked');
    assert.match(expectStatus(cli(home, ['user', 'show', 'carol']), 0).stdout, /Account locked out\s+Yes, until an administrator unlocks it/);
    assert.match(expectStatus(cli(home, ['user', 'list']), 0).stdout, /carol\s+active, locked out/);
    assert.match(expectStatus(cli(home, ['user', 'unlock', 'carol']), 0).stdout, /unlocked/);
    const unlocked = json<Shown>(cli(home, ['user', 'show', 'carol', '--json']));
    assert.equal(unlocked.lockedOut, false);
    assert.equal(unlocked.failedAttempts, 0);
    expectStatus(cli(home, ['lockout', 'policy', '--threshold', '0']), 0);
  });

  test('user set --os-account / --no-os-account', () => {
    expectStatus(cli(home, ['user', 'set', 'bob', '--os-account', 'nobody']), 0);
    assert.equal(json<Shown>(cli(home, ['user', 'show', 'bob', '--json'])).osAccount, 'nobody');
    expectStatus(cli(home, ['user', 'set', 'bob', '--no-os-account']), 0);
    assert.equal(json<Shown>(cli(home, ['user', 'show', 'bob', '--json'])).osAccount, null);
    assert.match(expectStatus(cli(home, ['user', 'set', 'bob']), 1).stderr, /nothing to set/);
    assert.match(expectStatus(cli(home, ['user', 'set', 'bob', '--os-account', 'bad name;rm']), 1).stderr, /not an OS user name/);
    const r = expectStatus(cli(home, ['user', 'set', 'bob', '--os-account', 'no-such-os-user-xyz']), 0);
    assert.match(r.stderr, /warning: there is no OS account no-such-os-user-xyz/);
  });

  test('user remove, and its SID is not given to the next account', () => {
    const bob = json<Shown>(cli(home, ['user', 'show', 'bob', '--json']));
    assert.match(expectStatus(cli(home, ['user', 'remove', 'bob']), 0).stdout, /removed/);
    assert.match(expectStatus(cli(home, ['user', 'show', 'bob']), 1).stderr, /no such user: bob/);
    expectStatus(cli(home, ['user', 'add', 'bob'], 'x-new-bob\n'), 0);
    assert.notEqual(json<Shown>(cli(home, ['user', 'show', 'bob', '--json'])).sid, bob.sid);
  });

  test('every command on an unknown user: exit 1, "no such user"', () => {
    for (const sub of ['passwd', 'enable', 'disable', 'unlock', 'remove', 'show']) {
      const r = expectStatus(cli(home, ['user', sub, 'nobody-here'], 'x\n'), 1);
      assert.match(r.stderr, /no such user: nobody-here/, sub);
    }
    assert.match(expectStatus(cli(home, ['user', 'set', 'nobody-here', '--no-os-account']), 1).stderr, /no such user/);
  });

  test('usage errors exit 2: no subcommand, unknown subcommand, missing name', () => {
    expectStatus(cli(home, ['user']), 2);
    expectStatus(cli(home, ['user', 'frobnicate']), 2);
    expectStatus(cli(home, ['user', 'add']), 2);
    expectStatus(cli(home, ['user', 'show', 'alice', '--yaml']), 2);
  });

  test('on a terminal the password is typed without echo, twice', async () => {
    const r = ptyRun(home, ['user', 'add', 'tty1'], [
      { after: 'Type a password', send: 'tty-Secret-7X\u007f7\r' }, // a typo corrected with Backspace
      { after: 'Retype the password', send: 'tty-Secret-77\r' },
    ]);
    assert.ok(r.ok, r.output);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /user .*\\tty1 created/);
    assert.ok(!r.output.includes('tty-Secret'), 'nothing typed is echoed');
    assert.equal(await verify(home, 'tty1', 'tty-Secret-77'), true);
  });

  test('on a terminal, two different passwords are refused and nothing is created', () => {
    const r = ptyRun(home, ['user', 'add', 'tty2'], [
      { after: 'Type a password', send: 'tty-Secret-77\r' },
      { after: 'Retype the password', send: 'tty-Other-88\r' },
    ]);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /do not match/);
    expectStatus(cli(home, ['user', 'show', 'tty2']), 1);
  });

  test('on a terminal, Ctrl-C at the prompt cancels', async () => {
    const r = ptyRun(home, ['user', 'passwd', 'tty1'], [{ after: 'Type a password', send: 'tty-Other\u0003' }]);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /cancelled/);
    assert.equal(await verify(home, 'tty1', 'tty-Secret-77'), true);
  });
});
