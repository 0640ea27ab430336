/**
 * The Digest switches of `persona user` and the `persona digest realms` commands through the real CLI on a temporary
 * home: --digest on add and passwd enables Digest, `set --no-digest` turns it off, `set --digest` is refused (the
 * verifiers need the password), show says which realms are covered, realms are listed, added and removed, and no
 * verifier (or password) ever reaches any output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { digestNameForms } from '../../src/accounts/store.js';
import { ha1Verifier, type DigestHash } from '../../src/auth/digest/algorithms.js';
import { assertNothingSecretPrinted, cli, expectStatus, json, openHomeStore, tempHome, transcript, verify } from './run.js';

const PASSWORDS = ['Digest-alice-1', 'Digest-alice-2', 'Digest-bob-1', 'Digest-bob-2'];
const HASHES: readonly DigestHash[] = ['MD5', 'SHA-256', 'SHA-512-256'];

interface Shown {
  name: string;
  digestEnabled: boolean;
  digestRealms?: string[];
  digestRealmsPending?: string[];
}

describe('persona user Digest switches and persona digest realms', () => {
  let home: string;
  let machine: string;
  const realmsUsed = new Set<string>();
  before(async () => {
    home = await tempHome('digest');
    // The first command makes the machine identity; its name is the first realm.
    expectStatus(cli(home, ['user', 'list']), 0);
    machine = (JSON.parse(readFileSync(path.join(home, 'machine.json'), 'utf8')) as { machineName: string }).machineName;
    realmsUsed.add(machine).add('Intranet');
  });
  after(() => {
    assertNothingSecretPrinted(PASSWORDS);
    // No verifier of any password used here, for any realm, hash and name form, was ever printed.
    const all = transcript.join('\n').toLowerCase();
    for (const p of PASSWORDS) {
      for (const realm of realmsUsed) {
        for (const hash of HASHES) {
          for (const name of ['alice', 'bob']) {
            for (const form of digestNameForms(name)) assert.ok(!all.includes(ha1Verifier(hash, form, realm, p)), `a Digest verifier was printed (${hash})`);
          }
        }
      }
    }
  });

  /** The verifier the server would read for this name as typed, or undefined. */
  function stored(name: string, realm: string, hash: DigestHash = 'SHA-256'): string | undefined {
    const store = openHomeStore(home);
    try {
      return store.digestVerifierOf(store.findUser(name)!.sid, realm, hash, name);
    } finally {
      store.close();
    }
  }

  /** How many Digest rows an account has, read from the table directly. */
  function rows(name: string): number {
    const raw = new Database(path.join(home, 'accounts.db'), { readonly: true });
    try {
      return raw.prepare(`SELECT count(*) FROM digest_verifiers v JOIN principals p ON p.sid = v.sid WHERE p.name = ?`).pluck().get(name) as number;
    } finally {
      raw.close();
    }
  }

  function stampOf(name: string): number {
    const store = openHomeStore(home);
    try {
      return store.currentStamp(store.findUser(name)!.sid)!.user;
    } finally {
      store.close();
    }
  }

  test('digest realms lists the machine name, the initial realm', () => {
    assert.equal(expectStatus(cli(home, ['digest', 'realms']), 0).stdout, `${machine}\n`);
    assert.equal(expectStatus(cli(home, ['digest', 'realms', 'list']), 0).stdout, `${machine}\n`);
    assert.deepEqual(json<string[]>(cli(home, ['digest', 'realms', '--json'])), [machine]);
  });

  test('user add --digest stores verifiers with the password and says they are password-equivalent', async () => {
    const r = expectStatus(cli(home, ['user', 'add', 'alice', '--digest'], 'Digest-alice-1\n'), 0);
    assert.match(r.stdout, /Digest enabled: .*password-equivalent/);
    assert.ok(r.stdout.includes(`Digest verifiers stored for the realm(s) "${machine}"`), r.stdout);
    for (const hash of HASHES) assert.equal(stored('alice', machine, hash), ha1Verifier(hash, 'alice', machine, 'Digest-alice-1'));
    assert.equal(rows('alice'), 3 * 2); // hashes × forms (alice, ALICE)
    assert.equal(await verify(home, 'alice', 'Digest-alice-1'), true);
  });

  test('user add without --digest stores none; show says disabled', () => {
    const r = expectStatus(cli(home, ['user', 'add', 'bob'], 'Digest-bob-1\n'), 0);
    assert.doesNotMatch(r.stdout, /Digest/);
    assert.equal(rows('bob'), 0);
    assert.match(expectStatus(cli(home, ['user', 'show', 'bob']), 0).stdout, /^Digest\s+disabled$/m);
    const shown = json<Shown>(cli(home, ['user', 'show', 'bob', '--json']));
    assert.deepEqual([shown.digestEnabled, shown.digestRealms, shown.digestRealmsPending], [false, [], []]);
  });

  test('user show and list say whether Digest is enabled and for which realms, never a verifier', () => {
    const line = `enabled for realms "${machine}" (verifiers stored: password-equivalent)`;
    assert.ok(expectStatus(cli(home, ['user', 'show', 'alice']), 0).stdout.includes(`Digest                        ${line}\n`));
    const shown = json<Shown>(cli(home, ['user', 'show', 'alice', '--json']));
    assert.deepEqual([shown.digestEnabled, shown.digestRealms, shown.digestRealmsPending], [true, [machine], []]);
    assert.deepEqual(
      json<Shown[]>(cli(home, ['user', 'list', '--json'])).map((u) => [u.name, u.digestEnabled]),
      [
        ['alice', true],
        ['bob', false],
      ],
    );
  });

  test('digest realms add: the new realm waits for each Digest account\'s next password change, and says who', () => {
    const r = expectStatus(cli(home, ['digest', 'realms', 'add', 'Intranet']), 0);
    assert.match(r.stdout, /Digest realm "Intranet" added/);
    assert.match(r.stdout, /1 account\(s\) with Digest enabled have no verifier for it until their password is next set .*: alice$/m);
    assert.deepEqual(json<string[]>(cli(home, ['digest', 'realms', '--json'])), [machine, 'Intranet']);
    assert.equal(stored('alice', 'Intranet'), undefined);
    assert.match(expectStatus(cli(home, ['user', 'show', 'alice']), 0).stdout, /^Digest\s+enabled .*; no verifier yet for "Intranet" \(set the password again\)$/m);
    assert.deepEqual(json<Shown>(cli(home, ['user', 'show', 'alice', '--json'])).digestRealmsPending, ['Intranet']);
  });

  test('digest realms add refuses a realm that cannot go in a quoted-string, an empty one and a duplicate', () => {
    for (const bad of ['say "hi"', 'back\\slash', 'tab\there', '', 'x'.repeat(257)]) {
      const r = expectStatus(cli(home, ['digest', 'realms', 'add', bad]), 1);
      assert.match(r.stderr, /Digest realm/);
    }
    assert.match(expectStatus(cli(home, ['digest', 'realms', 'add', 'Intranet']), 1).stderr, /already there/);
    assert.deepEqual(json<string[]>(cli(home, ['digest', 'realms', '--json'])), [machine, 'Intranet']);
  });

  test('user set --digest is refused (the verifiers need the password) and changes nothing', () => {
    const r = expectStatus(cli(home, ['user', 'set', 'bob', '--digest']), 1);
    assert.match(r.stderr, /enabling Digest needs the password .*persona user passwd bob --digest/);
    assert.equal(rows('bob'), 0);
  });

  test('user passwd --digest enables it for every realm; passwd alone rewrites an enabled account\'s verifiers', async () => {
    const r = expectStatus(cli(home, ['user', 'passwd', 'bob', '--digest'], 'Digest-bob-2\n'), 0);
    assert.match(r.stdout, /Digest enabled: .*password-equivalent/);
    assert.equal(stored('bob', 'Intranet'), ha1Verifier('SHA-256', 'bob', 'Intranet', 'Digest-bob-2'));
    assert.equal(stored('bob', machine), ha1Verifier('SHA-256', 'bob', machine, 'Digest-bob-2'));
    assert.equal(await verify(home, 'bob', 'Digest-bob-2'), true);

    const again = expectStatus(cli(home, ['user', 'passwd', 'alice'], 'Digest-alice-2\n'), 0);
    assert.match(again.stdout, /Digest verifiers were replaced with the new password/);
    assert.equal(stored('alice', 'Intranet'), ha1Verifier('SHA-256', 'alice', 'Intranet', 'Digest-alice-2'));
    assert.equal(stored('alice', machine), ha1Verifier('SHA-256', 'alice', machine, 'Digest-alice-2'));
    assert.equal(rows('alice'), 2 * 3 * 2);
    assert.deepEqual(json<Shown>(cli(home, ['user', 'show', 'alice', '--json'])).digestRealms, [machine, 'Intranet']);
  });

  test('user set --no-digest deletes the verifiers and bumps the stamp; a second time changes nothing', () => {
    const before = stampOf('alice');
    const r = expectStatus(cli(home, ['user', 'set', 'alice', '--no-digest']), 0);
    assert.match(r.stdout, /Digest disabled for .*\\alice; its Digest verifiers are deleted/);
    assert.equal(rows('alice'), 0);
    assert.equal(stored('alice', machine), undefined);
    assert.ok(stampOf('alice') > before);
    assert.match(expectStatus(cli(home, ['user', 'show', 'alice']), 0).stdout, /^Digest\s+disabled$/m);
    const stamp = stampOf('alice');
    assert.match(expectStatus(cli(home, ['user', 'set', 'alice', '--no-digest']), 0).stdout, /Digest was not enabled .*nothing changed/);
    assert.equal(stampOf('alice'), stamp);
  });

  test('user set with nothing to set names the Digest switch too', () => {
    assert.match(expectStatus(cli(home, ['user', 'set', 'bob']), 1).stderr, /nothing to set: .*--no-digest/);
  });

  test('digest realms remove deletes that realm\'s verifiers at once; removing the last one warns', () => {
    const r = expectStatus(cli(home, ['digest', 'realms', 'remove', 'Intranet']), 0);
    assert.match(r.stdout, /Digest realm "Intranet" removed; the verifiers of 1 account\(s\) for it are deleted/);
    assert.equal(stored('bob', 'Intranet'), undefined);
    assert.equal(stored('bob', machine), ha1Verifier('SHA-256', 'bob', machine, 'Digest-bob-2'));
    assert.match(expectStatus(cli(home, ['digest', 'realms', 'remove', 'Intranet']), 1).stderr, /no Digest realm "Intranet"/);

    const last = expectStatus(cli(home, ['digest', 'realms', 'remove', machine]), 0);
    assert.match(last.stderr, /no Digest realm remains/);
    assert.match(expectStatus(cli(home, ['digest', 'realms']), 0).stdout, /no Digest realm/);
    assert.deepEqual(json<string[]>(cli(home, ['digest', 'realms', '--json'])), []);
    assert.equal(rows('bob'), 0);
    // Still enabled: a realm added later gets verifiers at the next password change.
    assert.equal(json<Shown>(cli(home, ['user', 'show', 'bob', '--json'])).digestEnabled, true);
    assert.match(expectStatus(cli(home, ['user', 'show', 'bob']), 0).stdout, /^Digest\s+enabled, but there is no Digest realm \(persona digest realms add REALM\)$/m);
    // Re-adding one: bob waits for a password change for it.
    assert.match(expectStatus(cli(home, ['digest', 'realms', 'add', machine]), 0).stdout, /1 account\(s\) .*: bob$/m);
    assert.match(expectStatus(cli(home, ['user', 'show', 'bob']), 0).stdout, /^Digest\s+enabled; no verifier yet for ".*" \(set the password again\)$/m);
  });

  test('digest realms with an unknown action is a usage error', () => {
    expectStatus(cli(home, ['digest', 'realms', 'rename', 'x']), 2);
  });
});
