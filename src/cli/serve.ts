/**
 * `persona serve`: prepare the state folder (first run creates configuration, machine identity, logs and the demo
 * site), start the server, and handle signals: SIGHUP reloads, SIGTERM/SIGINT stop gracefully.
 */
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { openSecurity } from '../security/services.js';
import { initDemoSecurity } from '../state/security-init.js';
import { demoPort } from '../state/default-config.js';
import { createOperationalLog, flushOperationalLog } from '../logging/operational.js';
import { ConfigError, PersonaServer } from '../server/server.js';
import { ensureHome, writeRunFile } from '../state/home.js';
import { processIdentity } from '../filters/host.js';
import { VERSION } from '../version.js';
import { currentAccountSpawner } from '../identity/current-account-spawner.js';
import { forkerSpawner } from '../identity/forker-spawner.js';
import { bindThroughLauncher, secretsFromLauncher } from '../server/launcher-protocol.js';
import { provideSecretFiles } from '../state/secret-files.js';
import { PoolRouting } from '../server/pool-forwarding.js';
import { launcherCommand, firstRunLinesFromLauncher } from './launcher.js';
import { Exit } from './exit-codes.js';
import { layoutFrom, type GlobalOptions } from './options.js';

/**
 * Under a launcher: the front worker (DefaultAppPool) gets its sockets from the launcher and forwards other pools'
 * requests; another pool's worker only listens on its Unix socket for what the front forwards.
 */
function poolOptions(worker: boolean): { bindListener?: ReturnType<typeof bindThroughLauncher>; poolRouting?: PoolRouting; forwarded?: { socketPath: string; key: Buffer } } {
  if (!worker) return {};
  const pool = process.env.PERSONA_POOL ?? 'DefaultAppPool';
  const sockets = JSON.parse(process.env.PERSONA_POOL_SOCKETS ?? '{}') as Record<string, string>;
  const key = Buffer.from(process.env.PERSONA_FORWARD_KEY ?? '', 'hex');
  const own = Object.entries(sockets).find(([name]) => name.toLowerCase() === pool.toLowerCase());
  if (own) return { forwarded: { socketPath: own[1], key } };
  return { bindListener: bindThroughLauncher(), ...(Object.keys(sockets).length > 0 && { poolRouting: new PoolRouting(pool, sockets, key) }) };
}

