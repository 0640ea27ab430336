/**
 * NTLM with the five real clients of issue 4, each as a Debian user has it: curl --ntlm, Python requests_ntlm,
 * Perl LWP + Authen::NTLM, Java's HttpURLConnection, Chromium (playwright-core). They log into the demo's secure
 * folder (which offers NTLM, then Basic) and a wrong password ends in 401.1 with an audit event. Then Extended
 * Protection over HTTPS: clients that send channel bindings (Chromium, requests_ntlm) pass `tokenChecking:
 * Require`, curl (which sends none) is refused there and accepted with Allow.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CLI, freePort, REPO, startPersona, tempDir, type RunningPersona } from '../helpers/persona.js';
import { chromiumMissing, launchChromium, type ChromiumSession } from '../helpers/chromium.js';
import { curl, headerValues, PYTHON, requireCurl, runProcess } from './clients.js';
import { DEMO_USER, demoSite, REALM_CHALLENGE, waitForW3c } from './demo.js';

const PASSWORD = 'interop-Ntlm-2026';
const CLIENTS = path.join(REPO, 'test/interop/clients');
const JAVA = '/usr/bin/java';
const PERL = '/usr/bin/perl';

function need(file: string, pkg: string): void {
  if (!existsSync(file)) throw new Error(`${file} is missing: install the Debian package "${pkg}" (npm test as root installs it: scripts/ensure-system-packages.sh test)`);
}

async function auditTail(home: string): Promise<Record<string, unknown>> {
  const lines = (await readFile(path.join(home, 'logs', 'audit.log'), 'utf8')).trim().split('\n');
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

interface PythonNtlmReport {
  readonly responses: ReadonlyArray<{ status: number; text: string; history: number[] }>;
  readonly connections: number;
}
async function pythonNtlm(url: string, user: string, password: string, caFile?: string): Promise<PythonNtlmReport> {
  need(PYTHON, 'python3-requests-ntlm');
  const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
  const r = await runProcess(PYTHON, [path.join(CLIENTS, 'requests-ntlm.py'), url, hex(user), hex(password), ...(caFile ? [caFile] : [])], {
    env: { OPENSSL_CONF: path.join(CLIENTS, 'openssl-legacy.cnf') },
  });
  assert.equal(r.code, 0, `requests-ntlm.py failed (exit ${r.code}):\n${r.stderr}`);
  return JSON.parse(r.stdout.toString('utf8')) as PythonNtlmReport;
}

async function perlLwp(url: string, hostPort: string, user: string, password: string, version: 'v1' | 'v2'): Promise<{ status: number; body: string }> {
  need(PERL, 'libwww-perl');
  const r = await runProcess(PERL, [path.join(CLIENTS, 'lwp-ntlm.pl'), url, hostPort, user, password, version]);
  assert.equal(r.code, 0, `lwp-ntlm.pl failed (exit ${r.code}):\n${r.stderr}`);
  const text = r.stdout.toString('utf8');
  const newline = text.indexOf('\n');
  return { status: Number(text.slice(0, newline)), body: text.slice(newline + 1) };
}

async function javaNtlm(url: string, user: string, password: string): Promise<{ status: number; body: string }> {
  need(JAVA, 'openjdk-17-jre-headless');
  // Single-file source launch: the JDK compiles NtlmClient.java in memory (about a second).
  const r = await runProcess(JAVA, [path.join(CLIENTS, 'NtlmClient.java'), url, user, password], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `java NtlmClient failed (exit ${r.code}):\n${r.stderr}`);
  const text = r.stdout.toString('utf8');
  const newline = text.indexOf('\n');
  return { status: Number(text.slice(0, newline)), body: text.slice(newline + 1) };
}

describe('NTLM: five real clients on the demo site', () => {
  // Digest off: Java prefers Digest to NTLM, and this suite is about NTLM (test/interop/digest-clients.test.ts has Digest).
  const site = demoSite(PASSWORD, requireCurl, { noDigest: true });
  const secure = () => `${site().base}/secure/`;
  const home = () => site().server.home;
  const hostPort = () => `127.0.0.1:${site().port}`;

  test('the demo offers NTLM, then Basic (IIS order), on one 401.2', async () => {
    const r = await curl(secure(), []);
    assert.equal(r.final.status, 401);
    assert.deepEqual(headerValues(r.final, 'www-authenticate'), ['NTLM', REALM_CHALLENGE]);
  });

  test('curl --ntlm: three legs on one connection, logged as IIS logs them; a wrong password is 401.1 and audited', async () => {
    const r = await curl(`${secure()}?curl-ntlm`, ['--ntlm', '-u', `${DEMO_USER}:${PASSWORD}`]);
    assert.deepEqual(r.responses.map((x) => x.status), [401, 200]);
    assert.match(r.body, /Secure area/);
    const user = `${site().machine}\\${DEMO_USER}`;
    const entries = await waitForW3c(site(), (e) => e['cs-uri-query'] === 'curl-ntlm' && e['sc-status'] === '200');
    const legs = entries.filter((e) => e['cs-uri-query'] === 'curl-ntlm').map((e) => [e['sc-status'], e['sc-substatus'], e['sc-win32-status'], e['cs-username']]);
    assert.deepEqual(legs, [
      ['401', '1', '2148074254', '-'],
      ['200', '0', '0', user],
    ]);
    const audit = await auditTail(home());
    assert.equal(audit.eventId, 4624);
    assert.equal(audit.package, 'NTLM');
    assert.match(String(audit.detail), /NTLMv2/);

    const wrong = await curl(secure(), ['--ntlm', '-u', `${DEMO_USER}:wrong-${PASSWORD}`]);
    assert.equal(wrong.final.status, 401);
    assert.match(wrong.body, /401\.1/);
    const failure = await auditTail(home());
    assert.equal(failure.eventId, 4625);
    assert.equal(failure.subStatus, 'STATUS_WRONG_PASSWORD');
  });

  test('Python requests_ntlm on a Session: logged on once, the second request rides the authenticated connection', async () => {
    const report = await pythonNtlm(secure(), DEMO_USER, PASSWORD);
    assert.deepEqual(report.responses.map((r) => r.status), [200, 200]);
    assert.match(report.responses[0]!.text, /Secure area/);
    assert.deepEqual(report.responses[1]!.history, [], 'no new handshake for the second request');
    assert.equal(report.connections, 1);
    const wrong = await pythonNtlm(secure(), DEMO_USER, 'wrong');
    assert.equal(wrong.responses[0]!.status, 401);
  });

  test('Perl LWP + Authen::NTLM: NTLMv2 logs on; its default NTLMv1 is refused with the reason in the audit log', async () => {
    const v2 = await perlLwp(secure(), hostPort(), `\\${DEMO_USER}`, PASSWORD, 'v2');
    assert.equal(v2.status, 200);
    assert.match(v2.body, /Secure area/);
    // Authen::NTLM 1.09 fills the blob's timestamp wrongly; the audit detail says it was tolerated.
    assert.match(String((await auditTail(home())).detail), /no usable client timestamp/);
    const v1 = await perlLwp(secure(), hostPort(), `${site().machine}\\${DEMO_USER}`, PASSWORD, 'v1');
    assert.equal(v1.status, 401);
    const refusal = await auditTail(home());
    assert.equal(refusal.status, 'STATUS_NTLM_BLOCKED');
    assert.match(String(refusal.reason), /NTLMv1/);
  });

  test("Java's HttpURLConnection picks NTLM by itself and logs on; a wrong password is 401", async () => {
    const right = await javaNtlm(secure(), DEMO_USER, PASSWORD);
    assert.equal(right.status, 200);
    assert.match(right.body, /Secure area/);
    assert.equal((await auditTail(home())).package, 'NTLM');
    const wrong = await javaNtlm(secure(), DEMO_USER, 'wrong');
    assert.equal(wrong.status, 401);
  });

  test('Chromium (httpCredentials) answers the NTLM challenge and gets the secure page; wrong credentials end at 401.1', async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    const sessions: ChromiumSession[] = [];
    try {
      const right = await launchChromium({ context: { httpCredentials: { username: DEMO_USER, password: PASSWORD } } });
      sessions.push(right);
      const page = await right.newPage();
      assert.equal((await page.goto(`${secure()}?chromium-ntlm`))?.status(), 200);
      assert.match(await page.locator('body').innerText(), /Secure area/);
      const user = `${site().machine}\\${DEMO_USER}`;
      const entries = await waitForW3c(site(), (e) => e['cs-uri-query'] === 'chromium-ntlm' && e['sc-status'] === '200');
      const legs = entries.filter((e) => e['cs-uri-query'] === 'chromium-ntlm').map((e) => [e['sc-status'], e['sc-substatus'], e['cs-username']]);
      assert.deepEqual(legs, [
        ['401', '2', '-'],
        ['401', '1', '-'],
        ['200', '0', user],
      ]);
      assert.match(String((await auditTail(home())).detail), /MIC checked/, 'Chromium sends a MIC, and it was verified');

      const wrong = await launchChromium({ context: { httpCredentials: { username: DEMO_USER, password: 'wrong' } } });
      sessions.push(wrong);
      const wrongPage = await wrong.newPage();
      assert.equal((await wrongPage.goto(secure()))?.status(), 401);
      assert.match(await wrongPage.locator('body').innerText(), /401\.1/);
    } finally {
      await Promise.allSettled(sessions.map((s) => s.close()));
    }
  });
});

describe('NTLM Extended Protection over HTTPS with real clients', () => {
  let server: RunningPersona;
  let tlsPort: number;
  let certFile: string;
  const base = () => `https://localhost:${tlsPort}`;

  before(async () => {
    requireCurl();
    const home = await tempDir('epa');
    const root = path.join(home, 'www');
    for (const dir of ['require', 'allow']) {
      await mkdir(path.join(root, dir), { recursive: true });
      await writeFile(path.join(root, dir, 'index.html'), `${dir} page`);
    }
    const add = spawnSync(process.execPath, [CLI, '--home', home, 'user', 'add', 'erin', '--ntlm'], { input: `${PASSWORD}\n`, encoding: 'utf8', timeout: 30_000 });
    assert.equal(add.status, 0, add.stderr);
    certFile = path.join(home, 'tls.crt');
    const keyFile = path.join(home, 'tls.key');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', keyFile, '-out', certFile], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    tlsPort = await freePort();
    server = await startPersona(
      `
sites:
  - name: Epa
    bindings: [{ protocol: https, ip: 127.0.0.1, port: ${tlsPort} }]
    tls: { certificate: ${JSON.stringify(certFile)}, key: ${JSON.stringify(keyFile)} }
    physicalPath: ${JSON.stringify(root)}
    settings:
      authentication:
        anonymous: { enabled: false }
        ntlm: { enabled: true, tokenChecking: Require }
    locations:
      - path: /allow
        settings: { authentication: { ntlm: { tokenChecking: Allow } } }
`,
      { home },
    );
  });
  after(async () => server?.stop());

  test('Chromium sends channel bindings for our certificate: accepted under Require', async () => {
    const session = await launchChromium({ context: { httpCredentials: { username: 'erin', password: PASSWORD }, ignoreHTTPSErrors: true }, extraArgs: ['--host-resolver-rules=MAP localhost 127.0.0.1'] });
    try {
      const page = await session.newPage();
      const response = await page.goto(`${base()}/require/`);
      assert.equal(response?.status(), 200, await page.locator('body').innerText());
      assert.match(String((await auditTail(server.home)).detail), /channel bindings match/);
    } finally {
      await session.close();
    }
  });

  test('requests_ntlm sends channel bindings too: accepted under Require', async () => {
    const report = await pythonNtlm(`${base()}/require/`, 'erin', PASSWORD, certFile);
    assert.equal(report.responses[0]!.status, 200);
    assert.match(String((await auditTail(server.home)).detail), /channel bindings match/);
  });

  test('curl --ntlm sends none: refused under Require (STATUS_BAD_BINDINGS), accepted under Allow', async () => {
    const refused = await curl(`${base()}/require/`, ['--ntlm', '-u', `erin:${PASSWORD}`, '--cacert', certFile, '--resolve', `localhost:${tlsPort}:127.0.0.1`]);
    assert.equal(refused.final.status, 401);
    const audit = await auditTail(server.home);
    assert.equal(audit.status, 'STATUS_BAD_BINDINGS');
    const allowed = await curl(`${base()}/allow/`, ['--ntlm', '-u', `erin:${PASSWORD}`, '--cacert', certFile, '--resolve', `localhost:${tlsPort}:127.0.0.1`]);
    assert.equal(allowed.final.status, 200);
    assert.equal(allowed.body, 'allow page');
  });
});

