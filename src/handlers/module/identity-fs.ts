/**
 * persona.fs: file access checked against Persona's ACLs with the CURRENT identity of the async flow (MODEL.md §8),
 * the in-process stand-in for a thread impersonating a token. The path is resolved with realpath first and the
 * check and the access use that one real path, so a symlink cannot lead the check to one file and the read to
 * another. After Persona's check the OS checks the worker's own account as well (the real fs call), as the file
 * system of a Windows server checks the impersonated token and nothing else would be needed there.
 */
import { readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DesiredAccess } from '../../security/access-mask.js';
import type { AclResolver } from '../../security/acl-resolver.js';
import type { AccessDecision } from '../../security/acl-types.js';
import { formatAce, formatMask } from '../../security/ace-syntax.js';
import type { Sid } from '../../security/sid.js';
import { tokenSids, type Token } from '../../security/token.js';
import { AccessDeniedError } from './access-denied.js';
import type { CurrentIdentity, IdentityFs } from './contract.js';

export interface IdentityFsOptions {
  readonly acl: Pick<AclResolver, 'check'>;
  /** Display names of SIDs, for the deciding ACE in messages (the store's nameOf). */
  readonly nameOf: (sid: Sid) => string;
  /** The identity to check with, read at each call (the async context's). */
  readonly identity: () => CurrentIdentity;
  /** Told of every refusal (the audit log's 4656). */
  readonly onDenied?: (token: Token, target: string, decision: AccessDecision) => void;
}

type Operation = 'read' | 'write' | 'list';

const VERBS: Record<Operation, string> = { read: 'read the file', write: 'write the file', list: 'list the folder' };

export function createIdentityFs(options: IdentityFsOptions): IdentityFs {
  const check = (target: string, operation: Operation, desired: number, syscall: string): void => {
    const { token } = options.identity();
    const decision = options.acl.check(token, tokenSids(token), target, operation === 'list', desired);
    if (decision.allowed) return;
    options.onDenied?.(token, target, decision);
    throw new AccessDeniedError(deniedMessage(token.user.name, VERBS[operation], target, decision, options.nameOf), target, syscall, token.user.name, decision);
  };

  async function identityReadFile(file: string): Promise<Buffer>;
  async function identityReadFile(file: string, encoding: BufferEncoding): Promise<string>;
  async function identityReadFile(file: string, encoding?: BufferEncoding): Promise<Buffer | string> {
    const real = await realpath(path.resolve(file));
    check(real, 'read', DesiredAccess.readFile, 'open');
    return encoding === undefined ? readFile(real) : readFile(real, encoding);
  }

  return {
    readFile: identityReadFile,
    async writeFile(file: string, data: string | Uint8Array): Promise<void> {
      const { target, exists } = await writeTarget(path.resolve(file));
      check(target, 'write', DesiredAccess.writeFile, 'open');
      // A new file is created exclusively: had something appeared at the checked path meanwhile (a symlink), the
      // write fails (EEXIST) instead of following it.
      await writeFile(target, data, { flag: exists ? 'w' : 'wx' });
    },
    async readdir(dir: string): Promise<string[]> {
      const real = await realpath(path.resolve(dir));
      check(real, 'list', DesiredAccess.listFolder, 'scandir');
      return readdir(real);
    },
  };
}

/** An existing file's real path; for a new file, its parent's real path and its name (the new file inherits from it). */
async function writeTarget(file: string): Promise<{ target: string; exists: boolean }> {
  try {
    return { target: await realpath(file), exists: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return { target: path.join(await realpath(path.dirname(file)), path.basename(file)), exists: false };
  }
}

function deniedMessage(user: string, verb: string, target: string, decision: AccessDecision, nameOf: (sid: Sid) => string): string {
  const wanted = `(${formatMask(decision.desired)})`;
  const why = decision.decidingAce
    ? `the deciding ACE is ${formatAce(decision.decidingAce, nameOf)}${decision.decidingAcePath ? ` on ${decision.decidingAcePath}` : ''}`
    : decision.reason;
  return `EACCES: access denied: ${user} may not ${verb} ${target} ${wanted}: ${why}`;
}
