/**
 * Per-request trace (IIS Failed Request Tracing's spirit): one line per decision, with its reason. Off by default
 * (settings.trace.enabled); when off, no Trace object exists and recording costs one branch.
 */
import type { StageName } from './context.js';

export interface TraceEntry {
  readonly atMs: number;
  readonly stage: StageName;
  readonly decision: string;
  readonly reason: string;
}

export class Trace {
  readonly entries: TraceEntry[] = [];
  constructor(private readonly start: bigint) {}

  record(stage: StageName, decision: string, reason: string): void {
    this.entries.push({ atMs: Number(process.hrtime.bigint() - this.start) / 1e6, stage, decision, reason });
  }
}
