#!/usr/bin/env node
/**
 * The `persona` command. Each subcommand lives in its own file; this one only wires them to commander and maps
 * failures to the documented exit codes.
 */
import { Argument, Command, CommanderError, InvalidArgumentError } from 'commander';
import { VERSION } from '../version.js';
import { Exit } from './exit-codes.js';

// Subcommands are imported when used, so `persona version` does not load the server.
const serveCommand = async (o: object) => (await import('./serve.js')).serveCommand(o);
const configTestCommand = async (o: object) => (await import('./config.js')).configTestCommand(o);
const configShowCommand = async (o: object, a: { url: string; json?: boolean }) => (await import('./config.js')).configShowCommand(o, a);
const reloadCommand = async (o: object) => (await import('./reload.js')).reloadCommand(o);
const explainCommand = async (o: object, url: string, a: object) => (await import('./explain.js')).explainCommand(o, url, a);
const users = () => import('./users.js');
const groups = () => import('./groups.js');
const rights = () => import('./rights.js');
const lockout = () => import('./lockout.js');
const acl = () => import('./acl.js');
const audit = () => import('./audit.js');
const trace = () => import('./trace.js');

/** Option values that must be whole numbers ≥ 0; anything else is a usage error (exit 2), like an unknown option. */
function count(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('expected a whole number (0 or more)');
  return Number(value);
}
const collect = (value: string, previous: string[]): string[] => [...previous, value];

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
  .command('explain <url>')
  .description('which identity runs the code for a URL, and why: site, filtering, challenges, token, access checks, code identities')
  .option('--as <user>', 'log on as this local user (with the scheme a browser would pick, or --scheme)')
  .option('--anonymous', 'an anonymous request (the default without --as)')
  .option('--scheme <scheme>', 'anonymous, basic, ntlm, digest, negotiate or cert')
  .option('--method <method>', 'the request method', 'GET')
  .option('--json', 'machine-readable output')
  .action(async (url: string, opts: object) => process.exit(await explainCommand(program.opts(), url, opts)));

program
  .command('reload')
  .description('validate the configuration, then make the running server load it (same as SIGHUP)')
  .action(async () => process.exit(await reloadCommand(program.opts())));

// Accounts (MODEL.md §2). Passwords are read from a prompt or the first line of stdin, never from argv: no option takes one.
const user = program.command('user').description('local user accounts (like net user)');
user
  .command('add <name>')
  .description('create a user; the password is asked for twice on a terminal, else read from the first line of stdin')
  .option('--full-name <text>', 'full name')
  .option('--description <text>', 'comment')
  .option('--os-account <user>', 'OS account processes for this user run as (CGI as the user)')
  .option('--group <group>', 'join this group instead of Users (repeatable)', collect, [])
  .option('--must-change', 'the user must change the password at next logon')
  .option('--ntlm', 'enable NTLM: stores the NT hash, which is password-equivalent')
  .option('--digest', 'enable Digest: stores H(user:realm:password) per Digest realm, which is password-equivalent')
  .action(async (name: string, opts: { fullName?: string; description?: string; osAccount?: string; group: string[]; mustChange?: boolean; ntlm?: boolean; digest?: boolean }) =>
    process.exit(await (await users()).userAddCommand(program.opts(), name, opts)),
  );
user
  .command('passwd <name>')
  .description("set a user's password (prompt or first line of stdin)")
  .option('--must-change', 'the user must change it at next logon')
  .option('--ntlm', 'also enable NTLM (stores the NT hash, password-equivalent); an enabled account keeps it either way')
  .option('--digest', 'also enable Digest (stores its verifiers, password-equivalent); an enabled account keeps it either way')
  .action(async (name: string, opts: { mustChange?: boolean; ntlm?: boolean; digest?: boolean }) =>
    process.exit(await (await users()).userPasswdCommand(program.opts(), name, opts)),
  );
user
  .command('enable <name>')
  .description('enable a disabled account')
  .action(async (name: string) => process.exit(await (await users()).userEnableCommand(program.opts(), name)));
user
  .command('disable <name>')
  .description('disable an account: every logon fails')
  .action(async (name: string) => process.exit(await (await users()).userDisableCommand(program.opts(), name)));
user
  .command('unlock <name>')
  .description('end a lockout and reset the failed-attempt count')
  .action(async (name: string) => process.exit(await (await users()).userUnlockCommand(program.opts(), name)));