export async function serveCommand(options: GlobalOptions): Promise<number> {
  const worker = process.env.PERSONA_WORKER === '1' && typeof process.send === 'function';
  // As root, `serve` is the launcher: it serves no request itself (MODEL.md §8).
  if (process.getuid?.() === 0 && !worker) return launcherCommand(options);
  if (worker) {
    // Files the worker creates (logs, -wal/-shm) stay usable by the launcher, the CLI and the next worker.
    process.umask(0o007);
    // Without its launcher a worker has no forker and no sockets to reopen: it goes too.
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
  const layout = layoutFrom(options);
  const state = await ensureHome(layout);
  const log = createOperationalLog({ level: process.env.PERSONA_LOG_LEVEL ?? 'info', file: path.join(layout.logDirectory, 'persona.log') });
  const identity = processIdentity();
  const forkerSocket = process.env.PERSONA_FORKER_SOCKET;
  const spawner =
    worker && forkerSocket
      ? forkerSpawner({ canSwitchAccounts: true, processAccount: identity.userName, reason: "Persona's launcher runs as root: this pool's forker starts processes as their OS accounts (uid, gid and supplementary groups)" }, forkerSocket)
      : currentAccountSpawner();
  const securityLines: string[] = worker ? firstRunLinesFromLauncher() : [];
  if (worker) provideSecretFiles(await secretsFromLauncher());
  let server: PersonaServer;
  try {
    server = await PersonaServer.start({
      configFile: layout.configFile,
      logDirectory: layout.logDirectory,
      log,
      spawner,
      ...poolOptions(worker),
      openSecurity: (config) => {
        const databaseFile = config.server.accountsDatabase ?? path.join(layout.home, 'accounts.db');
        const security = openSecurity({ databaseFile, machine: state.machine, auditFile: config.server.auditLog, tokenTtlMs: config.server.userTokenTtlMs, processUser: identity.userName, passwordHash: config.server.passwordHash, digestKey: state.digestKey });
        if (security.created) securityLines.push(`account store ${databaseFile} (root ACL: Administrators and SYSTEM full control, Users read & execute)`);
        return security;
      },
    });
  } catch (err) {
    const message = err instanceof ConfigError ? `${err.message}\npersona: the configuration is invalid; not starting` : `persona: ${(err as Error).message}`;
    console.error(message);
    log.fatal({ err: (err as Error).message }, 'start failed');
    flushOperationalLog(log);
    return Exit.FAILURE;
  }

  let reloads = 0;
  let lastReload: { ok: boolean; at: string; problems?: string } | undefined;
  const writeStatus = () =>
    writeRunFile(layout.statusFile, JSON.stringify({ pid: process.pid, version: VERSION, startedAt, reloads, lastReload, listeners: server.listenerKeys }, null, 2));
  const startedAt = new Date().toISOString();
  // Under a launcher, the pid file holds the launcher's pid: signals go to it, and it forwards them.
  if (!worker) await writeRunFile(layout.pidFile, `${process.pid}\n`);
  const poolWorker = worker && poolOptions(true).forwarded !== undefined;
  // The status file is the front's (`persona reload` reads it); a pool worker only says it is ready.
  if (!poolWorker) await writeStatus();
  if (worker) process.send?.({ persona: 'launcher', type: 'ready' });
  if (poolWorker) {
    console.log(`Persona pool worker for ${process.env.PERSONA_POOL} ready (pid ${process.pid}, process identity ${identity.userName} uid=${identity.uid} gid=${identity.gid})`);
  }

  if (!worker && state.created.some((c) => c.startsWith('demo site'))) {
    const demoSite = server.config.sites.find((s) => s.name === 'Demo');
    securityLines.push(...(await initDemoSecurity(server.securityServices.store, layout.demoRoot, demoSite?.bindings[0]?.port ?? demoPort())));
  }
  const lines = poolWorker ? [] : [`Persona ${VERSION} started (pid ${process.pid}, process identity ${identity.userName} uid=${identity.uid} gid=${identity.gid})`];
  if (!poolWorker) {
    if (state.created.length || securityLines.length) lines.push('First run — created:', ...[...state.created, ...securityLines].map((c) => `  ${c}`));
    lines.push(
      `  configuration   ${layout.configFile}`,
      `  machine         ${state.machine.machineName} (${state.machine.machineSid})`,
      `  OS identities   ${spawner.capability.canSwitchAccounts ? 'CGI can run as other OS accounts' : 'switching unavailable'}: ${spawner.capability.reason}`,
      `  logs            ${server.config.server.logDirectory} (W3C: W3SVC<site id>/, operational: ${path.join(layout.logDirectory, 'persona.log')})`,
    );
    for (const site of server.config.sites) {
      for (const b of site.bindings) {
        const host = b.host || (b.ip === '*' ? 'localhost' : b.ip.includes(':') ? `[${b.ip}]` : b.ip);
        lines.push(`  site "${site.name}"  ${b.protocol}://${host}:${b.port}/`);
      }
    }
    lines.push('  reload: persona reload (or kill -HUP ' + process.pid + '); stop: Ctrl-C');
    console.log(lines.join('\n'));
  }
  log.info({ listeners: server.listenerKeys, home: layout.home, osIdentitySwitching: spawner.capability.canSwitchAccounts, reason: spawner.capability.reason }, 'started');

  process.on('SIGHUP', () => {
    void (worker ? secretsFromLauncher().then(provideSecretFiles) : Promise.resolve())
      .then(() => server.reload())
      .then(async (result) => {
      reloads++;
      lastReload = result.ok ? { ok: true, at: new Date().toISOString() } : { ok: false, at: new Date().toISOString(), problems: result.problems };
      if (!poolWorker) console.log(result.ok ? 'persona: configuration reloaded' : `persona: reload refused, still serving the previous configuration:\n${result.problems}`);
      if (!poolWorker) await writeStatus();
    });
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      void server.stop().then(async () => {
        if (!worker) await rm(layout.pidFile, { force: true });
        flushOperationalLog(log);
        resolve(Exit.OK);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
