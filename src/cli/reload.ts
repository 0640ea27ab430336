/**
 * `persona reload`: validate first (so a typo is reported here, with positions, and the server is not bothered),
 * then SIGHUP the running server and wait for it to report the outcome in its status file.
 */
import { readFile, stat } from 'node:fs/promises';
import { loadConfigFile, formatProblems } from '../config/load.js';
import { Exit } from './exit-codes.js';
import { layoutFrom, type GlobalOptions } from './options.js';

interface Status {
  readonly pid: number;
  readonly reloads: number;
  readonly lastReload?: { readonly ok: boolean; readonly at: string; readonly problems?: string };
}

async function readStatus(file: string): Promise<Status | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Status;
  } catch {
    return undefined;
  }
}

export async function reloadCommand(options: GlobalOptions): Promise<number> {
  const layout = layoutFrom(options);
  const loaded = await loadConfigFile(layout.configFile);
  if ('problems' in loaded) {
    console.error(formatProblems(loaded.problems));
    console.error('persona: not reloading; the running server keeps its configuration');
    return Exit.FAILURE;
  }
  let pid: number;
  try {
    pid = Number((await readFile(layout.pidFile, 'utf8')).trim());
    process.kill(pid, 0);
  } catch {
    console.error(`persona: no running server for ${layout.home} (no live process in ${layout.pidFile})`);
    return Exit.NOT_RUNNING;
  }
  const before = (await readStatus(layout.statusFile))?.reloads ?? 0;
  process.kill(pid, 'SIGHUP');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const status = await readStatus(layout.statusFile);
    if (status && status.reloads > before && status.lastReload) {
      if (status.lastReload.ok) {
        console.log(`persona: server ${pid} reloaded ${layout.configFile}`);
        return Exit.OK;
      }
      console.error(`persona: server ${pid} refused the configuration and keeps the previous one:\n${status.lastReload.problems ?? ''}`);
      return Exit.FAILURE;
    }
  }
  const exists = await stat(layout.statusFile).then(() => true, () => false);
  console.error(`persona: server ${pid} did not confirm the reload within 10 s${exists ? '' : ' (no status file)'}`);
  return Exit.FAILURE;
}