user
  .command('remove <name>')
  .description('delete a user (its SID is never reused)')
  .action(async (name: string) => process.exit(await (await users()).userRemoveCommand(program.opts(), name)));
user
  .command('list')
  .description('list the users')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => process.exit(await (await users()).userListCommand(program.opts(), opts)));
user
  .command('show <name>')
  .description('one user: SID, flags, lockout state, groups, rights, OS account (never a password hash)')
  .option('--json', 'machine-readable output')
  .action(async (name: string, opts: { json?: boolean }) => process.exit(await (await users()).userShowCommand(program.opts(), name, opts)));
user
  .command('set <name>')
  .description("change a user's OS account mapping or turn NTLM or Digest off")
  .option('--os-account <user>', 'OS account processes for this user run as')
  .option('--no-os-account', 'remove the mapping')
  // --ntlm exists only to explain that enabling needs the password (user passwd NAME --ntlm).
  .option('--ntlm', 'refused: enable NTLM with persona user passwd NAME --ntlm')
  .option('--no-ntlm', 'turn NTLM off and delete the NT hash')
  .option('--digest', 'refused: enable Digest with persona user passwd NAME --digest')
  .option('--no-digest', 'turn Digest off and delete its verifiers')
  .action(async (name: string, opts: { osAccount?: string | false; ntlm?: boolean; digest?: boolean }) =>
    process.exit(await (await users()).userSetCommand(program.opts(), name, opts)),
  );

// Digest realms (issue 7): the account store makes H(user:realm:password) for each; the list is a store setting.
const digestRealms = program
  .command('digest')
  .description('Digest authentication settings of the account store')
  .command('realms')
  .description('the realms Digest verifiers are made for (H(user:realm:password) is password-equivalent)');
digestRealms
  .command('list', { isDefault: true })
  .description('list the realms (the default)')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => process.exit(await (await users()).digestRealmsListCommand(program.opts(), opts)));
digestRealms
  .command('add <realm>')
  .description('add a realm; Digest accounts get verifiers for it at their next password change')
  .action(async (realm: string) => process.exit(await (await users()).digestRealmsAddCommand(program.opts(), realm)));
digestRealms
  .command('remove <realm>')
  .description('remove a realm and delete its verifiers')
  .action(async (realm: string) => process.exit(await (await users()).digestRealmsRemoveCommand(program.opts(), realm)));

const group = program.command('group').description('local groups and their members (like net localgroup)');
group
  .command('add <name>')
  .description('create a group')
  .option('--description <text>', 'comment')
  .action(async (name: string, opts: { description?: string }) => process.exit(await (await groups()).groupAddCommand(program.opts(), name, opts)));
group
  .command('remove <name>')
  .description('delete a group (built-in groups cannot be removed)')
  .action(async (name: string) => process.exit(await (await groups()).groupRemoveCommand(program.opts(), name)));
group
  .command('list')
  .description('list the groups')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => process.exit(await (await groups()).groupListCommand(program.opts(), opts)));
const members = group.command('members').description("a group's members");
members
  .command('add <group> <users...>')
  .description('add users to a group')
  .action(async (name: string, names: string[]) => process.exit(await (await groups()).groupMembersAddCommand(program.opts(), name, names)));
members
  .command('remove <group> <users...>')
  .description('remove users from a group')
  .action(async (name: string, names: string[]) => process.exit(await (await groups()).groupMembersRemoveCommand(program.opts(), name, names)));
members
  .command('list <group>')
  .description("list a group's members")
  .option('--json', 'machine-readable output')
  .action(async (name: string, opts: { json?: boolean }) => process.exit(await (await groups()).groupMembersListCommand(program.opts(), name, opts)));

const rightsCmd = program.command('rights').description('user rights assignment (logon rights and privileges)');
rightsCmd
  .command('grant <principal> <right>')
  .description('grant a right (e.g. SeBatchLogonRight) to a user, group, well-known name or SID')
  .action(async (who: string, right: string) => process.exit(await (await rights()).rightsGrantCommand(program.opts(), who, right)));
rightsCmd
  .command('revoke <principal> <right>')
  .description('revoke a right from a principal')
  .action(async (who: string, right: string) => process.exit(await (await rights()).rightsRevokeCommand(program.opts(), who, right)));
