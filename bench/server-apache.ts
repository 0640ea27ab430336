/**
 * Apache httpd from Debian with the event MPM and a private configuration: only the modules a static site needs,
 * Debian's mpm_event sizing, an access log, and every file it writes inside the run's folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CGI_FOLDER } from './cases.js';
import { freePort } from './ports.js';
import { startTracked } from './processes.js';
import type { ServerDef } from './servers.js';
import { commandOutput, findExecutable } from './system.js';

const MODULES = '/usr/lib/apache2/modules';

/**
 * Two configurations: `apache` as Debian ships it (MaxKeepAliveRequests 100, sendfile off — what a user gets, and
 * what the 19k req/s figure was measured with), and `apache-tuned` with keep-alive limits lifted and
 * sendfile on (Apache at its best on this case). Both are reported; neither is hidden.
 */
function apacheServer(tuned: boolean): ServerDef {
  return {
  id: tuned ? 'apache-tuned' : 'apache',
  label: tuned ? 'Apache (tuned)' : 'Apache',
  unavailable: () => (findExecutable('apache2') ? null : 'apache2 is not installed (scripts/ensure-system-packages.sh bench)'),
  version() {
    const bin = findExecutable('apache2');
    if (!bin) return null;
    return /Server version: Apache\/(\S+)/.exec(commandOutput(bin, ['-v']))?.[1] ?? null;
  },
  async start(env) {
    const bin = findExecutable('apache2')!;
    const dir = join(env.tmp, tuned ? 'apache-tuned' : 'apache');
    mkdirSync(join(dir, 'run'), { recursive: true });
    const port = await freePort();
    const conf = join(dir, 'httpd.conf');
    const errorLog = join(dir, 'error.log');
    const accessLog = join(dir, 'access.log');
    const q = (s: string): string => JSON.stringify(s);
    writeFileSync(
      conf,
      [
        `ServerRoot ${q(dir)}`,
        'ServerName 127.0.0.1',
        `Listen 127.0.0.1:${port}`,
        `PidFile ${q(join(dir, 'httpd.pid'))}`,
        `DefaultRuntimeDir ${q(join(dir, 'run'))}`,
        `ErrorLog ${q(errorLog)}`,
        'LogLevel warn',
        `LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so`,
        `LoadModule authz_core_module ${MODULES}/mod_authz_core.so`,
        `LoadModule mime_module ${MODULES}/mod_mime.so`,
        // CGI: mod_cgid, since the threaded event MPM cannot fork from its workers (Debian enables cgid with event);
        // its daemon forks each script and runs it as the User below (www-data), there is no suexec
        ...(env.cgi ? [`LoadModule cgid_module ${MODULES}/mod_cgid.so`, `ScriptSock ${q(join(dir, 'run', 'cgid.sock'))}`] : []),
        // as root the parent keeps root and the children drop to www-data, as Debian runs it
        ...(env.isRoot ? ['User www-data', 'Group www-data'] : []),
        // Debian's mods-available/mpm_event.conf
        'StartServers 2',
        'MinSpareThreads 25',
        'MaxSpareThreads 75',
        'ThreadLimit 64',
        'ThreadsPerChild 25',
        'MaxRequestWorkers 150',
        'MaxConnectionsPerChild 0',
        'KeepAlive On',
        // Debian's apache2.conf says 100; tuned: unlimited, as node:http and IIS are, so that the keep-alive cases
        // measure reused connections rather than Apache's periodic reconnects (which wrk counts as read errors).
        `MaxKeepAliveRequests ${tuned ? 0 : 100}`,
        'KeepAliveTimeout 5',
        // Off by default in httpd (and not set by Debian); tuned: on, so Apache serves from the page cache as nginx does
        `EnableSendfile ${tuned ? 'On' : 'Off'}`,
        'TypesConfig /etc/mime.types',
        `DocumentRoot ${q(env.www)}`,
        '<Directory />',
        '  AllowOverride None',
        '  Require all denied',
        '</Directory>',
        `<Directory ${q(env.www)}>`,
        '  Options None',
        '  AllowOverride None',
        '  Require all granted',
        '</Directory>',
        ...(env.cgi ? [`<Directory ${q(env.www + CGI_FOLDER)}>`, '  Options +ExecCGI', '  AddHandler cgi-script .cgi', '</Directory>'] : []),
        'LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined',
        `CustomLog ${q(accessLog)} combined`,
        '',
      ].join('\n'),
    );
    const log = join(dir, 'stdout.log');
    const proc = await startTracked('apache', bin, ['-d', dir, '-f', conf, '-DFOREGROUND'], { log });
    return { port, proc, logs: [log, errorLog, accessLog] };
  },
  };
}

export const apache = apacheServer(false);
export const apacheTuned = apacheServer(true);
