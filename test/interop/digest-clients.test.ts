/**
 * Digest with real clients, each as a Debian user has it, against the demo's secure folder with Digest as the only
 * scheme (Java and Chromium would pick NTLM otherwise): curl --digest, Python requests' HTTPDigestAuth, Perl LWP,
 * Java's HttpURLConnection, Chromium through playwright-core. Each logs on (the audit's `detail` says which algorithm
 * the client chose from SHA-256 and MD5), the keep-alive clients reuse their nonce with a growing nc, and a wrong
 * password ends in 401 with a 4625. The full demo offers NTLM, Digest (strongest first), Basic.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { personaCli, REPO } from '../helpers/persona.js';
import { chromiumMissing, launchChromium, type ChromiumSession } from '../helpers/chromium.js';
import { digestChallenges } from '../helpers/digest-client.js';
import { curl, headerValues, PYTHON, requireCurl, requirePythonRequests, runProcess } from './clients.js';
import { DEMO_USER, demoSite, REALM_CHALLENGE, waitForW3c } from './demo.js';

const PASSWORD = 'interop-Digest-2026';
const CLIENTS = path.join(REPO, 'test/interop/clients');
const JAVA = '/usr/bin/java';
const PERL = '/usr/bin/perl';

function need(file: string, pkg: string): void {
  if (!existsSync(file)) throw new Error(`${file} is missing: install the Debian package "${pkg}" (npm test as root installs it: scripts/ensure-system-packages.sh test)`);
}

type AuditEvent = Record<string, unknown>;
async function audit(home: string): Promise<AuditEvent[]> {
  return (await readFile(path.join(home, 'logs', 'audit.log'), 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditEvent);
}
/** The Digest events written since `from` (an index into the audit log). */
async function digestEventsSince(home: string, from: number): Promise<AuditEvent[]> {
  return (await audit(home)).slice(from).filter((e) => e.package === 'Digest');
}

function statusLines(stdout: Buffer, count: number): { statuses: number[]; body: string } {
  const lines = stdout.toString('utf8').split('\n');
  return { statuses: lines.slice(0, count).map(Number), body: lines.slice(count).join('\n') };
}

describe('the full demo offers NTLM, Digest (strongest first, one nonce), then Basic', () => {
  const site = demoSite(PASSWORD, requireCurl);
  test('challenge lines', async () => {
    const r = await curl(`${site().base}/secure/`, []);
    assert.equal(r.final.status, 401);
    const lines = headerValues(r.final, 'www-authenticate');
    assert.equal(lines.length, 4);
    assert.equal(lines[0], 'NTLM');
    assert.equal(lines[3], REALM_CHALLENGE);
    const digest = digestChallenges(lines);
    assert.deepEqual(digest.map((d) => d.algorithm), ['SHA-256', 'MD5']);
    assert.equal(digest[0]!.realm, site().machine, 'the realm is the machine name (IIS sends its computer name)');
    assert.equal(digest[0]!.nonce, digest[1]!.nonce);
  });
});

