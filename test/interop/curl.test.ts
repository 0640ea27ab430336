/**
 * curl (Debian's) logs into the demo's secure folder with Basic (RFC 7617): preemptive `-u`, explicit `--basic`,
 * `--anyauth` (which reads our challenge before choosing a scheme), a wrong password, no credentials, and a
 * password outside ASCII (the challenge's charset="UTF-8" promises the server decodes UTF-8).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { curl, headerValues, requireCurl } from './clients.js';
import { DEMO_USER, REALM_CHALLENGE, demoSite, waitForW3c } from './demo.js';

const PASSWORD = 'interop-Curl-7!';
// Latin-1 letters, CJK, a symbol, a space and a colon: only the first colon separates user-id and password.
const UTF8_PASSWORD = 'Grüße: 密码 ✓';

describe('curl: Basic authentication on the demo site', () => {
  const site = demoSite(PASSWORD, requireCurl, { basicOnly: true });

  test('the first run prints how to log in as alice', () => {
    const line = site().server.output.split('\n').find((l) => l.includes(DEMO_USER) && l.includes(PASSWORD));
    assert.ok(line, `a start-up line names ${DEMO_USER} and the password:\n${site().server.output}`);
  });

  test('the public home page needs no credentials', async () => {
    const r = await curl(`${site().base}/`, []);
    assert.equal(r.final.status, 200);
    assert.match(r.body, /Persona/);
  });

  test('no credentials: 401.2 with exactly one challenge, Basic with realm and charset', async () => {
    const r = await curl(`${site().base}/secure/`, []);
    assert.equal(r.final.status, 401);
    assert.match(r.body, /401\.2/);
    assert.deepEqual(headerValues(r.final, 'www-authenticate'), [REALM_CHALLENGE]);
  });

  test('curl -u: 200 with the secure page; the W3C log says MACHINE\\alice (and "-" for the anonymous 401.2)', async () => {
    assert.equal((await curl(`${site().base}/secure/`, [])).final.status, 401);
    const r = await curl(`${site().base}/secure/`, ['-u', `${DEMO_USER}:${PASSWORD}`]);
    assert.equal(r.final.status, 200, r.body);
    assert.match(r.body, /Secure area/);
    const { machine } = site();
    const entries = await waitForW3c(
      site(),
      (e) => e['cs-uri-stem'] === '/secure/' && e['sc-status'] === '200' && e['cs-username'] === `${machine}\\${DEMO_USER}`,
    );
    assert.ok(
      entries.some((e) => e['cs-uri-stem'] === '/secure/' && e['sc-status'] === '401' && e['sc-substatus'] === '2' && e['cs-username'] === '-'),
      'the anonymous request is logged as IIS does: 401 substatus 2, cs-username "-"',
    );
  });

  test('curl --basic -u: 200', async () => {
    const r = await curl(`${site().base}/secure/`, ['--basic', '-u', `${DEMO_USER}:${PASSWORD}`]);
    assert.equal(r.final.status, 200, r.body);
    assert.match(r.body, /Secure area/);
  });

  test('curl --anyauth: reads the challenge (401), picks Basic, then 200', async () => {
    const r = await curl(`${site().base}/secure/`, ['--anyauth', '-u', `${DEMO_USER}:${PASSWORD}`]);
    assert.deepEqual(r.responses.map((h) => h.status), [401, 200], 'curl asked once without credentials, then with Basic');
    assert.match(r.body, /Secure area/);
  });

  test('wrong password: 401.1, and the challenge again (RFC 7235: every 401 carries one)', async () => {
    const r = await curl(`${site().base}/secure/`, ['--basic', '-u', `${DEMO_USER}:${PASSWORD}x`]);
    assert.equal(r.final.status, 401);
    assert.match(r.body, /401\.1/);
    assert.doesNotMatch(r.body, /Secure area/);
    assert.deepEqual(headerValues(r.final, 'www-authenticate'), [REALM_CHALLENGE]);
  });

  test('unknown user: 401.1, the same answer as a wrong password', async () => {
    const r = await curl(`${site().base}/secure/`, ['--basic', '-u', `mallory:${PASSWORD}`]);
    assert.equal(r.final.status, 401);
    assert.match(r.body, /401\.1/);
  });
});

describe('curl: a UTF-8 password (RFC 7617 charset="UTF-8")', () => {
  const site = demoSite(UTF8_PASSWORD, requireCurl, { basicOnly: true });

  test('curl -u with the UTF-8 bytes of the password: 200', async () => {
    // curl sends its argument's bytes as they are; node passes the string as UTF-8.
    const r = await curl(`${site().base}/secure/`, ['--basic', '-u', `${DEMO_USER}:${UTF8_PASSWORD}`]);
    assert.equal(r.final.status, 200, r.body);
    assert.match(r.body, /Secure area/);
  });

  test('the same password with one character changed: 401.1', async () => {
    const r = await curl(`${site().base}/secure/`, ['--basic', '-u', `${DEMO_USER}:${UTF8_PASSWORD.replace('ü', 'u')}`]);
    assert.equal(r.final.status, 401);
    assert.match(r.body, /401\.1/);
  });
});
