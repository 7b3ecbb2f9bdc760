/**
 * A log-scale histogram: constant memory however many samples (millions of requests per run),
 * mergeable across threads, about 1 % relative resolution (64 buckets per power of two). Values
 * below 1 share the first bucket: record in a unit where 1 is negligible (µs for latencies).
 */
const PER_OCTAVE = 64;
const OCTAVES = 40;
const BUCKETS = PER_OCTAVE * OCTAVES + 1;

export class LogHistogram {
  readonly counts: Float64Array;
  total = 0;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(BUCKETS);
    for (const c of this.counts) this.total += c;
  }

  add(value: number): void {
    const bucket = value < 1 ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log2(value) * PER_OCTAVE));
    this.counts[bucket]! += 1;
    this.total += 1;
  }

  merge(other: LogHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
  }

  /** The p-th percentile (0-100): the middle of its bucket (geometric), NaN when empty. */
  percentile(p: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.min(this.total, Math.max(1, Math.ceil((p / 100) * this.total)));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return i === 0 ? 0 : 2 ** ((i - 0.5) / PER_OCTAVE);
    }
    return Number.NaN;
  }
}
