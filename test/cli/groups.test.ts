/** `persona group …` through the real CLI: groups, members, built-ins, and all-or-nothing member changes. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertNothingSecretPrinted, cli, expectStatus, json, tempHome } from './run.js';

interface GroupJson {
  name: string;
  qualifiedName: string;
  sid: string;
  description: string;
  builtin: boolean;
  members: number;
}

interface MembersJson {
  name: string;
  sid: string;
  members: { name: string; qualifiedName: string; sid: string }[];
}

describe('persona group', () => {
  let home: string;
  before(async () => {
    home = await tempHome('groups');
    for (const name of ['ann', 'ben', 'cat']) expectStatus(cli(home, ['user', 'add', name], `pw-${name}\n`), 0);
  });
  after(() => assertNothingSecretPrinted(['pw-ann', 'pw-ben', 'pw-cat']));

  test('group list shows the built-in groups with their fixed SIDs', () => {
    const groups = json<GroupJson[]>(cli(home, ['group', 'list', '--json']));
    const bySid = new Map(groups.map((g) => [g.sid, g]));
    for (const [sid, name] of [
      ['S-1-5-32-544', 'BUILTIN\\Administrators'],
      ['S-1-5-32-545', 'BUILTIN\\Users'],
      ['S-1-5-32-546', 'BUILTIN\\Guests'],
      ['S-1-5-32-568', 'BUILTIN\\IIS_IUSRS'],
    ] as const) {
      assert.equal(bySid.get(sid)?.qualifiedName, name);
      assert.equal(bySid.get(sid)?.builtin, true);
    }
    assert.equal(bySid.get('S-1-5-32-545')?.members, 3);
    assert.match(expectStatus(cli(home, ['group', 'list']), 0).stdout, /BUILTIN\\Users\s+3/);
  });

  test('group add creates a local group with a machine SID; a taken name is refused', () => {
    const r = expectStatus(cli(home, ['group', 'add', 'Editors', '--description', 'may edit']), 0);
    assert.match(r.stdout, /group .*\\Editors created \(S-1-5-21-\d+-\d+-\d+-\d+\)/);
    const editors = json<GroupJson[]>(cli(home, ['group', 'list', '--json'])).find((g) => g.name === 'Editors');
    assert.equal(editors?.description, 'may edit');
    assert.equal(editors?.builtin, false);
    assert.match(expectStatus(cli(home, ['group', 'add', 'editors']), 1).stderr, /already exists/);
    // Users and groups share one namespace, as on Windows.
    expectStatus(cli(home, ['group', 'add', 'ann']), 1);
  });

  test('members add / list / remove', () => {
    assert.match(expectStatus(cli(home, ['group', 'members', 'add', 'Editors', 'ann', 'ben']), 0).stdout, /ann, .*ben added to .*Editors/);
    const listed = json<MembersJson>(cli(home, ['group', 'members', 'list', 'Editors', '--json']));
    assert.deepEqual(listed.members.map((m) => m.name).sort(), ['ann', 'ben']);
    assert.match(expectStatus(cli(home, ['group', 'members', 'list', 'Editors']), 0).stdout, /\\ann\s+S-1-5-21-/);
    const ann = json<{ groups: { name: string }[] }>(cli(home, ['user', 'show', 'ann', '--json']));
    assert.ok(ann.groups.some((g) => g.name.endsWith('\\Editors')));
    expectStatus(cli(home, ['group', 'members', 'remove', 'Editors', 'ben']), 0);
    assert.deepEqual(json<MembersJson>(cli(home, ['group', 'members', 'list', 'Editors', '--json'])).members.map((m) => m.name), ['ann']);
  });

  test('member changes are checked first: one bad name changes nothing', () => {
    assert.match(expectStatus(cli(home, ['group', 'members', 'add', 'Editors', 'cat', 'nobody-here']), 1).stderr, /no such user: nobody-here/);
    assert.match(expectStatus(cli(home, ['group', 'members', 'add', 'Editors', 'cat', 'ann']), 1).stderr, /already a member/);
    assert.match(expectStatus(cli(home, ['group', 'members', 'remove', 'Editors', 'ann', 'cat']), 1).stderr, /cat is not a member/);
    assert.match(expectStatus(cli(home, ['group', 'members', 'add', 'Editors', 'Users']), 1).stderr, /is a group/);
    assert.deepEqual(json<MembersJson>(cli(home, ['group', 'members', 'list', 'Editors', '--json'])).members.map((m) => m.name), ['ann']);
  });

  test('unknown groups: exit 1, "no such group"', () => {
    for (const args of [
      ['group', 'remove', 'Nope'],
      ['group', 'members', 'list', 'Nope'],
      ['group', 'members', 'add', 'Nope', 'ann'],
      ['group', 'members', 'remove', 'Nope', 'ann'],
    ]) {
      assert.match(expectStatus(cli(home, args), 1).stderr, /no such group: Nope/, args.join(' '));
    }
  });

  test('built-in groups cannot be removed; local ones can', () => {
    for (const builtin of ['Administrators', 'users', 'Guests', 'IIS_IUSRS']) {
      assert.match(expectStatus(cli(home, ['group', 'remove', builtin]), 1).stderr, /built-in group and cannot be removed/);
    }
    assert.match(expectStatus(cli(home, ['group', 'remove', 'Editors']), 0).stdout, /removed/);
    assert.ok(!json<GroupJson[]>(cli(home, ['group', 'list', '--json'])).some((g) => g.name === 'Editors'));
    assert.deepEqual(json<{ groups: { sid: string }[] }>(cli(home, ['user', 'show', 'ann', '--json'])).groups.map((g) => g.sid), ['S-1-5-32-545']);
  });

  test('usage errors exit 2', () => {
    expectStatus(cli(home, ['group']), 2);
    expectStatus(cli(home, ['group', 'members', 'add', 'Users']), 2);
    expectStatus(cli(home, ['group', 'members']), 2);
  });
});
