/**
 * `persona audit tail [-n N] [-f] [--json]`: the last events of the security audit log, then new ones as they come.
 * The file is the configuration's `server.security.auditLog`, else <logs>/audit.log, so the command reads what the
 * server writes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { compileConfig } from '../config/compile.js';
import { formatProblems, loadConfigFile } from '../config/load.js';
import { formatAuditEvent, tailAudit } from '../security/audit.js';
import { Exit } from './exit-codes.js';
import { layoutFrom, type GlobalOptions } from './options.js';

/** Where the server writes its audit log for these options, or the configuration's problems. */
export async function auditLogFile(opts: GlobalOptions): Promise<{ file: string } | { problems: string }> {
  const layout = layoutFrom(opts);
  // No configuration yet (a home never started): the server would use the default too.
  if (!existsSync(layout.configFile)) return { file: path.join(layout.logDirectory, 'audit.log') };
  const loaded = await loadConfigFile(layout.configFile);
  if ('problems' in loaded) return { problems: formatProblems(loaded.problems) };
  return { file: compileConfig(loaded, layout.logDirectory).server.auditLog };
}

export async function auditTailCommand(opts: { home?: string; config?: string }, args: { lines: number; follow: boolean; json: boolean }): Promise<number> {
  if (!Number.isInteger(args.lines) || args.lines < 0) {
    console.error(`persona: -n takes a whole number of events (0 or more), not ${String(args.lines)}`);
    return Exit.USAGE;
  }
  const where = await auditLogFile(opts);
  if ('problems' in where) {
    // Guessing the default here could show a different file than the server writes: say why instead.
    console.error(where.problems);
    console.error('persona: cannot tell where the audit log is until the configuration is valid');
    return Exit.FAILURE;
  }
  if (!args.follow && !existsSync(where.file)) {
    console.error(`persona: no audit log yet at ${where.file} (no logon has been attempted)`);
    return Exit.OK;
  }
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // `persona audit tail -f | head`: the reader going away ends the command quietly, like tail(1).
  const onOutputError = (): void => abort.abort();
  process.stdout.on('error', onOutputError);
  try {
    for await (const event of tailAudit(where.file, { lines: args.lines, follow: args.follow, signal: abort.signal })) {
      if (abort.signal.aborted) break;
      process.stdout.write((args.json ? JSON.stringify(event) : formatAuditEvent(event)) + '\n');
    }
  } catch (error) {
    console.error(`persona: cannot read the audit log ${where.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return Exit.FAILURE;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    process.stdout.removeListener('error', onOutputError);
  }
  return Exit.OK;
}
