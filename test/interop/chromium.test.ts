/**
 * Chromium (Debian's, driven by playwright-core) logs into the demo's secure folder with `httpCredentials`.
 * Playwright answers the browser's own authentication prompt, so Chromium first asks without credentials, reads
 * our challenge, and only then sends Basic — the path a person at a browser takes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumMissing, launchChromium, type ChromiumSession } from '../helpers/chromium.js';
import { DEMO_USER, startDemo, waitForW3c, type Demo } from './demo.js';

const PASSWORD = 'interop-Chromium-156';
const UTF8_PASSWORD = 'Mot-de-passe-été-密码';

/** Browsers opened by a suite; `after` closes every one whatever happened. */
function browsers(): { open: (password: string) => Promise<ChromiumSession>; closeAll: () => Promise<void> } {
  const sessions: ChromiumSession[] = [];
  return {
    async open(password) {
      const session = await launchChromium({ context: { httpCredentials: { username: DEMO_USER, password } } });
      sessions.push(session);
      return session;
    },
    async closeAll() {
      await Promise.allSettled(sessions.map((s) => s.close()));
    },
  };
}

function requireChromium(): void {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
}

describe('Chromium: Basic authentication through the browser prompt', () => {
  let demo: Demo | undefined;
  const chromium = browsers();

  before(async () => {
    requireChromium();
    demo = await startDemo(PASSWORD, { basicOnly: true });
  });
  after(async () => {
    await chromium.closeAll();
    await demo?.stop();
  });

  test('right credentials: /secure/ shows the secure page; the log has the challenge, then MACHINE\\alice', async () => {
    assert.ok(demo, 'the demo site started');
    const page = await (await chromium.open(PASSWORD)).newPage();
    const response = await page.goto(`${demo.base}/secure/`);
    assert.equal(response?.status(), 200);
    assert.match(await page.locator('body').innerText(), /Secure area/);

    const user = `${demo.machine}\\${DEMO_USER}`;
    const entries = await waitForW3c(demo, (e) => e['cs-uri-stem'] === '/secure/' && e['sc-status'] === '200' && e['cs-username'] === user);
    const secure = entries.filter((e) => e['cs-uri-stem'] === '/secure/');
    assert.deepEqual(
      secure.slice(0, 2).map((e) => [e['sc-status'], e['sc-substatus'], e['cs-username']]),
      [['401', '2', '-'], ['200', '0', user]],
      'Chromium asked anonymously (401.2 with the challenge), then sent alice\'s credentials',
    );

    // The public page in the same browser, and the secure page again (Chromium now sends Basic up front).
    assert.equal((await page.goto(`${demo.base}/`))?.status(), 200);
    assert.equal((await page.goto(`${demo.base}/secure/`))?.status(), 200);
  });

  test('wrong credentials: the browser ends at 401.1', async () => {
    assert.ok(demo, 'the demo site started');
    const page = await (await chromium.open(`${PASSWORD}-wrong`)).newPage();
    const response = await page.goto(`${demo.base}/secure/`);
    assert.equal(response?.status(), 401);
    const text = await page.locator('body').innerText();
    assert.match(text, /401\.1/);
    assert.doesNotMatch(text, /Secure area/);
  });
});

describe('Chromium: a UTF-8 password', () => {
  let demo: Demo | undefined;
  const chromium = browsers();

  before(async () => {
    requireChromium();
    demo = await startDemo(UTF8_PASSWORD, { basicOnly: true });
  });
  after(async () => {
    await chromium.closeAll();
    await demo?.stop();
  });

  test('Chromium sends the password as UTF-8 and gets the secure page', async () => {
    assert.ok(demo, 'the demo site started');
    const page = await (await chromium.open(UTF8_PASSWORD)).newPage();
    const response = await page.goto(`${demo.base}/secure/`);
    assert.equal(response?.status(), 200);
    assert.match(await page.locator('body').innerText(), /Secure area/);
  });
});
