/** The baseline: bench/plain-node.ts in its own node process. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { startTracked } from './processes.js';
import type { ServerDef } from './servers.js';

const script = fileURLToPath(new URL('./plain-node.js', import.meta.url));

export const plainNode: ServerDef = {
  id: 'node',
  label: 'node',
  unavailable: () => (existsSync(script) ? null : `${script} is missing (build first)`),
  version: () => `${process.version} node:http + fs.createReadStream`,
  async start(env) {
    const port = await freePort();
    const accessLog = join(env.tmp, 'node-access.log');
    const log = join(env.tmp, 'node-stdout.log');
    const proc = await startTracked('plain node', process.execPath, [script, '--root', env.www, '--port', String(port), '--log', accessLog], { log });
    return { port, proc, logs: [log, accessLog] };
  },
};
