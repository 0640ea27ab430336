/**
 * `persona serve` as root: the launcher's start-up (server/launcher.ts does the supervising). It prepares the state
 * folder (first run: configuration, machine identity, account store, demo accounts and ACLs — all as root, before
 * any worker exists), refuses an invalid configuration, shares the state with the `persona` group, and starts the
 * worker as DefaultAppPool's account. The worker prints the usual start-up lines, including the first-run ones
 * handed over in PERSONA_FIRST_RUN.
 */
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, formatProblems } from '../config/load.js';
import { compileConfig, findPool } from '../config/compile.js';
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
      logDirectory: layout.logDirectory,
      runDirectory: layout.runDirectory,
      accountsDatabase: databaseFile,
      auditLog: config.server.auditLog,
    },
    gid,
  );

  const pool = findPool(config.server, 'DefaultAppPool')!;
  const cli = fileURLToPath(new URL('./main.js', import.meta.url));
  const launcher = new Launcher(
    {
      pool: pool.name,
      account: pool.identity,
      replaceProcessToken: pool.replaceProcessToken,
      stateGid: gid,
      argv: [process.execPath, ...process.execArgv, cli, ...process.argv.slice(2)],
      env: { ...process.env, [FIRST_RUN_ENV]: JSON.stringify(firstRun) },
      configFile: layout.configFile,
    },
    log,
  );
  try {
    await launcher.start();
  } catch (err) {
    console.error(`persona: ${(err as Error).message}`);
    log.fatal({ err: (err as Error).message }, 'launcher could not start the worker');
    flushOperationalLog(log);
    return Exit.FAILURE;
  }
  await writeRunFile(layout.pidFile, `${process.pid}\n`);
  log.info({ pool: pool.name, account: pool.identity, pid: process.pid }, 'launcher started; the worker serves requests');
  process.on('SIGHUP', () => launcher.signal('SIGHUP'));
  process.on('SIGTERM', () => launcher.signal('SIGTERM'));
  process.on('SIGINT', () => launcher.signal('SIGINT'));
  const code = await launcher.done;
  await rm(layout.pidFile, { force: true });
  flushOperationalLog(log);
  return code;
}
