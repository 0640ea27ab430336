/** Persona itself, started the way an operator would: `persona serve` with a one-site configuration. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BASIC_FOLDER, CGI_FOLDER, DIGEST_FOLDER, MODULE_URL, NTLM_FOLDER } from './cases.js';
import { freePort } from './ports.js';
import { startTracked } from './processes.js';
import type { BenchEnv, ServerDef } from './servers.js';

const mainJs = (env: BenchEnv): string => join(env.distDir, 'src', 'cli', 'main.js');

/**
 * The Basic case's folder: anonymous off, Basic on. Plain HTTP is accepted because the client is on loopback.
 * Everything else (token cache TTL, logon method) stays at its default, as an operator would leave it.
 */
const basicLocation = [
  `      - path: ${BASIC_FOLDER}`,
  '        settings:',
  '          authentication: { anonymous: { enabled: false }, basic: { enabled: true, realm: bench } }',
];

/**
 * The NTLM cases' folder: anonymous off, NTLM on (everything else at its defaults: NTLMv2 only, no Extended
 * Protection on plain HTTP, the logon kept for the connection's later requests as on IIS).
 */
const ntlmLocation = [
  `      - path: ${NTLM_FOLDER}`,
  '        settings:',
  '          authentication: { anonymous: { enabled: false }, ntlm: { enabled: true } }',
];

/**
 * The Digest case's folder: anonymous off, Digest on at its defaults (SHA-256 and MD5 offered, qop auth, nonces
 * valid 300 s, realm = the machine name, which the store keeps verifiers for).
 */
const digestLocation = [
  `      - path: ${DIGEST_FOLDER}`,
  '        settings:',
  '          authentication: { anonymous: { enabled: false }, digest: { enabled: true } }',
];

/**
 * The CGI case's folder: execute access and the `*.cgi` mapping, nothing else. Anonymous, so the script runs as the
 * OS account IUSR maps to (nobody) with cgi.createProcessAsUser at its default (true), as IIS runs a CGI as the
 * request's user. As root that is the real path: the worker (www-data) asks its pool's forker (root) over a Unix
 * socket, which forks, switches to nobody and execs the script with the worker's connections as its stdin and stdout.
 */
const cgiLocation = [
  `      - path: ${CGI_FOLDER}`,
  '        settings:',
  '          accessFlags: [read, execute]',
  '          handlers: [{ name: CGI-sh, path: "*.cgi", kind: cgi }]',
];

/**
 * The module case's URL: a JS handler module (resourceType Unspecified: no file behind the URL), with script
 * access as a module needs; identity at its default (impersonating the request token, IUSR).
 */
function moduleLocation(module: string): string[] {
  const folder = MODULE_URL.slice(0, MODULE_URL.lastIndexOf('/'));
  const name = MODULE_URL.slice(MODULE_URL.lastIndexOf('/') + 1);
  return [
    `      - path: ${folder}`,
    '        settings:',
    '          accessFlags: [read, script]',
    `          handlers: [{ name: JsHello, path: ${name}, kind: module, resourceType: Unspecified, module: ${JSON.stringify(module)} }]`,
  ];
}

/**
 * One `persona` administration command against the run's home and configuration, before the server starts, as an
 * operator runs it. `input` goes to stdin (a password: never on the command line).
 */
function admin(env: BenchEnv, home: string, config: string, args: readonly string[], input = ''): void {
  const r = spawnSync(process.execPath, [mainJs(env), '--home', home, '--config', config, ...args], { input, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    const said = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    throw new Error(`persona ${args.join(' ')} failed (exit ${r.status ?? r.signal ?? r.error?.message}): ${said}`);
  }
}

/**
 * The web root's ACL and the accounts of the Basic and NTLM cases. The ACL written at init grants Users and
 * Administrators, not the anonymous account, so IUSR gets read on the web root as an IIS operator grants it on
 * wwwroot; without it every anonymous case answers 401.3. The accounts are plain local users: `user add` puts them in Users, which may read.
 */
function prepare(env: BenchEnv, home: string, config: string): void {
  admin(env, home, config, ['acl', 'grant', env.www, 'IUSR:(OI)(CI)RX']);
  if (env.basic) admin(env, home, config, ['user', 'add', env.basic.user], `${env.basic.password}\n`);
  // --ntlm stores the NT hash next to the password verifier: an NTLM logon can only check a proof against it
  if (env.ntlm) admin(env, home, config, ['user', 'add', env.ntlm.user, '--ntlm'], `${env.ntlm.password}\n`);
  // --digest stores H(user:realm:password) for the store's realms (the machine name): what a Digest response is checked with
  if (env.digest) admin(env, home, config, ['user', 'add', env.digest.user, '--digest'], `${env.digest.password}\n`);
}

export const persona: ServerDef = {
  id: 'persona',
  label: 'Persona',
  unavailable: (env) => (existsSync(mainJs(env)) ? null : `${mainJs(env)} does not exist yet (the server is not built)`),
  version(env) {
    try {
      const v = execFileSync(process.execPath, [mainJs(env), 'version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
      return /persona (\S+)/.exec(v)?.[1] ?? null;
    } catch {
      return null;
    }
  },
  async start(env) {
    const port = await freePort();
    const home = join(env.tmp, 'home');
    mkdirSync(home, { recursive: true });
    const config = join(env.tmp, 'persona.yaml');
    // JSON strings are valid YAML scalars, which keeps odd characters in temp paths harmless.
    writeFileSync(
      config,
      [
        'sites:',
        '  - name: bench',
        `    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]`,
        `    physicalPath: ${JSON.stringify(env.www)}`,
        ...(env.basic || env.ntlm || env.digest || env.cgi || env.module ? ['    locations:'] : []),
        ...(env.basic ? basicLocation : []),
        ...(env.ntlm ? ntlmLocation : []),
        ...(env.digest ? digestLocation : []),
        ...(env.cgi ? cgiLocation : []),
        ...(env.module ? moduleLocation(env.module) : []),
        '',
      ].join('\n'),
    );
    // Once per run: a second start on the same home (the interleaved measurement) finds the accounts and ACLs made.
    const prepared = join(env.tmp, 'persona-prepared');
    if (!existsSync(prepared)) {
      prepare(env, home, config);
      writeFileSync(prepared, '');
    }
    const log = join(env.tmp, 'persona-stdout.log');
    const proc = await startTracked('persona', process.execPath, [mainJs(env), 'serve', '--home', home, '--config', config], { log });
    return { port, proc, logs: [log] };
  },
};
