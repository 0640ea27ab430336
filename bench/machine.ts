/** Facts that make a result file comparable with another: the machine, the versions, the source revision. */
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { commandOutput } from './system.js';

export interface MachineFacts {
  date: string;
  node: string;
  kernel: string;
  cores: number;
  cpuModel: string;
  memoryBytes: number;
  /** 1, 5 and 15 minute load averages when the run started: other work on the machine skews every number. */
  loadAverage: number[];
  wrk: string | null;
  /** git HEAD of the working tree, with "+dirty" when it has changes. */
  revision: string | null;
}

function git(repo: string, args: string[]): string | null {
  const r = spawnSync('git', ['--no-optional-locks', '-C', repo, ...args], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function machineFacts(repoRoot: string, wrkBin: string): MachineFacts {
  const head = git(repoRoot, ['rev-parse', '--short', 'HEAD']);
  const dirty = git(repoRoot, ['status', '--porcelain', '--untracked-files=no']);
  return {
    date: new Date().toISOString(),
    node: process.version,
    kernel: release(),
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    wrk: /wrk (\S+)/.exec(commandOutput(wrkBin, ['--version']))?.[1] ?? null,
    revision: head === null ? null : `${head}${dirty ? '+dirty' : ''}`,
  };
}
