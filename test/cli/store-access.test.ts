/** Which database and machine identity the account commands use: the configuration's, else the home's defaults. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { assertNothingSecretPrinted, cli, expectStatus, json, tempHome } from './run.js';

const config = (extra: string) => `server:
  security:
    accountsDatabase: ${extra}
sites:
  - name: Test
    bindings:
      - { protocol: http, ip: 127.0.0.1, port: 18099 }
    physicalPath: www
`;

describe('account store location', () => {
  after(() => assertNothingSecretPrinted(['pw-first', 'pw-config', 'pw-fallback']));

  test('a fresh home: machine.json is made as serve makes it, the database is <home>/accounts.db', async () => {
    const home = path.join(await tempHome('fresh'), 'not-yet');
    expectStatus(cli(home, ['user', 'add', 'first'], 'pw-first\n'), 0);
    const machine = JSON.parse(readFileSync(path.join(home, 'machine.json'), 'utf8')) as { machineName: string; machineSid: string };
    assert.match(machine.machineSid, /^S-1-5-21-\d+-\d+-\d+$/);
    assert.ok(existsSync(path.join(home, 'accounts.db')));
    const shown = json<{ sid: string; qualifiedName: string }>(cli(home, ['user', 'show', 'first', '--json']));
    assert.equal(shown.sid, `${machine.machineSid}-1000`);
    assert.equal(shown.qualifiedName, `${machine.machineName}\\first`);
  });

  test('server.security.accountsDatabase in the configuration is used (relative to the configuration file)', async () => {
    const home = await tempHome('configured');
    await mkdir(path.join(home, 'www'));
    await mkdir(path.join(home, 'data'));
    await writeFile(path.join(home, 'persona.yaml'), config('data/users.db'));
    expectStatus(cli(home, ['user', 'add', 'viaconfig'], 'pw-config\n'), 0);
    assert.ok(existsSync(path.join(home, 'data', 'users.db')));
    assert.ok(!existsSync(path.join(home, 'accounts.db')));
    expectStatus(cli(home, ['user', 'show', 'viaconfig']), 0);
  });

  test('a configuration that does not load: a warning, and <home>/accounts.db', async () => {
    const home = await tempHome('broken');
    await writeFile(path.join(home, 'persona.yaml'), 'sites: [ {');
    const r = expectStatus(cli(home, ['user', 'add', 'fallback'], 'pw-fallback\n'), 0);
    assert.match(r.stderr, /warning: .*persona\.yaml does not load \(run persona config test\); using .*accounts\.db/);
    assert.ok(existsSync(path.join(home, 'accounts.db')));
  });

  test('a database that cannot be opened: exit 1 with the reason', async () => {
    const home = await tempHome('unopenable');
    await mkdir(path.join(home, 'accounts.db')); // a folder where the file should be
    const r = expectStatus(cli(home, ['user', 'list']), 1);
    assert.match(r.stderr, /cannot open the account store/);
  });
});
