/**
 * Child process for concurrency.test.ts: opens the store (possibly while other processes create it) and writes as fast
 * as it can — users, passwords, failures, rights, descriptors — then prints how many writes it made. Any error
 * (SQLITE_BUSY above all) goes to stderr with exit code 1.
 * Usage: node burst-writer.js DB TAG COUNT
 */
import { openAccountStore } from '../../src/accounts/store.js';
import { CHEAP, MACHINE } from './fixture.js';

const [file, tag, count] = process.argv.slice(2) as [string, string, string];
try {
  const store = openAccountStore(file, MACHINE, CHEAP);
  let writes = 0;
  for (let i = 0; i < Number(count); i++) {
    const name = `${tag}-${i}`;
    const user = await store.createUser({ name, password: 'a' });
    await store.setPassword(name, 'b');
    store.recordFailure(user.sid, Date.now());
    store.resetFailures(user.sid);
    store.grantRight(name, 'SeBatchLogonRight');
    store.setDescriptor(`/srv/${name}`, { dacl: [], protected: false });
    store.setDisabled(name, i % 2 === 0);
    writes += 7;
  }
  store.close();
  process.stdout.write(JSON.stringify({ writes }));
} catch (err) {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
}
