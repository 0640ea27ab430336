/**
 * The user's first contact: `persona serve` on an empty state folder creates configuration, machine identity,
 * logs and the demo site, serves it, and a second start reuses all of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, get, persona, startPersona, tempDir } from '../helpers/persona.js';

test('first start creates the state folder and serves the demo site; a second start reuses it', async () => {
  const home = path.join(await tempDir('first'), 'state');
  const port = await freePort();
  const password = 'demo-pass-Ünïcode-1';
  const env = { PERSONA_DEMO_PORT: String(port), PERSONA_DEMO_PASSWORD: password };

  const first = await startPersona(undefined, { home, env });
  try {
    assert.match(first.output, /First run — created:/);
    for (const f of ['persona.yaml', 'machine.json', 'logs', 'demo/wwwroot/index.html', 'run/persona.pid']) {
      assert.ok(existsSync(path.join(home, f)), `${f} exists`);
    }
    assert.match(first.output, new RegExp(`site "Demo"  http://127\\.0\\.0\\.1:${port}/`));
    const index = await get(`http://127.0.0.1:${port}/`);
    assert.equal(index.status, 200);
    assert.match(index.text, /Persona is running/);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');

    // The demo's locations: a listing where browse is set, 403.2 where no flag is, a custom 404 page for remote clients.
    const listing = await get(`http://127.0.0.1:${port}/files/`);
    assert.equal(listing.status, 200);
    assert.match(listing.text, /readme\.txt/);
    const privateNote = await get(`http://127.0.0.1:${port}/files/private/note.txt`);
    assert.equal(privateNote.status, 403);
    assert.match(privateNote.text, /403\.2/);

    // The secure folder: its ACL lets Users read, not IUSR, so an anonymous request is asked to log on (401.2).
    assert.match(first.output, new RegExp(`demo login: alice / ${password}`));
    const anonymous = await get(`http://127.0.0.1:${port}/secure/`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.text, /401\.2/);
    // NTLM first (IIS's order), then Digest (SHA-256, then MD5, realm = the machine name, one fresh nonce), then Basic;
    // node joins the header lines with ", ".
    assert.match(
      String(anonymous.headers['www-authenticate']),
      /^NTLM, Digest realm="[^"]+", qop="auth", algorithm=SHA-256, nonce="([\w-]+)", opaque="[\w-]+", charset=UTF-8, Digest realm="[^"]+", qop="auth", algorithm=MD5, nonce="\1", opaque="[\w-]+", charset=UTF-8, Basic realm="Persona demo", charset="UTF-8"$/,
    );
    const basic = (user: string, pw: string) => ({ headers: { authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` } });
    const loggedOn = await get(`http://127.0.0.1:${port}/secure/`, basic('alice', password));
    assert.equal(loggedOn.status, 200);
    assert.match(loggedOn.text, /Secure area/);
    const wrong = await get(`http://127.0.0.1:${port}/secure/`, basic('alice', 'nope'));
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /401\.1/);
  } finally {
    assert.equal(await first.stop(), 0);
  }
  assert.ok(!existsSync(path.join(home, 'run/persona.pid')), 'pid file removed on a clean stop');
  const machine = JSON.parse(await readFile(path.join(home, 'machine.json'), 'utf8')) as { machineSid: string; machineName: string };
  assert.match(machine.machineSid, /^S-1-5-21-\d+-\d+-\d+$/);

  const second = await startPersona(undefined, { home, env });
  try {
    assert.doesNotMatch(second.output, /First run/);
    assert.match(second.output, new RegExp(machine.machineSid));
    assert.equal((await get(`http://127.0.0.1:${port}/style.css`)).status, 200);
  } finally {
    await second.stop();
  }
  const again = JSON.parse(await readFile(path.join(home, 'machine.json'), 'utf8')) as { machineSid: string };
  assert.equal(again.machineSid, machine.machineSid, 'the machine SID never changes');

  // The embedded default configuration passes its own check.
  const check = persona(['--home', home, 'config', 'test']);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /is valid \(1 site/);
});

test('persona version and help answer and exit 0; an unknown command is a usage error (2)', () => {
  const version = persona(['version']);
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^persona \d+\.\d+\.\d+/);
  const help = persona(['help']);
  assert.equal(help.status, 0);
  for (const cmd of ['serve', 'config', 'reload', 'version']) assert.match(help.stdout, new RegExp(cmd));
  const bad = persona(['frobnicate']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command/);
});
