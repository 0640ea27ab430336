/**
 * `persona serve` as root: the launcher's start-up (server/launcher.ts does the supervising). It prepares the state
 * folder (first run: configuration, machine identity, account store, demo accounts and ACLs — all as root, before
 * any worker exists), refuses an invalid configuration, shares the state with the `persona` group, and starts one
 * worker per application pool in use, each as its pool's account (the other pools first, then DefaultAppPool's
 * front). The front prints the usual start-up lines, including the first-run ones handed over in PERSONA_FIRST_RUN.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, formatProblems } from '../config/load.js';
import { compileConfig, findPool, type ApplicationPool } from '../config/compile.js';
import { createOperationalLog, flushOperationalLog } from '../logging/operational.js';
import { closeSecurity, openSecurity } from '../security/services.js';
import { Launcher } from '../server/launcher.js';
import { demoPort } from '../state/default-config.js';
import { ensureHome, writeRunFile } from '../state/home.js';
import { initDemoSecurity } from '../state/security-init.js';
import { ensureStateGroup, shareStateWithWorkers } from '../state/shared-state.js';
import { Exit } from './exit-codes.js';
import { layoutFrom, type GlobalOptions } from './options.js';

const FIRST_RUN_ENV = 'PERSONA_FIRST_RUN';

/** The first-run lines the launcher prepared, for the worker to print with its own. */
export function firstRunLinesFromLauncher(): string[] {
  try {
    const lines = JSON.parse(process.env[FIRST_RUN_ENV] ?? '[]') as unknown;
    return Array.isArray(lines) ? lines.filter((l): l is string => typeof l === 'string') : [];
  } catch {
    return [];
  }
}

export async function launcherCommand(options: GlobalOptions): Promise<number> {
  const layout = layoutFrom(options);
  const state = await ensureHome(layout);
  const log = createOperationalLog({ level: process.env.PERSONA_LOG_LEVEL ?? 'info', file: path.join(layout.logDirectory, 'persona.log') });
  const loaded = await loadConfigFile(layout.configFile);
  if ('problems' in loaded) {
    console.error(`${formatProblems(loaded.problems)}\npersona: the configuration is invalid; not starting`);
    flushOperationalLog(log);
    return Exit.FAILURE;
  }
  const config = compileConfig(loaded, layout.logDirectory);
  const databaseFile = config.server.accountsDatabase ?? path.join(layout.home, 'accounts.db');

  // The account store is made (and the demo's accounts and ACLs written) here, as root, before any worker runs.
  const firstRun = [...state.created];
  const security = openSecurity({ databaseFile, machine: state.machine, auditFile: config.server.auditLog, tokenTtlMs: 0, processUser: 'root', passwordHash: config.server.passwordHash });
  try {
    if (security.created) firstRun.push(`account store ${databaseFile} (root ACL: Administrators and SYSTEM full control, Users read & execute)`);
    if (state.created.some((c) => c.startsWith('demo site'))) {
      const demoSite = config.sites.find((s) => s.name === 'Demo');
      firstRun.push(...(await initDemoSecurity(security.store, layout.demoRoot, demoSite?.bindings[0]?.port ?? demoPort())));
    }
  } finally {
    await closeSecurity(security);
  }

  const gid = await ensureStateGroup();
  await shareStateWithWorkers(
    {
      home: layout.home,
      configFile: layout.configFile,
      machineFile: layout.machineFile,
      digestKeyFile: layout.digestKeyFile,
      logDirectory: layout.logDirectory,
      runDirectory: layout.runDirectory,
      accountsDatabase: databaseFile,
      auditLog: config.server.auditLog,
    },
    gid,
  );

  // One worker per application pool in use (MODEL.md §8): DefaultAppPool's is the front (it owns the sockets and
  // forwards other pools' requests to their workers over Unix sockets in the run folder).
  const used = new Map<string, ApplicationPool>();
  const front = findPool(config.server, 'DefaultAppPool')!;
  used.set(front.name.toLowerCase(), front);
  for (const site of config.sites) {
    for (const app of site.applications) {
      const pool = findPool(config.server, app.applicationPool);
      if (pool) used.set(pool.name.toLowerCase(), pool);
    }
  }
  const pools = [...used.values()];
  const sockets: Record<string, string> = Object.fromEntries(pools.slice(1).map((pool, i) => [pool.name, path.join(layout.runDirectory, `pool-${i + 1}.sock`)]));
  const forwardKey = randomBytes(32).toString('hex');
  const cli = fileURLToPath(new URL('./main.js', import.meta.url));
  const launchers = pools.map(
    (pool, index) =>
      new Launcher(
        {
          pool: pool.name,
          account: pool.identity,
          replaceProcessToken: pool.replaceProcessToken,
          stateGid: gid,
          argv: [process.execPath, ...process.execArgv, cli, ...process.argv.slice(2)],
          env: {
            ...process.env,
            // Only the front prints the start-up lines (first run included) the user reads.
            [FIRST_RUN_ENV]: JSON.stringify(pool === front ? firstRun : []),
            PERSONA_POOL: pool.name,
            PERSONA_POOL_SOCKETS: JSON.stringify(sockets),
            PERSONA_FORWARD_KEY: forwardKey,
          },
          configFile: layout.configFile,
          mayBind: pool === front,
          forkerSocket: path.join(layout.runDirectory, `forker-${index}.sock`),
        },
        log,
      ),
  );
  try {
    // The other pools first: the front accepts requests as soon as it is up, and forwards some to them.
    for (const launcher of [...launchers.slice(1), launchers[0]!]) await launcher.start();
  } catch (err) {
    console.error(`persona: ${(err as Error).message}`);
    log.fatal({ err: (err as Error).message }, 'launcher could not start the workers');
    for (const launcher of launchers) launcher.signal('SIGTERM');
    await Promise.all(launchers.map((l) => l.done));
    flushOperationalLog(log);
    return Exit.FAILURE;
  }
  await writeRunFile(layout.pidFile, `${process.pid}\n`);
  log.info({ pools: pools.map((p) => `${p.name} as ${p.identity}`), pid: process.pid }, 'launcher started; the workers serve requests');
  const forward = (signal: NodeJS.Signals) => () => launchers.forEach((l) => l.signal(signal));
  process.on('SIGHUP', forward('SIGHUP'));
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGINT', forward('SIGINT'));
  // A worker that cannot be kept running ends the launcher; the others are stopped with it.
  const first = await Promise.race(launchers.map((l) => l.done));
  for (const launcher of launchers) launcher.signal('SIGTERM');
  const codes = await Promise.all(launchers.map((l) => l.done));
  await rm(layout.pidFile, { force: true });
  flushOperationalLog(log);
  return first !== 0 ? first : Math.max(...codes);
}
