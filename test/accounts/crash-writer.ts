/**
 * Child process for crash.test.ts: writes to the account store in a loop until it is killed. After each commit it
 * appends what it committed to a side file (`user NAME V`, `pw NAME V`, `member GROUP NAME`, `group NAME`,
 * `acl PATH`), so the parent knows what must have survived. User NAME's password version V is `NAME#V`.
 * Prints `ready` once the store is open. Usage: node crash-writer.js DB SIDE_FILE
 */
import { appendFileSync } from 'node:fs';
import { openAccountStore } from '../../src/accounts/store.js';
import { CHEAP, MACHINE } from './fixture.js';
import { crashDescriptor } from './crash-descriptor.js';

const [file, side] = process.argv.slice(2) as [string, string];
const store = openAccountStore(file, MACHINE, CHEAP);
process.stdout.write('ready\n'); // the parent times its kill from here (node's start-up is slower than a round)
const tag = `p${process.pid}`;
const log = (line: string): void => appendFileSync(side, line + '\n');
const versions = new Map<string, number>();
const inAdmins = new Set<string>();
let group: string | undefined;

for (let k = 0; ; k++) {
  const names = [...versions.keys()];
  const pick = (): string => names[Math.floor(Math.random() * names.length)]!;
  const step = names.length < 2 ? 0 : k % 5;
  if (step === 0) {
    const name = `${tag}u${k}`;
    // Several rows in several tables, with memberships in two groups: the transaction a crash must not split.
    await store.createUser({ name, password: `${name}#0`, fullName: `User ${k}`, groups: group ? ['Users', group] : ['Users'] });
    versions.set(name, 0);
    log(`user ${name} 0`);
  } else if (step === 1 || step === 2) {
    const name = pick();
    const v = versions.get(name)! + 1;
    versions.set(name, v); // set first: if killed after the commit, the parent also accepts V
    await store.setPassword(name, `${name}#${v}`);
    log(`pw ${name} ${v}`);
  } else if (step === 3) {
    const candidates = names.filter((n) => !inAdmins.has(n));
    if (candidates.length > 0) {
      const name = candidates[0]!;
      store.addMember('Administrators', name);
      inAdmins.add(name);
      log(`member Administrators ${name}`);
    }
  } else {
    if (!group) {
      group = `${tag}g`;
      store.createGroup(group, 'crash test');
      log(`group ${group}`);
    } else {
      const path = `/srv/${tag}/${k}`;
      store.setDescriptor(path, crashDescriptor(k));
      log(`acl ${path}`);
    }
  }
}
