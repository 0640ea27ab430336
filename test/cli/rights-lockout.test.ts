/** `persona rights …` and `persona lockout policy` through the real CLI. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertNothingSecretPrinted, cli, expectStatus, json, tempHome } from './run.js';

type RightsJson = { right: string; principals: { sid: string; name: string }[] }[];
const holders = (table: RightsJson, right: string): string[] => table.find((t) => t.right === right)?.principals.map((p) => p.sid).sort() ?? [];

describe('persona rights', () => {
  let home: string;
  let daveSid: string;
  before(async () => {
    home = await tempHome('rights');
    expectStatus(cli(home, ['user', 'add', 'dave'], 'pw-dave\n'), 0);
    daveSid = json<{ sid: string }>(cli(home, ['user', 'show', 'dave', '--json'])).sid;
  });
  after(() => assertNothingSecretPrinted(['pw-dave']));

  test('rights list: every right, with Windows defaults', () => {
    const table = json<RightsJson>(cli(home, ['rights', 'list', '--json']));
    assert.deepEqual(
      table.map((t) => t.right),
      ['SeInteractiveLogonRight', 'SeNetworkLogonRight', 'SeBatchLogonRight', 'SeServiceLogonRight', 'SeTcbPrivilege', 'SeImpersonatePrivilege', 'SeAssignPrimaryTokenPrivilege'],
    );
    assert.ok(holders(table, 'SeNetworkLogonRight').includes('S-1-1-0'));
    assert.deepEqual(holders(table, 'SeTcbPrivilege'), []);
    const text = expectStatus(cli(home, ['rights', 'list']), 0).stdout;
    assert.match(text, /SeTcbPrivilege\s+\(nobody\)/);
    assert.match(text, /SeNetworkLogonRight\s+.*Everyone/);
  });

  test('grant to a user by name, to a well-known name, to a SID (bare and *SID); case-insensitive right names', () => {
    assert.match(expectStatus(cli(home, ['rights', 'grant', 'dave', 'SeBatchLogonRight']), 0).stdout, /SeBatchLogonRight granted to .*\\dave/);
    expectStatus(cli(home, ['rights', 'grant', 'Authenticated Users', 'sebatchlogonright']), 0);
    expectStatus(cli(home, ['rights', 'grant', 'S-1-5-32-546', 'SeServiceLogonRight']), 0);
    expectStatus(cli(home, ['rights', 'grant', '*S-1-5-17', 'SeServiceLogonRight']), 0);
    const table = json<RightsJson>(cli(home, ['rights', 'list', '--json']));
    assert.ok(holders(table, 'SeBatchLogonRight').includes(daveSid));
    assert.ok(holders(table, 'SeBatchLogonRight').includes('S-1-5-11'));
    assert.deepEqual(holders(table, 'SeServiceLogonRight'), ['S-1-5-17', 'S-1-5-32-546']);
    const shown = json<{ rights: { right: string; via: { sid: string }[] }[] }>(cli(home, ['user', 'show', 'dave', '--json']));
    assert.deepEqual(shown.rights.find((r) => r.right === 'SeBatchLogonRight')?.via.map((v) => v.sid).sort(), [daveSid, 'S-1-5-11'].sort());
  });

  test('granting a right already held changes nothing and succeeds', () => {
    assert.match(expectStatus(cli(home, ['rights', 'grant', 'dave', 'SeBatchLogonRight']), 0).stdout, /already holds/);
  });

  test('revoke removes it; revoking what a principal does not hold itself fails and says who holds it', () => {
    expectStatus(cli(home, ['rights', 'revoke', 'dave', 'SeBatchLogonRight']), 0);
    assert.ok(!holders(json<RightsJson>(cli(home, ['rights', 'list', '--json'])), 'SeBatchLogonRight').includes(daveSid));
    const r = expectStatus(cli(home, ['rights', 'revoke', 'dave', 'SeNetworkLogonRight']), 1);
    assert.match(r.stderr, /does not hold SeNetworkLogonRight itself; nothing changed; it is held by .*Everyone/);
    expectStatus(cli(home, ['rights', 'revoke', 'Everyone', 'SeNetworkLogonRight']), 0);
    assert.ok(!holders(json<RightsJson>(cli(home, ['rights', 'list', '--json'])), 'SeNetworkLogonRight').includes('S-1-1-0'));
  });

  test('unknown principal or right: exit 1 with the reason', () => {
    assert.match(expectStatus(cli(home, ['rights', 'grant', 'nobody-here', 'SeBatchLogonRight']), 1).stderr, /no such principal: nobody-here/);
    assert.match(expectStatus(cli(home, ['rights', 'grant', 'dave', 'SeDebugPrivilege']), 1).stderr, /no such user right: SeDebugPrivilege \(one of SeInteractiveLogonRight/);
    assert.match(expectStatus(cli(home, ['rights', 'revoke', 'nobody-here', 'SeBatchLogonRight']), 1).stderr, /no such principal/);
  });

  test('usage errors exit 2', () => {
    expectStatus(cli(home, ['rights', 'grant', 'dave']), 2);
    expectStatus(cli(home, ['rights']), 2);
  });
});

describe('persona lockout policy', () => {
  let home: string;
  before(async () => {
    home = await tempHome('lockout');
  });

  test('with no option it prints the policy: Windows defaults (never lock)', () => {
    assert.deepEqual(json(cli(home, ['lockout', 'policy', '--json'])), { threshold: 0, observationWindowSeconds: 1800, durationSeconds: 1800 });
    assert.match(expectStatus(cli(home, ['lockout', 'policy']), 0).stdout, /Lockout threshold\s+0 \(never lock out\)/);
  });

  test('options change those values and keep the others', () => {
    assert.match(expectStatus(cli(home, ['lockout', 'policy', '--threshold', '5']), 0).stdout, /lockout policy changed\nLockout threshold\s+5 failed logon/);
    assert.deepEqual(json(cli(home, ['lockout', 'policy', '--json'])), { threshold: 5, observationWindowSeconds: 1800, durationSeconds: 1800 });
    expectStatus(cli(home, ['lockout', 'policy', '--window', '60', '--duration', '0']), 0);
    assert.deepEqual(json(cli(home, ['lockout', 'policy', '--json'])), { threshold: 5, observationWindowSeconds: 60, durationSeconds: 0 });
    assert.match(expectStatus(cli(home, ['lockout', 'policy']), 0).stdout, /Lockout duration\s+0 \(until an administrator/);
  });

  test("Windows' rules: a duration shorter than the window, a zero window or a threshold over 999 is refused (exit 1), unchanged", () => {
    assert.match(expectStatus(cli(home, ['lockout', 'policy', '--duration', '30']), 1).stderr, /duration/);
    expectStatus(cli(home, ['lockout', 'policy', '--window', '0']), 1);
    expectStatus(cli(home, ['lockout', 'policy', '--threshold', '1000']), 1);
    assert.deepEqual(json(cli(home, ['lockout', 'policy', '--json'])), { threshold: 5, observationWindowSeconds: 60, durationSeconds: 0 });
  });

  test('values that are not whole numbers are usage errors (exit 2)', () => {
    for (const bad of ['-1', 'five', '1.5', '', '1e3']) expectStatus(cli(home, ['lockout', 'policy', '--threshold', bad]), 2);
    expectStatus(cli(home, ['lockout']), 2);
  });
});
