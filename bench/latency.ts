/**
 * Latencies of the Node load generator, kept as wrk keeps them: every sample counted in a histogram, so the
 * percentiles are exact to the bucket (1 µs below 100 ms, 1 ms above, up to 100 s) whatever the number of samples,
 * and histograms of several worker threads add up.
 */

const FINE = 100_000; // 1 µs buckets: 0 … 99 999 µs
const COARSE = 100_000; // 1 ms buckets: 100 ms … 100 s

export interface LatencySummary {
  mean: number;
  stdev: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(FINE + COARSE + 1);
  count = 0;
  sum = 0;
  sumSquares = 0;
  min = Infinity;
  max = 0;

  record(us: number): void {
    const v = us < 0 ? 0 : us;
    const i = v < FINE ? Math.floor(v) : Math.min(FINE + Math.floor((v - FINE) / 1000), FINE + COARSE);
    this.counts[i]! += 1;
    this.count += 1;
    this.sum += v;
    this.sumSquares += v * v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Adds another histogram's samples (a worker's, sent as its plain fields). */
  add(o: Pick<LatencyHistogram, 'counts' | 'count' | 'sum' | 'sumSquares' | 'min' | 'max'>): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += o.counts[i]!;
    this.count += o.count;
    this.sum += o.sum;
    this.sumSquares += o.sumSquares;
    this.min = Math.min(this.min, o.min);
    this.max = Math.max(this.max, o.max);
  }

  /** The upper bound of the bucket holding the p-th percentile sample, in µs. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(i < FINE ? i + 1 : FINE + (i - FINE + 1) * 1000, this.max);
    }
    return this.max;
  }

  summary(): LatencySummary {
    if (this.count === 0) return { mean: 0, stdev: 0, min: 0, max: 0, p50: 0, p90: 0, p99: 0 };
    const mean = this.sum / this.count;
    const variance = Math.max(0, this.sumSquares / this.count - mean * mean);
    return { mean, stdev: Math.sqrt(variance), min: this.min, max: this.max, p50: this.percentile(50), p90: this.percentile(90), p99: this.percentile(99) };
  }
}
