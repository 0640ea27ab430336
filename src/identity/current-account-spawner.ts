/**
 * The spawner of a process that cannot switch OS identity (Persona not running as root, or a worker without a
 * forker): it starts processes as its own account only. Asking for any other account is refused with 403.19 and
 * the reason — never run as the wrong user silently (MODEL.md §8).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { lookupOsAccount } from './os-accounts.js';
import { discardingStdin, type ProcessExit, type ProcessSpawner, type SpawnedProcess, type SpawnRefusal, type SpawnRequest } from './spawn.js';

export function currentAccountSpawner(reasonWhyNoSwitch = 'Persona is not running as root, so it cannot start processes as other OS accounts'): ProcessSpawner {
  const self = os.userInfo().username;
  return {
    capability: { canSwitchAccounts: false, processAccount: self, reason: reasonWhyNoSwitch },
    async spawn(request: SpawnRequest): Promise<SpawnedProcess | SpawnRefusal> {
      if (request.account !== self) {
        return { kind: 'refused', status: 403, substatus: 19, reason: `cannot run ${request.purpose} as OS account "${request.account}": ${reasonWhyNoSwitch} (it runs as "${self}")` };
      }
      const account = await lookupOsAccount(self);
      if (!account) return { kind: 'refused', status: 500, substatus: 0, reason: `the OS account "${self}" of this process is unknown to NSS` };
      return startProcess(request, account, request.file, [...request.args]);
    },
  };
}

/**
 * Starts `file args` with the request's environment and cwd, in a new process group (detached), and wraps it as a
 * SpawnedProcess.
 */
export function startProcess(request: SpawnRequest, account: SpawnedProcess['account'], file: string, args: string[]): Promise<SpawnedProcess | SpawnRefusal> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: request.cwd, env: { ...request.env }, stdio: [request.stdin === 'none' ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<ProcessExit>((done) => {
      child.once('exit', (code, signal) => done({ code, signal }));
    });
    child.once('error', (error) => {
      // spawn failed (ENOENT, EACCES): no process exists; report instead of throwing into the request.
      resolve({ kind: 'refused', status: 502, substatus: 2, reason: `could not start ${request.purpose}: ${error.message}` });
    });
    child.once('spawn', () => {
      const pid = child.pid!;
      resolve({
        pid,
        account,
        stdin: child.stdin ?? discardingStdin(),
        stdout: child.stdout!,
        stderr: child.stderr!,
        exited,
        killGroup(signal: NodeJS.Signals = 'SIGKILL') {
          // Also after the leader exited: what it left running is still in its group.
          try {
            process.kill(-pid, signal);
          } catch {
            // Already gone.
          }
        },
      });
    });
  });
}
