/**
 * The NTLM switches of `persona user` through the real CLI on a temporary home: --ntlm on add and passwd enables it,
 * `set --no-ntlm` turns it off, `set --ntlm` is refused (the hash needs the password), show and list say whether it is
 * on, and no NT hash (or password) ever reaches any output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ntHash } from '../../src/auth/ntlm/md4.js';
import { assertNothingSecretPrinted, cli, expectStatus, json, openHomeStore, tempHome, transcript, verify } from './run.js';

const PASSWORDS = ['Ntlm-alice-1', 'Ntlm-alice-2', 'Ntlm-bob-1', 'Ntlm-bob-2', 'Ntlm-carol-1'];

interface Shown {
  name: string;
  ntlmEnabled: boolean;
}

describe('persona user NTLM switches', () => {
  let home: string;
  before(async () => {
    home = await tempHome('ntlm');
  });
  after(() => {
    assertNothingSecretPrinted(PASSWORDS);
    // Neither the NT hash of any password used here (in either case of hex) nor its base64 form was ever printed.
    const all = transcript.join('\n');
    for (const p of PASSWORDS) {
      const h = ntHash(p);
      for (const form of [h.toString('hex'), h.toString('hex').toUpperCase(), h.toString('base64')]) {
        assert.ok(!all.includes(form), `the NT hash of a password was printed (${form.slice(0, 4)}…)`);
      }
    }
  });

  /** The stored NT hash as the server would read it, or undefined. */
  function storedHash(name: string): Buffer | undefined {
    const store = openHomeStore(home);
    try {
      return store.ntHashOf(store.findUser(name)!.sid);
    } finally {
      store.close();
    }
  }

  /** The verifier kinds of an account, read from the table directly. */
  function kinds(name: string): string[] {
    const raw = new Database(path.join(home, 'accounts.db'), { readonly: true });
    try {
      return raw
        .prepare(`SELECT v.kind FROM verifiers v JOIN principals p ON p.sid = v.sid WHERE p.name = ? ORDER BY v.kind`)
        .pluck()
        .all(name) as string[];
    } finally {
      raw.close();
    }
  }

  test('user add --ntlm stores the NT hash with the password and says it is password-equivalent', async () => {
    const r = expectStatus(cli(home, ['user', 'add', 'alice', '--ntlm'], 'Ntlm-alice-1\n'), 0);
    assert.match(r.stdout, /NTLM enabled: .*password-equivalent/);
    assert.deepEqual(storedHash('alice'), ntHash('Ntlm-alice-1'));
    assert.deepEqual(kinds('alice'), ['nt', 'password']);
    assert.equal(await verify(home, 'alice', 'Ntlm-alice-1'), true);
  });

  test('user add without --ntlm stores no NT hash; show says disabled', () => {
    const r = expectStatus(cli(home, ['user', 'add', 'bob'], 'Ntlm-bob-1\n'), 0);
    assert.doesNotMatch(r.stdout, /NTLM/);
    assert.equal(storedHash('bob'), undefined);
    assert.deepEqual(kinds('bob'), ['password']);
    assert.match(expectStatus(cli(home, ['user', 'show', 'bob']), 0).stdout, /^NTLM\s+disabled$/m);
    assert.equal(json<Shown>(cli(home, ['user', 'show', 'bob', '--json'])).ntlmEnabled, false);
  });

  test('user show and list say whether NTLM is enabled, never the hash', () => {
    assert.match(expectStatus(cli(home, ['user', 'show', 'alice']), 0).stdout, /^NTLM\s+enabled \(NT hash stored: password-equivalent\)$/m);
    assert.equal(json<Shown>(cli(home, ['user', 'show', 'alice', '--json'])).ntlmEnabled, true);
    const listed = json<Shown[]>(cli(home, ['user', 'list', '--json']));
    assert.deepEqual(
      listed.map((u) => [u.name, u.ntlmEnabled]),
      [
        ['alice', true],
        ['bob', false],
      ],
    );
    expectStatus(cli(home, ['user', 'list']), 0);
  });

  test('user set --ntlm is refused (the hash needs the password) and changes nothing', () => {
    const r = expectStatus(cli(home, ['user', 'set', 'bob', '--ntlm']), 1);
    assert.match(r.stderr, /enabling NTLM needs the password .*persona user passwd bob --ntlm/);
    assert.deepEqual(kinds('bob'), ['password']);
  });

  test('user passwd --ntlm enables it with the new password; passwd alone keeps an enabled account enabled', async () => {
    const r = expectStatus(cli(home, ['user', 'passwd', 'bob', '--ntlm'], 'Ntlm-bob-2\n'), 0);
    assert.match(r.stdout, /NTLM enabled: .*password-equivalent/);
    assert.deepEqual(storedHash('bob'), ntHash('Ntlm-bob-2'));
    assert.equal(await verify(home, 'bob', 'Ntlm-bob-2'), true);

    const again = expectStatus(cli(home, ['user', 'passwd', 'alice'], 'Ntlm-alice-2\n'), 0);
    assert.match(again.stdout, /NT hash for NTLM was replaced/);
    assert.deepEqual(storedHash('alice'), ntHash('Ntlm-alice-2'));
    assert.equal(await verify(home, 'alice', 'Ntlm-alice-2'), true);
  });

  test('user passwd of an account without NTLM stores no NT hash', () => {
    expectStatus(cli(home, ['user', 'add', 'carol'], 'Ntlm-carol-1\n'), 0);
    const r = expectStatus(cli(home, ['user', 'passwd', 'carol'], 'Ntlm-carol-1\n'), 0);
    assert.doesNotMatch(r.stdout, /NTLM|NT hash/);
    assert.deepEqual(kinds('carol'), ['password']);
  });

  test('user set --no-ntlm deletes the NT hash and bumps the stamp; a second time changes nothing', () => {
    const stampOf = () => {
      const store = openHomeStore(home);
      try {
        return store.currentStamp(store.findUser('alice')!.sid)!.user;
      } finally {
        store.close();
      }
    };
    const before = stampOf();
    const r = expectStatus(cli(home, ['user', 'set', 'alice', '--no-ntlm']), 0);
    assert.match(r.stdout, /NTLM disabled for .*\\alice; its NT hash is deleted/);
    assert.deepEqual(kinds('alice'), ['password']);
    assert.equal(storedHash('alice'), undefined);
    assert.ok(stampOf() > before);
    assert.match(expectStatus(cli(home, ['user', 'show', 'alice']), 0).stdout, /^NTLM\s+disabled$/m);

    const stamp = stampOf();
    assert.match(expectStatus(cli(home, ['user', 'set', 'alice', '--no-ntlm']), 0).stdout, /NTLM was not enabled .*nothing changed/);
    assert.equal(stampOf(), stamp);
  });

  test('user set with a bad --os-account and --no-ntlm changes nothing at all', () => {
    const r = expectStatus(cli(home, ['user', 'set', 'bob', '--no-ntlm', '--os-account', '-rf']), 1);
    assert.match(r.stderr, /not an OS user name/);
    assert.deepEqual(kinds('bob'), ['nt', 'password']);
    // Both at once, valid: both applied.
    expectStatus(cli(home, ['user', 'set', 'bob', '--no-ntlm', '--os-account', 'nobody']), 0);
    assert.deepEqual(kinds('bob'), ['password']);
    assert.equal(json<{ osAccount: string | null }>(cli(home, ['user', 'show', 'bob', '--json'])).osAccount, 'nobody');
  });

  test('user set with nothing to set names the NTLM switch too', () => {
    assert.match(expectStatus(cli(home, ['user', 'set', 'bob']), 1).stderr, /nothing to set: .*--no-ntlm/);
  });
});
