/**
 * The pool's right to start processes as other accounts (IIS: a CGI with createProcessAsUser needs the pool identity
 * to hold "Replace a process level token"; without it the pool can only run processes as itself). Pure: the forker
 * (native/persona-forker.c) enforces the same rule with the same words, and `explain` predicts it from here — the
 * forker tests check that both agree.
 */
import type { SpawnRefusal } from './spawn.js';

export interface SpawnPolicy {
  /** The application pool's name, for the reason. */
  readonly pool: string;
  /** The OS account the pool's worker runs as: it may always start processes as this account. */
  readonly poolAccount: string;
  /** IIS "Replace a process level token" (SeAssignPrimaryTokenPrivilege): may start processes as other accounts. */
  readonly replaceProcessToken: boolean;
}

export function spawnPolicyDecision(policy: SpawnPolicy, request: { readonly account: string; readonly purpose: string }): SpawnRefusal | undefined {
  if (request.account === policy.poolAccount || policy.replaceProcessToken) return undefined;
  return {
    kind: 'refused',
    status: 403,
    substatus: 19,
    reason:
      `application pool ${policy.pool} is not granted replaceProcessToken (IIS: Replace a process level token), so it cannot start CGI as the user: ` +
      `${request.purpose} asked for OS account "${request.account}", the pool runs as "${policy.poolAccount}"`,
  };
}
