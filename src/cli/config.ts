/** `persona config test` and `persona config show --url`. */
import { loadConfigFile, formatProblems } from '../config/load.js';
import { compileConfig } from '../config/compile.js';
import { describeUrl, formatUrlReport } from '../config/show.js';
import { Exit } from './exit-codes.js';
import { layoutFrom, type GlobalOptions } from './options.js';

export async function configTestCommand(options: GlobalOptions): Promise<number> {
  const layout = layoutFrom(options);
  const loaded = await loadConfigFile(layout.configFile);
  if ('problems' in loaded) {
    console.error(formatProblems(loaded.problems));
    console.error(`persona: configuration ${layout.configFile} has ${loaded.problems.length} problem(s)`);
    return Exit.FAILURE;
  }
  const compiled = compileConfig(loaded, layout.logDirectory);
  const bindings = compiled.sites.reduce((n, s) => n + s.bindings.length, 0);
  console.log(`persona: configuration ${layout.configFile} is valid (${compiled.sites.length} site(s), ${bindings} binding(s))`);
  return Exit.OK;
}

export async function configShowCommand(options: GlobalOptions, opts: { url: string; json?: boolean }): Promise<number> {
  const layout = layoutFrom(options);
  const loaded = await loadConfigFile(layout.configFile);
  if ('problems' in loaded) {
    console.error(formatProblems(loaded.problems));
    return Exit.FAILURE;
  }
  const report = describeUrl(compileConfig(loaded, layout.logDirectory), opts.url);
  if ('error' in report) {
    console.error(`persona: ${report.error}`);
    return Exit.FAILURE;
  }
  console.log(opts.json ? JSON.stringify(report, null, 2) : formatUrlReport(report));
  return Exit.OK;
}