rightsCmd
  .command('list')
  .description('every right and who holds it')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => process.exit(await (await rights()).rightsListCommand(program.opts(), opts)));

program
  .command('lockout')
  .description('account lockout')
  .command('policy')
  .description('print the lockout policy, or change it with the options')
  .option('--threshold <n>', 'failed logons that lock an account (0 = never)', count)
  .option('--window <seconds>', 'observation window: failures older than this no longer count', count)
  .option('--duration <seconds>', 'how long a lockout lasts (0 = until persona user unlock)', count)
  .option('--json', 'machine-readable output')
  .action(async (opts: { threshold?: number; window?: number; duration?: number; json?: boolean }) =>
    process.exit(await (await lockout()).lockoutPolicyCommand(program.opts(), opts)),
  );

// File ACLs (MODEL.md §4), icacls-like. PATH is a physical path; ACE specs as icacls: alice:(OI)(CI)R, *S-1-5-32-545:(RX).
const aclCmd = program.command('acl').description('Windows-style ACLs on files and folders (like icacls)');
aclCmd
  .command('show <path>')
  .description('the effective DACL (inherited ACEs marked (I) with their origin), owner and inheritance')
  .option('--json', 'machine-readable output')
  .action(async (p: string, opts: { json?: boolean }) => process.exit(await (await acl()).aclShowCommand(program.opts(), p, opts)));
aclCmd
  .command('grant <path> <specs...>')
  .description("add allow ACEs (icacls /grant), e.g. 'alice:(OI)(CI)RX'")
  .action(async (p: string, specs: string[]) => process.exit(await (await acl()).aclGrantCommand(program.opts(), p, specs)));
aclCmd
  .command('deny <path> <specs...>')
  .description("add deny ACEs (icacls /deny), e.g. 'bob:(OI)(CI)W'")
  .action(async (p: string, specs: string[]) => process.exit(await (await acl()).aclDenyCommand(program.opts(), p, specs)));
aclCmd
  .command('remove <path> <principals...>')
  .description('remove every explicit ACE of these principals (icacls /remove)')
  .action(async (p: string, who: string[]) => process.exit(await (await acl()).aclRemoveCommand(program.opts(), p, who)));
aclCmd
  .command('inherit')
  .argument('<path>')
  .addArgument(new Argument('<mode>', 'enable | disable (copy inherited ACEs, then protect) | remove (protect without copying)').choices(['enable', 'disable', 'remove']))
  .description('icacls /inheritance:e|d|r')
  .action(async (p: string, mode: 'enable' | 'disable' | 'remove') => process.exit(await (await acl()).aclInheritCommand(program.opts(), p, mode)));
aclCmd
  .command('reset <path>')
  .description("drop the path's own descriptor: it only inherits (icacls /reset)")
  .action(async (p: string) => process.exit(await (await acl()).aclResetCommand(program.opts(), p)));

program
  .command('audit')
  .description('the security audit log (logons 4624/4625, access denials)')
  .command('tail')
  .description('print the last events; -f keeps printing new ones')
  .option('-n, --lines <n>', 'how many events', count, 10)
  .option('-f, --follow', 'keep printing events as they are written')
  .option('--json', 'the JSON lines as written')
  .action(async (opts: { lines: number; follow?: boolean; json?: boolean }) =>
    process.exit(await (await audit()).auditTailCommand(program.opts(), { lines: opts.lines, follow: opts.follow === true, json: opts.json === true })),
  );

// Per-request traces (docs/TRACING.md): what every worker appended to <logs>/trace/W3SVC<id>/.
const traceCmd = program.command('trace').description('per-request traces of the URLs where trace.enabled is on');
traceCmd
  .command('list')
  .description('the most recent traces, oldest first')
  .option('--site <site>', 'only this site (name or id)')
  .option('--last <n>', 'how many traces', count, 20)
  .option('--json', 'one JSON document per line')
  .action(async (opts: { site?: string; last: number; json?: boolean }) =>
    process.exit(await (await trace()).traceListCommand(program.opts(), { site: opts.site, last: opts.last, json: opts.json === true })),
  );
traceCmd
  .command('show <id>')
  .description("one trace, every decision with its reason (the id is the W3C log's x-trace-id)")
  .option('--json', 'the stored JSON document')
  .action(async (id: string, opts: { json?: boolean }) => process.exit(await (await trace()).traceShowCommand(program.opts(), id, { json: opts.json === true })));

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
