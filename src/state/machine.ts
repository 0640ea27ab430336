/**
 * The machine identity: a NetBIOS-style machine name and the machine SID `S-1-5-21-a-b-c`, made once at
 * initialisation (MODEL.md §2). Local accounts' SIDs are built on it, so it must never change afterwards.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import os from 'node:os';

export interface MachineIdentity {
  readonly machineName: string;
  readonly machineSid: string;
  readonly createdAt: string;
}

/** NetBIOS names: at most 15 characters, upper case, no dots or spaces. */
export function netbiosName(hostname: string): string {
  const name = hostname.split('.')[0]!.toUpperCase().replace(/[^A-Z0-9!@#$%^&'()\-_{}~]/g, '-').slice(0, 15);
  return name || 'PERSONA';
}

export function newMachineSid(random: Buffer = randomBytes(12)): string {
  return `S-1-5-21-${random.readUInt32LE(0)}-${random.readUInt32LE(4)}-${random.readUInt32LE(8)}`;
}

const SID_PATTERN = /^S-1-5-21-\d{1,10}-\d{1,10}-\d{1,10}$/;

export async function ensureMachineIdentity(file: string): Promise<{ identity: MachineIdentity; created: boolean }> {
  if (existsSync(file)) {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<MachineIdentity>;
    if (typeof parsed.machineName !== 'string' || typeof parsed.machineSid !== 'string' || !SID_PATTERN.test(parsed.machineSid)) {
      throw new Error(`${file} is not a valid machine identity (expected machineName and a machineSid S-1-5-21-a-b-c)`);
    }
    return { identity: parsed as MachineIdentity, created: false };
  }
  const identity: MachineIdentity = { machineName: netbiosName(os.hostname()), machineSid: newMachineSid(), createdAt: new Date().toISOString() };
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'wx', 0o640);
  try {
    await handle.writeFile(JSON.stringify(identity, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  return { identity, created: true };
}
