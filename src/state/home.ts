/**
 * Persona's state folder ("home"): configuration, machine identity, logs, run files and the demo site. Created on
 * first start; later starts reuse it untouched (the configuration is the user's from then on).
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, open, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../version.js';
import { defaultConfigText } from './default-config.js';
import { digestKeyFile, ensureDigestKey } from './digest-key.js';
import { ensureMachineIdentity, type MachineIdentity } from './machine.js';

export interface HomeLayout {
  readonly home: string;
  readonly configFile: string;
  readonly logDirectory: string;
  readonly runDirectory: string;
  readonly pidFile: string;
  readonly statusFile: string;
  readonly machineFile: string;
  /** The Digest nonce key (32 random bytes, shared by all workers): src/state/digest-key.ts. */
  readonly digestKeyFile: string;
  readonly demoRoot: string;
}

/** --home, else $PERSONA_HOME, else /var/lib/persona for root, else $XDG_STATE_HOME/persona (~/.local/state/persona). */
export function resolveHome(explicit: string | undefined): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.PERSONA_HOME) return path.resolve(process.env.PERSONA_HOME);
  if (process.getuid?.() === 0) return '/var/lib/persona';
  const state = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(state, 'persona');
}

export function homeLayout(home: string, configFile?: string): HomeLayout {
  return {
    home,
    configFile: configFile ? path.resolve(configFile) : path.join(home, 'persona.yaml'),
    logDirectory: path.join(home, 'logs'),
    runDirectory: path.join(home, 'run'),
    pidFile: path.join(home, 'run', 'persona.pid'),
    statusFile: path.join(home, 'run', 'status.json'),
    machineFile: path.join(home, 'machine.json'),
    digestKeyFile: digestKeyFile(home),
    demoRoot: path.join(home, 'demo'),
  };
}

export interface HomeState {
  readonly layout: HomeLayout;
  readonly machine: MachineIdentity;
  readonly digestKey: Buffer;
  /** What this start created (empty on later starts). */
  readonly created: readonly string[];
}

/** Writes a file only if it does not exist, atomically: a crash never leaves half a configuration. */
async function writeNew(file: string, content: string): Promise<boolean> {
  if (existsSync(file)) return false;
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'wx', 0o640);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  return true;
}

export async function ensureHome(layout: HomeLayout): Promise<HomeState> {
  const created: string[] = [];
  if (!existsSync(layout.home)) created.push(`state folder ${layout.home}`);
  await mkdir(layout.home, { recursive: true, mode: 0o750 });
  await mkdir(layout.logDirectory, { recursive: true });
  await mkdir(layout.runDirectory, { recursive: true });
  const machine = await ensureMachineIdentity(layout.machineFile);
  if (machine.created) created.push(`machine identity ${layout.machineFile} (${machine.identity.machineName}, ${machine.identity.machineSid})`);
  const digestKey = await ensureDigestKey(layout.digestKeyFile);
  if (digestKey.created) created.push(`Digest nonce key ${layout.digestKeyFile}`);
  const defaultConfig = layout.configFile === path.join(layout.home, 'persona.yaml');
  if (defaultConfig && !existsSync(layout.demoRoot)) {
    const source = fileURLToPath(new URL('demo/', PACKAGE_ROOT));
    await cp(source, `${layout.demoRoot}.tmp`, { recursive: true });
    await rename(`${layout.demoRoot}.tmp`, layout.demoRoot);
    created.push(`demo site ${layout.demoRoot}`);
  }
  if (defaultConfig && (await writeNew(layout.configFile, defaultConfigText()))) created.push(`configuration ${layout.configFile}`);
  return { layout, machine: machine.identity, digestKey: digestKey.key, created };
}

export async function writeRunFile(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, file);
}
