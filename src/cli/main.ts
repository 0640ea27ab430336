#!/usr/bin/env node
/**
 * The `persona` command. Each subcommand lives in its own file; this one only wires them to commander and maps
 * failures to the documented exit codes.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { Exit } from './exit-codes.js';

// Subcommands are imported when used, so `persona version` does not load the server.
const serveCommand = async (o: object) => (await import('./serve.js')).serveCommand(o);
const configTestCommand = async (o: object) => (await import('./config.js')).configTestCommand(o);
const configShowCommand = async (o: object, a: { url: string; json?: boolean }) => (await import('./config.js')).configShowCommand(o, a);
const reloadCommand = async (o: object) => (await import('./reload.js')).reloadCommand(o);

const program = new Command('persona')
  .description('Persona: a web server with the security model of IIS')
  .option('--home <dir>', 'state folder (default: $PERSONA_HOME, /var/lib/persona as root, else ~/.local/state/persona)')
  .option('--config <file>', 'configuration file (default: <home>/persona.yaml)')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(str) })
  .showHelpAfterError('(run `persona help` for the commands)');

program
  .command('serve')
  .description('start the server (creates the state folder and a demo site on first run)')
  .action(async () => process.exit(await serveCommand(program.opts())));

const config = program.command('config').description('check or explain the configuration');
config
  .command('test')
  .description('validate the configuration file, like nginx -t: exit 0, or every problem as file:line:column')
  .action(async () => process.exit(await configTestCommand(program.opts())));
config
  .command('show')
  .description('the effective configuration for a URL, with the level each value came from')
  .requiredOption('--url <url>', 'absolute URL, e.g. http://127.0.0.1:8080/files/')
  .option('--json', 'machine-readable output')
  .action(async (opts: { url: string; json?: boolean }) => process.exit(await configShowCommand(program.opts(), opts)));

program
  .command('reload')
  .description('validate the configuration, then make the running server load it (same as SIGHUP)')
  .action(async () => process.exit(await reloadCommand(program.opts())));

program
  .command('version')
  .description('print the version')
  .action(() => {
    console.log(`persona ${VERSION} (node ${process.version})`);
  });

program.command('help [command]').description('show help for a command').action((name?: string) => {
  const sub = name ? program.commands.find((c) => c.name() === name) : undefined;
  (sub ?? program).outputHelp();
});

try {
  await program.parseAsync(process.argv);
  if (process.argv.length <= 2) program.outputHelp();
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version print and exit 0; everything else from commander is a usage error.
    process.exit(err.exitCode === 0 ? Exit.OK : Exit.USAGE);
  }
  console.error(`persona: ${(err as Error).message}`);
  process.exit(Exit.FAILURE);
}
