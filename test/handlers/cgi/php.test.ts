/**
 * A real CGI program that is not a shell script: Debian's php-cgi (installed by scripts/ensure-system-packages.sh
 * test), run with SCRIPT_FILENAME and REDIRECT_STATUS as Apache and IIS run it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request, startCgiServer, type CgiTestServer } from './fixtures/server.js';

const PHP_CGI = '/usr/bin/php-cgi';
let server: CgiTestServer;

before(async () => {
  assert.ok(existsSync(PHP_CGI), `${PHP_CGI} is missing: run scripts/ensure-system-packages.sh test as root`);
  server = await startCgiServer({ authType: 'NTLM', userName: 'MACHINE\\bob', interpreter: PHP_CGI });
});

after(() => server.close());

test('php-cgi sees the authenticated user and the POST fields', async () => {
  const res = await request(`${server.url}/cgi-bin/form.php/more/path`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'field=hello+w%C3%B6rld&other=1',
  });
  assert.equal(res.status, 200, res.body.toString());
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  assert.equal(res.body.toString('utf8'), 'REMOTE_USER=MACHINE\\bob\nAUTH_TYPE=NTLM\nfield=hello wörld\nPATH_INFO=/more/path\n');
});

test('php-cgi for an anonymous GET: REMOTE_USER is empty, no POST field', async () => {
  const anonymous = await startCgiServer({ interpreter: PHP_CGI });
  try {
    const res = await request(`${anonymous.url}/cgi-bin/form.php`);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.body.toString(), 'REMOTE_USER=\nAUTH_TYPE=\nfield=(unset)\nPATH_INFO=(unset)\n');
  } finally {
    await anonymous.close();
  }
});
