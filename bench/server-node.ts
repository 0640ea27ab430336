/** The baseline: bench/plain-node.ts in its own node process. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { startTracked } from './processes.js';
import type { ServerDef } from './servers.js';

const script = fileURLToPath(new URL('./plain-node.js', import.meta.url));

function nodeServer(memory: boolean): ServerDef {
  const id = memory ? 'node-mem' : 'node';
  return {
    id,
    label: memory ? 'node (memory)' : 'node',
    unavailable: () => (existsSync(script) ? null : `${script} is missing (build first)`),
    version: () => `${process.version} node:http + ${memory ? 'files up to 256 KiB from memory' : 'fs.createReadStream'}`,
    async start(env) {
      const port = await freePort();
      const accessLog = join(env.tmp, `${id}-access.log`);
      const log = join(env.tmp, `${id}-stdout.log`);
      const args = [script, '--root', env.www, '--port', String(port), '--log', accessLog, ...(memory ? ['--memory'] : [])];
      const proc = await startTracked(`plain ${id}`, process.execPath, args, { log });
      return { port, proc, logs: [log, accessLog] };
    },
  };
}

/** The baseline: opens and streams the file on every request, with a stat cache. */
export const plainNode = nodeServer(false);
/** The like-for-like baseline: small files from memory, as Persona's file cache serves them. */
export const memoryNode = nodeServer(true);
