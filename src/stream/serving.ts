/**
 * The timed replay: items reach a model server at their simulated arrival times (from the offered
 * rate; nothing sleeps) and are served in micro-batches by real ORT runs, dynamic-batching style —
 * a batch opens when an item arrives at a free server and closes `maxWait` seconds later or when
 * `maxBatch` items have arrived; while the server is busy, arrivals queue and the next batch takes
 * up to `maxBatch` of them as soon as it is free. The service time of each batch is the measured
 * wall time of its `predictBatch`; an item's latency is its batch's completion minus its arrival
 * (queueing + batching + inference). The simulator calls `serve` once per chunk of the stream, so a
 * batch never spans two chunks (`batch_size` items, 256 by default). Timings vary from run to run;
 * predictions do not depend on them.
 */
import type { Classifier } from '../engine/classifier.js';

/** Percentile by linear interpolation between order statistics (NumPy's default); NaN when empty. */
export function percentile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values).filter((v) => !Number.isNaN(v)).sort();
  if (s.length === 0) return NaN;
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (pos - lo) * (s[hi]! - s[lo]!);
}

export class ServingSimulator {
  /** Simulated time (s) at which the server is next free. */
  private free = 0;
  /** Measured service time of each batch (ms). */
  readonly serviceMs: number[] = [];
  /** Items served. */
  served = 0;
  firstArrival = Infinity;
  lastDone = 0;

  constructor(
    readonly model: Classifier,
    readonly maxBatch: number,
    /** Seconds a batch waits for more items. */
    readonly maxWait: number,
  ) {}

  /**
   * Serves `rows` (local indices into `x`, items of `per` values) arriving at `arrivals` (seconds,
   * non-decreasing); writes each item's latency (s) and completion time into `latency[index[k]]`
   * and `done[index[k]]`.
   */
  async serve(x: Float32Array, per: number, rows: readonly number[], arrivals: readonly number[], index: readonly number[], latency: Float64Array, done: Float64Array): Promise<void> {
    const m = rows.length;
    if (m === 0) return;
    this.firstArrival = Math.min(this.firstArrival, arrivals[0]!);
    let i = 0;
    while (i < m) {
      const open = arrivals[i]!;
      let start: number;
      if (this.free > open) start = this.free;
      else {
        const fill = i + this.maxBatch - 1 < m ? arrivals[i + this.maxBatch - 1]! : Infinity;
        start = Math.min(open + this.maxWait, fill);
        if (!Number.isFinite(start)) start = open;
      }
      let j = i + 1;
      while (j < m && j - i < this.maxBatch && arrivals[j]! <= start) j++;
      const batch = new Float32Array((j - i) * per);
      for (let k = i; k < j; k++) batch.set(x.subarray(rows[k]! * per, (rows[k]! + 1) * per), (k - i) * per);
      const t0 = performance.now();
      await this.model.predictBatch(batch, j - i);
      const ms = performance.now() - t0;
      this.serviceMs.push(ms);
      const end = start + ms / 1000;
      for (let k = i; k < j; k++) {
        latency[index[k]!] = end - arrivals[k]!;
        done[index[k]!] = end;
      }
      this.free = end;
      this.lastDone = Math.max(this.lastDone, end);
      this.served += j - i;
      i = j;
    }
  }

  /** Served items per simulated second, from the first arrival to the last completion. */
  get throughput(): number {
    const span = this.lastDone - this.firstArrival;
    return span > 0 ? this.served / span : NaN;
  }
}
