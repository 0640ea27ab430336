/**
 * `persona config test` and `persona config show --url`: exit codes, positions, and the origin of every value.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { persona, tempDir } from '../helpers/persona.js';

describe('config commands', () => {
  let home: string;
  let root: string;

  before(async () => {
    home = await tempDir('cfg');
    root = path.join(home, 'www');
    await mkdir(path.join(root, 'app', 'static'), { recursive: true });
    await mkdir(path.join(home, 'shared'), { recursive: true });
    await writeFile(
      path.join(home, 'persona.yaml'),
      `server:
  applicationPools: [{ name: AppPool1 }]
defaults:
  accessFlags: [read]
  requestFiltering:
    maxUrl: 2000
sites:
  - name: Main
    bindings:
      - { protocol: http, ip: 127.0.0.1, port: 18080 }
    physicalPath: www
    settings:
      requestFiltering: { maxQueryString: 100 }
    applications:
      - path: /app
        applicationPool: AppPool1
        settings:
          accessFlags: [read, script]
        virtualDirectories:
          - path: /shared
            physicalPath: shared
    locations:
      - path: /app/static
        settings:
          accessFlags: [read, browse]
          requestFiltering: { maxUrl: 300 }
`,
    );
  });

  test('config test: exit 0 on a valid file', () => {
    const r = persona(['--home', home, 'config', 'test']);
    assert.equal(r.status, 0, r.stderr);
  });

  test('config show: nearest level wins, each value names its level and line', () => {
    const r = persona(['--home', home, 'config', 'show', '--url', 'http://127.0.0.1:18080/app/static/x.css', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      application: { path: string; applicationPool: string };
      chain: string[];
      physicalPath: string;
      values: { property: string; value: unknown; level: string; position?: string }[];
    };
    assert.deepEqual(report.chain, ['server defaults', 'site "Main"', 'application /app', 'location /app/static']);
    assert.deepEqual(report.application, { path: '/app', applicationPool: 'AppPool1' });
    assert.equal(report.physicalPath, path.join(root, 'app', 'static', 'x.css'));
    const value = (p: string) => report.values.find((v) => v.property === p)!;
    assert.deepEqual(value('accessFlags').value, ['read', 'browse']);
    assert.equal(value('accessFlags').level, 'location /app/static');
    assert.match(value('accessFlags').position ?? '', /persona\.yaml:25:\d+$/);
    assert.equal(value('requestFiltering.maxUrl').value, 300);
    assert.equal(value('requestFiltering.maxQueryString').value, 100);
    assert.equal(value('requestFiltering.maxQueryString').level, 'site "Main"');
    assert.equal(value('requestFiltering.allowDoubleEscaping').level, 'built-in default');

    const vdir = persona(['--home', home, 'config', 'show', '--url', 'http://127.0.0.1:18080/app/shared/f.txt', '--json']);
    const v = JSON.parse(vdir.stdout) as { virtualDirectory: { path: string }; physicalPath: string; values: { property: string; value: unknown; level: string }[] };
    assert.equal(v.virtualDirectory.path, '/app/shared');
    assert.equal(v.physicalPath, path.join(home, 'shared', 'f.txt'));
    assert.deepEqual(v.values.find((x) => x.property === 'accessFlags')?.value, ['read', 'script'], 'the vdir inherits from its application');
    assert.equal(v.values.find((x) => x.property === 'requestFiltering.maxUrl')?.level, 'server defaults');

    const human = persona(['--home', home, 'config', 'show', '--url', 'http://127.0.0.1:18080/app/static/']);
    assert.match(human.stdout, /accessFlags +\["read","browse"\] +— location \/app\/static/);
  });

  test('config show on a URL no site answers, and on a bad URL, exits 1 with the reason', () => {
    const none = persona(['--home', home, 'config', 'show', '--url', 'http://127.0.0.1:9/']);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no site is bound/);
    const bad = persona(['--home', home, 'config', 'show', '--url', 'not a url']);
    assert.equal(bad.status, 1);
  });

  test('config test reports every problem as file:line:column and exits 1', async () => {
    const broken = await tempDir('broken');
    await writeFile(
      path.join(broken, 'persona.yaml'),
      `sites:
  - name: One
    bindngs: []
    physicalPath: /nonexistent/folder
    settings:
      accessFlags: [read, fly]
      requestFiltering: { maxUrl: "long" }
`,
    );
    const r = persona(['--home', broken, 'config', 'test']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /persona\.yaml:3:5: .*bindngs/);
    assert.match(r.stderr, /persona\.yaml:6:\d+: .*fly/);
    assert.match(r.stderr, /persona\.yaml:7:\d+: .*integer/);
  });

  test('usage errors exit 2', () => {
    assert.equal(persona(['config', 'show']).status, 2);
  });
});
