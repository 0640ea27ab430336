/** A SpawnRequest for the spawner and broker tests: a minimal PATH, `/` as working directory. */
import path from 'node:path';
import type { SpawnRequest } from '../../src/identity/spawn.js';

export const spawnRequest = (account: string, file: string, args: string[] = [], extra: Partial<SpawnRequest> = {}): SpawnRequest => ({
  account,
  file,
  args,
  env: { PATH: '/usr/bin:/bin' },
  cwd: '/',
  purpose: `test ${path.basename(file)}`,
  ...extra,
});
