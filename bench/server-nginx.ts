/**
 * nginx from Debian with a private configuration: its usual production shape for static files (worker per core,
 * sendfile, access log), but every file it writes (pid, logs, temp folders) inside the run's folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASIC_FOLDER, type Credentials } from './cases.js';
import { freePort } from './ports.js';
import { startTracked } from './processes.js';
import type { ServerDef } from './servers.js';
import { commandOutput, findExecutable } from './system.js';

/**
 * The user file of auth_basic, as an operator makes it with apache2-utils: bcrypt at cost 10, the cost the issue
 * names (htpasswd's own default for -B is 5). -i reads the password from stdin, so it is never on a command line.
 */
function writeHtpasswd(file: string, c: Credentials): void {
  const bin = findExecutable('htpasswd');
  if (!bin) throw new Error('htpasswd is not installed (apache2-utils; scripts/ensure-system-packages.sh bench)');
  const r = spawnSync(bin, ['-c', '-i', '-B', '-C', '10', file, c.user], { input: c.password, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`htpasswd failed (exit ${r.status ?? r.signal}): ${(r.stderr ?? '').trim()}`);
}

export const nginx: ServerDef = {
  id: 'nginx',
  label: 'nginx',
  unavailable(env) {
    if (!findExecutable('nginx')) return 'nginx is not installed (scripts/ensure-system-packages.sh bench)';
    if (env.basic && !findExecutable('htpasswd')) return 'htpasswd is not installed (apache2-utils; scripts/ensure-system-packages.sh bench)';
    return null;
  },
  version() {
    const bin = findExecutable('nginx');
    if (!bin) return null;
    return /nginx version: nginx\/(\S+)/.exec(commandOutput(bin, ['-v']))?.[1] ?? null;
  },
  async start(env) {
    const bin = findExecutable('nginx')!;
    const dir = join(env.tmp, 'nginx');
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    // Each compiled-in temp path defaults to /var/lib/nginx; redirect exactly the ones this build has.
    const temps = [...commandOutput(bin, ['-V']).matchAll(/--http-([\w-]+)-temp-path=/g)]
      .map((m) => (m[1] ?? '').replaceAll('-', '_'))
      .map((name) => `  ${name}_temp_path ${join(dir, `${name}_temp`)};`);
    const conf = join(dir, 'nginx.conf');
    const errorLog = join(dir, 'error.log');
    const accessLog = join(dir, 'access.log');
    const htpasswd = join(dir, 'htpasswd');
    // Workers (www-data when root) read the user file on each request; it holds only a bcrypt hash.
    if (env.basic) writeHtpasswd(htpasswd, env.basic);
    const basicLocation = env.basic
      ? [`    location ${BASIC_FOLDER}/ {`, '      auth_basic "bench";', `      auth_basic_user_file ${htpasswd};`, '    }']
      : [];
    writeFileSync(
      conf,
      [
        // as root the master keeps root and the workers drop to www-data, as Debian runs it
        env.isRoot ? 'user www-data;' : '',
        'worker_processes auto;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${errorLog} warn;`,
        'events { worker_connections 1024; }',
        'http {',
        '  include /etc/nginx/mime.types;',
        '  default_type application/octet-stream;',
        '  sendfile on;',
        '  tcp_nopush on;',
        '  keepalive_timeout 65;',
        // default 1000; no limit in effect, as with node:http and IIS (see the Apache note)
        '  keepalive_requests 1000000000;',
        `  access_log ${accessLog} combined;`,
        ...temps,
        '  server {',
        `    listen 127.0.0.1:${port};`,
        '    server_name _;',
        `    root ${env.www};`,
        ...basicLocation,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const log = join(dir, 'stdout.log');
    // -e: the log nginx uses before it has read the configuration (else /var/log/nginx/error.log)
    const proc = await startTracked('nginx', bin, ['-p', `${dir}/`, '-e', errorLog, '-c', conf, '-g', 'daemon off;'], { log });
    return { port, proc, logs: [log, errorLog, accessLog] };
  },
};

