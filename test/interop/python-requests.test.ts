/**
 * Python requests (Debian's python3-requests) with `requests.auth.HTTPBasicAuth` on one `requests.Session`:
 * anonymous, wrong and right credentials in turn on a kept-alive connection, then a UTF-8 password.
 *
 * The script reports urllib3's own connection count for the pool, so "keep-alive" is what the client saw, not a
 * guess: every answer, the 401s included, must leave the connection open (IIS does; NTLM will depend on it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PYTHON, requirePythonRequests, runProcess } from './clients.js';
import { DEMO_USER, REALM_CHALLENGE, startDemo, type Demo } from './demo.js';

const PASSWORD = 'interop-Python-3.11';
const UTF8_PASSWORD = 'Пароль-ü-密码';

// Credentials travel as hex so that no locale can change the bytes on the way into Python.
// requests encodes str credentials as Latin-1 (its documented default); bytes are sent as given, so the UTF-8
// case passes the UTF-8 encoding, as RFC 7617's charset="UTF-8" asks.
const SCRIPT = String.raw`
import json, sys
import requests
from requests.auth import HTTPBasicAuth

base, user, password, mode = sys.argv[1], bytes.fromhex(sys.argv[2]).decode('utf-8'), bytes.fromhex(sys.argv[3]).decode('utf-8'), sys.argv[4]
if mode == 'utf8':
    right = HTTPBasicAuth(user.encode('utf-8'), password.encode('utf-8'))
else:
    right = HTTPBasicAuth(user, password)
wrong = HTTPBasicAuth(user, 'not-the-password')
url = base + '/secure/'
out = []
with requests.Session() as s:
    for name, auth in (('anonymous', None), ('wrong', wrong), ('right', right), ('again', right)):
        r = s.get(url, auth=auth, timeout=10)
        out.append({'name': name, 'status': r.status_code, 'challenges': r.raw.headers.getlist('WWW-Authenticate'), 'text': r.text})
    pool = s.get_adapter(url).poolmanager.connection_from_url(url)
    print(json.dumps({'version': requests.__version__, 'responses': out, 'connections': pool.num_connections, 'requests': pool.num_requests}))
`;

interface PythonReport {
  readonly version: string;
  readonly responses: ReadonlyArray<{ name: string; status: number; challenges: string[]; text: string }>;
  readonly connections: number;
  readonly requests: number;
}

async function runSession(demo: Demo, mode: 'str' | 'utf8'): Promise<PythonReport> {
  const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');
  const r = await runProcess(PYTHON, ['-c', SCRIPT, demo.base, hex(DEMO_USER), hex(demo.password), mode]);
  assert.equal(r.code, 0, `python3 failed (exit ${r.code}, signal ${r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.toString('utf8')) as PythonReport;
}

function byName(report: PythonReport, name: string): PythonReport['responses'][number] {
  const found = report.responses.find((x) => x.name === name);
  assert.ok(found, `the script reports "${name}"`);
  return found;
}

describe('Python requests: HTTPBasicAuth on a Session', () => {
  let demo: Demo | undefined;

  before(async () => {
    await requirePythonRequests();
    demo = await startDemo(PASSWORD, { basicOnly: true });
  });
  after(async () => demo?.stop());

  test('anonymous 401.2 with the challenge, wrong 401.1, right 200 twice — all on one kept-alive connection', async () => {
    assert.ok(demo, 'the demo site started');
    const report = await runSession(demo, 'str');

    const anonymous = byName(report, 'anonymous');
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.text, /401\.2/);
    assert.deepEqual(anonymous.challenges, [REALM_CHALLENGE]);

    const wrong = byName(report, 'wrong');
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /401\.1/);

    for (const name of ['right', 'again']) {
      const ok = byName(report, name);
      assert.equal(ok.status, 200, `${name}: ${ok.text}`);
      assert.match(ok.text, /Secure area/);
    }
    assert.equal(report.requests, 4);
    assert.equal(report.connections, 1, `requests ${report.version} opened ${report.connections} connections for 4 requests: the server closed a kept-alive connection`);
  });
});

describe('Python requests: a UTF-8 password', () => {
  let demo: Demo | undefined;

  before(async () => {
    await requirePythonRequests();
    demo = await startDemo(UTF8_PASSWORD, { basicOnly: true });
  });
  after(async () => demo?.stop());

  test('HTTPBasicAuth with the UTF-8 bytes of a Cyrillic/CJK password: 200', async () => {
    assert.ok(demo, 'the demo site started');
    const report = await runSession(demo, 'utf8');
    assert.equal(byName(report, 'anonymous').status, 401);
    assert.equal(byName(report, 'wrong').status, 401);
    assert.equal(byName(report, 'right').status, 200, byName(report, 'right').text);
    assert.match(byName(report, 'right').text, /Secure area/);
  });
});
