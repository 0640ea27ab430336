/**
 * `persona lockout policy`: Windows' account lockout policy (`net accounts /lockoutthreshold /lockoutwindow
 * /lockoutduration`), in seconds. With no option it prints the policy; with options it changes those values and
 * keeps the others. The rules (Windows': threshold 0–999, window ≥ 1 s, a duration of 0 or at least the window) are
 * the store's (builtin.ts), checked here first so a refused change is one clear line and nothing is written.
 */
import { lockoutPolicyProblem } from '../accounts/builtin.js';
import type { LockoutPolicy } from '../accounts/types.js';
import { Exit } from './exit-codes.js';
import type { GlobalOptions } from './options.js';
import { fail, withStore } from './store-access.js';

export interface LockoutOptions {
  readonly threshold?: number;
  readonly window?: number;
  readonly duration?: number;
  readonly json?: boolean;
}

export function formatLockoutPolicy(p: LockoutPolicy): string {
  const rows: [string, string][] = [
    ['Lockout threshold', p.threshold === 0 ? '0 (never lock out)' : `${p.threshold} failed logon(s)`],
    ['Lockout observation window', `${p.observationWindowSeconds} s (failures older than this no longer count)`],
    ['Lockout duration', p.durationSeconds === 0 ? '0 (until an administrator runs persona user unlock)' : `${p.durationSeconds} s`],
  ];
  return rows.map(([k, v]) => `${k.padEnd(30)}${v}`).join('\n');
}

export async function lockoutPolicyCommand(options: GlobalOptions, opts: LockoutOptions): Promise<number> {
  return withStore(options, (store) => {
    const current = store.lockoutPolicy();
    const changing = opts.threshold !== undefined || opts.window !== undefined || opts.duration !== undefined;
    if (!changing) {
      console.log(opts.json ? JSON.stringify(current, null, 2) : formatLockoutPolicy(current));
      return Exit.OK;
    }
    const next: LockoutPolicy = {
      threshold: opts.threshold ?? current.threshold,
      observationWindowSeconds: opts.window ?? current.observationWindowSeconds,
      durationSeconds: opts.duration ?? current.durationSeconds,
    };
    const problem = lockoutPolicyProblem(next);
    if (problem) return fail(`${problem}; nothing changed`);
    store.setLockoutPolicy(next);
    console.log(opts.json ? JSON.stringify(next, null, 2) : `persona: lockout policy changed\n${formatLockoutPolicy(next)}`);
    return Exit.OK;
  });
}
