/**
 * Several sites told apart by binding (port, host header, SNI over HTTPS), and reloads: a valid file takes effect
 * without dropping the listener, an invalid one is refused with positions while the old configuration keeps serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { freePort, get, persona, startPersona, tempDir, type RunningPersona } from '../helpers/persona.js';

function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', key, '-out', cert], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { cert, key };
}

function httpsGet(port: number, servername: string, pathName = '/'): Promise<{ status: number; text: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: pathName, servername, headers: { host: servername }, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      const subject = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '';
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), subject: String(subject) }));
    });
    req.on('error', reject);
  });
}

describe('sites and reload', () => {
  let server: RunningPersona;
  let dir: string;
  let httpPort: number;
  let otherPort: number;
  let tlsPort: number;
  let config: (extra?: string) => string;

  before(async () => {
    dir = await tempDir('sites');
    for (const site of ['alpha', 'beta', 'gamma']) {
      await mkdir(path.join(dir, site), { recursive: true });
      await writeFile(path.join(dir, site, 'index.html'), `site ${site}`);
    }
    const a = makeCertificate(dir, 'alpha.test');
    const b = makeCertificate(dir, 'beta.test');
    [httpPort, otherPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
    config = (extra = '') => `
sites:
  - name: Alpha
    bindings:
      - { protocol: http, ip: 127.0.0.1, port: ${httpPort}, host: alpha.test }
      - { protocol: https, ip: 127.0.0.1, port: ${tlsPort}, host: alpha.test }
      - { protocol: https, ip: 127.0.0.1, port: ${tlsPort} }
    tls: { certificate: ${a.cert}, key: ${a.key} }
    physicalPath: ${path.join(dir, 'alpha')}
  - name: Beta
    bindings:
      - { protocol: http, ip: 127.0.0.1, port: ${httpPort}, host: beta.test }
      - { protocol: https, ip: 127.0.0.1, port: ${tlsPort}, host: beta.test }
    tls: { certificate: ${b.cert}, key: ${b.key} }
    physicalPath: ${path.join(dir, 'beta')}
${extra}`;
    server = await startPersona(config(), { publicRoots: ['alpha', 'beta', 'gamma'].map((site) => path.join(dir, site)) });
  });
  after(async () => server?.stop());

  test('the Host header chooses the site; an unknown host on a listener without fallback is 404.1', async () => {
    assert.equal((await get(`http://127.0.0.1:${httpPort}/`, { headers: { host: 'alpha.test' } })).text, 'site alpha');
    assert.equal((await get(`http://127.0.0.1:${httpPort}/`, { headers: { host: 'BETA.test:80' } })).text, 'site beta');
    const unknown = await get(`http://127.0.0.1:${httpPort}/`, { headers: { host: 'gamma.test' } });
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /404\.1/);
  });

  test('HTTPS picks the certificate and the site by SNI, and the default certificate without SNI', async () => {
    const alpha = await httpsGet(tlsPort, 'alpha.test');
    assert.deepEqual([alpha.status, alpha.text, alpha.subject], [200, 'site alpha', 'alpha.test']);
    const beta = await httpsGet(tlsPort, 'beta.test');
    assert.deepEqual([beta.status, beta.text, beta.subject], [200, 'site beta', 'beta.test']);
    const curl = spawnSync('curl', ['-sk', `https://127.0.0.1:${tlsPort}/`], { encoding: 'utf8' });
    assert.equal(curl.stdout, 'site alpha');
  });

  test('reload: a valid change adds a site and a listener; an invalid file is refused and the old one keeps serving', async () => {
    const added = config(`  - name: Gamma
    bindings:
      - { protocol: http, ip: 127.0.0.1, port: ${otherPort} }
    physicalPath: ${path.join(dir, 'gamma')}
`);
    await writeFile(path.join(server.home, 'persona.yaml'), added);
    const ok = persona(['--home', server.home, 'reload']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal((await get(`http://127.0.0.1:${otherPort}/`)).text, 'site gamma');
    assert.equal((await get(`http://127.0.0.1:${httpPort}/`, { headers: { host: 'alpha.test' } })).text, 'site alpha');

    await writeFile(path.join(server.home, 'persona.yaml'), added.replace('physicalPath:', 'physicalPth:'));
    const refused = persona(['--home', server.home, 'reload']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /persona\.yaml:\d+:\d+: .*physicalPth/);
    // SIGHUP directly (bypassing the CLI's own check): the server refuses and keeps serving.
    process.kill(server.child.pid!, 'SIGHUP');
    await server.waitForOutput(/reload refused, still serving the previous configuration/);
    assert.equal((await get(`http://127.0.0.1:${otherPort}/`)).text, 'site gamma');
  });

  test('persona reload with no running server exits 3', async () => {
    const empty = await tempDir('noserver');
    await writeFile(path.join(empty, 'persona.yaml'), config());
    const r = persona(['--home', empty, 'reload']);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /no running server/);
  });
});
