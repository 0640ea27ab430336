/** `persona explain URL`: which identity runs my code, and why (src/explain/). */
import os from 'node:os';
import { compileConfig } from '../config/compile.js';
import { formatProblems, loadConfigFile } from '../config/load.js';
import { explain } from '../explain/explain.js';
import type { ExplainScheme } from '../explain/model.js';
import { renderExplanation } from '../explain/render.js';
import { closeSecurity, openSecurity } from '../security/services.js';
import { ensureMachineIdentity } from '../state/machine.js';
import { Exit } from './exit-codes.js';
import { layoutFrom, type GlobalOptions } from './options.js';
import { storeSettingsFor } from './store-access.js';

export interface ExplainOptions {
  readonly as?: string;
  readonly anonymous?: boolean;
  readonly scheme?: string;
  readonly method?: string;
  readonly json?: boolean;
}

const SCHEMES: readonly ExplainScheme[] = ['anonymous', 'basic', 'ntlm', 'digest', 'negotiate', 'cert'];

export async function explainCommand(options: GlobalOptions, url: string, opts: ExplainOptions): Promise<number> {
  if (opts.as !== undefined && opts.anonymous) {
    console.error('persona: --as and --anonymous exclude each other');
    return Exit.USAGE;
  }
  const scheme = opts.scheme?.toLowerCase();
  if (scheme !== undefined && !SCHEMES.includes(scheme as ExplainScheme)) {
    console.error(`persona: unknown scheme "${opts.scheme}" (one of ${SCHEMES.join(', ')})`);
    return Exit.USAGE;
  }
  if (scheme !== undefined && scheme !== 'anonymous' && opts.as === undefined) {
    console.error(`persona: --scheme ${scheme} needs --as USER`);
    return Exit.USAGE;
  }
  const layout = layoutFrom(options);
  const loaded = await loadConfigFile(layout.configFile);
  if ('problems' in loaded) {
    console.error(formatProblems(loaded.problems));
    return Exit.FAILURE;
  }
  const config = compileConfig(loaded, layout.logDirectory);
  const { identity: machine } = await ensureMachineIdentity(layout.machineFile);
  const { file } = await storeSettingsFor(options);
  const self = os.userInfo().username;
  // No audit file is written: explaining is not a logon.
  const security = openSecurity({ databaseFile: file, machine, auditFile: '/dev/null', tokenTtlMs: 0, processUser: self });
  try {
    const result = await explain(
      { url, method: (opts.method ?? 'GET').toUpperCase(), user: opts.anonymous ? undefined : opts.as, scheme: scheme as ExplainScheme | undefined },
      { config, security, canSwitchAccounts: process.getuid?.() === 0, selfAccount: self },
    );
    if ('error' in result) {
      console.error(`persona: ${result.error}`);
      return Exit.FAILURE;
    }
    console.log(opts.json ? JSON.stringify(result, null, 2) : renderExplanation(result));
    return Exit.OK;
  } finally {
    await closeSecurity(security);
  }
}