describe('Digest: five real clients on the demo site', () => {
  const site = demoSite(PASSWORD, requireCurl, { digestOnly: true });
  const secure = () => `${site().base}/secure/`;
  const home = () => site().server.home;
  const mark = async () => (await audit(home())).length;
  // One account per client: a logon is audited once, later ones are token-cache hits, and the 4624 of each client's
  // first logon is what says which algorithm it chose.
  const account = (name: string) => {
    personaCli(home(), ['user', 'add', name, '--digest'], `${PASSWORD}\n`);
    return name;
  };

  test('curl --digest answers the first line (SHA-256), logged as the user; a wrong password is 401.1 + 4625', async () => {
    const from = await mark();
    const r = await curl(`${secure()}?curl-digest`, ['--digest', '-u', `${DEMO_USER}:${PASSWORD}`]);
    assert.deepEqual(r.responses.map((x) => x.status), [401, 200]);
    assert.match(r.body, /Secure area/);
    const [logon] = await digestEventsSince(home(), from);
    assert.equal(logon?.eventId, 4624);
    assert.equal(logon?.detail, 'SHA-256, qop=auth', 'curl 7.88 answers the SHA-256 line');
    const entries = await waitForW3c(site(), (e) => e['cs-uri-query'] === 'curl-digest' && e['sc-status'] === '200');
    assert.equal(entries.find((e) => e['cs-uri-query'] === 'curl-digest' && e['sc-status'] === '200')?.['cs-username'], `${site().machine}\\${DEMO_USER}`);

    const wrongFrom = await mark();
    const wrong = await curl(secure(), ['--digest', '-u', `${DEMO_USER}:wrong-${PASSWORD}`]);
    assert.equal(wrong.final.status, 401);
    assert.match(wrong.body, /401\.1/);
    const [failure] = await digestEventsSince(home(), wrongFrom);
    assert.equal(failure?.eventId, 4625);
    assert.equal(failure?.subStatus, 'STATUS_WRONG_PASSWORD');
  });

  test('Python requests HTTPDigestAuth on a Session: one 401, then nc 2, 3, 4 on the same nonce and connection', async () => {
    await requirePythonRequests();
    const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
    const from = await mark();
    const user = account('py-digest');
    const r = await runProcess(PYTHON, [path.join(CLIENTS, 'requests-digest.py'), secure(), hex(user), hex(PASSWORD), '4']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout.toString('utf8')) as { responses: { status: number; text: string; history: number[] }[]; nonceCount: number; connections: number };
    assert.deepEqual(report.responses.map((x) => x.status), [200, 200, 200, 200]);
    assert.deepEqual(report.responses.map((x) => x.history), [[401], [], [], []], 'only the first request was challenged');
    assert.equal(report.nonceCount, 4);
    assert.equal(report.connections, 1);
    const events = await digestEventsSince(home(), from);
    assert.equal(events.length, 1, 'one logon; the requests with nc 2..4 were token-cache hits');
    // requests reads the joined header as one dict: the last line's algorithm wins (MD5); the shared nonce keeps it valid.
    assert.equal(events[0]!.detail, 'MD5, qop=auth');

    const wrong = await runProcess(PYTHON, [path.join(CLIENTS, 'requests-digest.py'), secure(), hex(user), hex('wrong'), '1']);
    assert.equal(wrong.code, 0, wrong.stderr);
    assert.equal((JSON.parse(wrong.stdout.toString('utf8')) as { responses: { status: number }[] }).responses[0]!.status, 401);
  });

  test('Perl LWP (LWP::Authen::Digest): logs on with MD5 and keeps counting nc on its nonce; a wrong password is 401', async () => {
    need(PERL, 'libwww-perl');
    const hostPort = `127.0.0.1:${site().port}`;
    const from = await mark();
    const user = account('lwp-digest');
    const r = await runProcess(PERL, [path.join(CLIENTS, 'lwp-digest.pl'), secure(), hostPort, site().machine, user, PASSWORD, '3']);
    assert.equal(r.code, 0, r.stderr);
    const { statuses, body } = statusLines(r.stdout, 3);
    assert.deepEqual(statuses, [200, 200, 200]);
    assert.match(body, /Secure area/);
    const events = await digestEventsSince(home(), from);
    assert.equal(events.filter((e) => e.eventId === 4625).length, 0, JSON.stringify(events));
    assert.equal(events.find((e) => e.eventId === 4624)?.detail, 'MD5, qop=auth', 'LWP implements MD5 only');
    const wrong = await runProcess(PERL, [path.join(CLIENTS, 'lwp-digest.pl'), secure(), hostPort, site().machine, user, 'wrong', '1']);
    assert.equal(statusLines(wrong.stdout, 1).statuses[0], 401);
  });

  test("Java's HttpURLConnection (Authenticator) answers Digest and logs on; a wrong password is 401", async () => {
    need(JAVA, 'openjdk-17-jre-headless');
    const from = await mark();
    const user = account('java-digest');
    const r = await runProcess(JAVA, [path.join(CLIENTS, 'DigestClient.java'), secure(), user, PASSWORD, '3'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const { statuses, body } = statusLines(r.stdout, 3);
    assert.deepEqual(statuses, [200, 200, 200]);
    assert.match(body, /Secure area/);
    const logon = (await digestEventsSince(home(), from)).find((e) => e.eventId === 4624);
    // OpenJDK 17 answered the MD5 line, the last Digest challenge, not the first (observed).
    assert.equal(logon?.detail, 'MD5, qop=auth', 'Java 17 answers the MD5 line');
    const wrong = await runProcess(JAVA, [path.join(CLIENTS, 'DigestClient.java'), secure(), user, 'wrong', '1'], { timeoutMs: 60_000 });
    assert.equal(wrong.code, 0, wrong.stderr);
    assert.equal(statusLines(wrong.stdout, 1).statuses[0], 401);
  });

  test('Chromium (httpCredentials) answers Digest and gets the secure page; wrong credentials end at 401.1', async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    const sessions: ChromiumSession[] = [];
    try {
      const user = account('chromium-digest');
      const from = await mark();
      const right = await launchChromium({ context: { httpCredentials: { username: user, password: PASSWORD } } });
      sessions.push(right);
      const page = await right.newPage();
      assert.equal((await page.goto(`${secure()}?chromium-digest`))?.status(), 200);
      assert.match(await page.locator('body').innerText(), /Secure area/);
      assert.equal((await page.goto(`${secure()}?chromium-digest-2`))?.status(), 200);
      const logon = (await digestEventsSince(home(), from)).find((e) => e.eventId === 4624);
      assert.equal(logon?.detail, 'SHA-256, qop=auth', 'Chromium answers the SHA-256 line');

      const wrong = await launchChromium({ context: { httpCredentials: { username: user, password: 'wrong' } } });
      sessions.push(wrong);
      const wrongPage = await wrong.newPage();
      assert.equal((await wrongPage.goto(secure()))?.status(), 401);
      assert.match(await wrongPage.locator('body').innerText(), /401\.1/);
    } finally {
      await Promise.allSettled(sessions.map((s) => s.close()));
    }
  });
});
