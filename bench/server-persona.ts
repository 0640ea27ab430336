/** Persona itself, started the way an operator would: `persona serve` with a one-site configuration. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startTracked } from './processes.js';
import type { BenchEnv, ServerDef } from './servers.js';

const mainJs = (env: BenchEnv): string => join(env.distDir, 'src', 'cli', 'main.js');

export const persona: ServerDef = {
  id: 'persona',
  label: 'Persona',
  unavailable: (env) => (existsSync(mainJs(env)) ? null : `${mainJs(env)} does not exist yet (the server is not built)`),
  version(env) {
    try {
      const v = execFileSync(process.execPath, [mainJs(env), 'version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
      return /persona (\S+)/.exec(v)?.[1] ?? null;
    } catch {
      return null;
    }
  },
  async start(env) {
    const port = await freePort();
    const home = join(env.tmp, 'home');
    mkdirSync(home, { recursive: true });
    const config = join(env.tmp, 'persona.yaml');
    // JSON strings are valid YAML scalars, which keeps odd characters in temp paths harmless.
    writeFileSync(
      config,
      [
        'sites:',
        '  - name: bench',
        `    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]`,
        `    physicalPath: ${JSON.stringify(env.www)}`,
        '',
      ].join('\n'),
    );
    const log = join(env.tmp, 'persona-stdout.log');
    const proc = await startTracked('persona', process.execPath, [mainJs(env), 'serve', '--home', home, '--config', config], { log });
    return { port, proc, logs: [log] };
  },
};
