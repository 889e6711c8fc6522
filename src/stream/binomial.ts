/**
 * Windowed rate test shared by the monitors that watch a 0/1 signal against a reference rate
 * (squeeze flags, annotator disagreement): over the last `window` items, alert when the count of
 * ones is so high that P(Bin(window, p0) ≥ count) ≤ α. The critical count is computed once from
 * the exact binomial tail (log space), so each update costs O(1).
 */
import { UsageError } from '../errors.js';
import type { Monitor, MonitorKind } from './types.js';

/** Smallest k with P(Bin(n, p) ≥ k) ≤ alpha (n + 1 when no count is that unlikely). */
export function binomialCriticalCount(n: number, p: number, alpha: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`'n' must be a positive integer, got ${n}`);
  if (!(p > 0 && p < 1)) throw new UsageError(`'p' must be in (0, 1), got ${p}`);
  const logPmf = new Float64Array(n + 1);
  logPmf[0] = n * Math.log1p(-p);
  const odds = Math.log(p) - Math.log1p(-p);
  for (let k = 0; k < n; k++) logPmf[k + 1] = logPmf[k]! + Math.log((n - k) / (k + 1)) + odds;
  // upper tail from the top, in log space
  let logTail = -Infinity;
  const logAlpha = Math.log(alpha);
  for (let k = n; k >= 0; k--) {
    const a = logTail;
    const b = logPmf[k]!;
    const m = Math.max(a, b);
    const next = m + Math.log(Math.exp(a - m) + Math.exp(b - m));
    if (next > logAlpha) return k + 1;
    logTail = next;
  }
  return 0;
}

/** The last `window` bits and their count. */
export class BitWindow {
  private readonly bits: Uint8Array;
  private next = 0;
  private filled = 0;
  count = 0;

  constructor(readonly window: number) {
    this.bits = new Uint8Array(window);
  }

  get full(): boolean {
    return this.filled === this.window;
  }

  push(bit: 0 | 1): void {
    if (this.filled === this.window) this.count -= this.bits[this.next]!;
    else this.filled++;
    this.bits[this.next] = bit;
    this.count += bit;
    this.next = (this.next + 1) % this.window;
  }

  clear(): void {
    this.bits.fill(0);
    this.next = 0;
    this.filled = 0;
    this.count = 0;
  }
}

/**
 * The windowed rate test with its state: the reference rate (Laplace-smoothed), the critical
 * count, the window of bits and the latest statistic and verdict. A monitor decides what a bit is
 * and how its reference is learnt, then feeds bits here.
 */
export class BinomialRateTest {
  private readonly bits: BitWindow;
  /** Rate of ones in the reference, (ones + 1) / (items + 2); NaN until calibrated. */
  referenceRate = NaN;
  /** The count of ones in a full window that raises an alert; NaN until calibrated. */
  critical = NaN;
  /** Ones in the window at the latest test (NaN before the first full window). */
  statistic = NaN;
  /** Whether the latest update raised an alert. */
  detected = false;

  constructor(
    readonly window: number,
    readonly alpha: number,
  ) {
    this.bits = new BitWindow(window);
  }

  /** Sets the reference from `ones` of `items` reference items. */
  calibrate(ones: number, items: number): void {
    this.referenceRate = (ones + 1) / (items + 2);
    this.critical = binomialCriticalCount(this.window, this.referenceRate, this.alpha);
  }

  /** Adds one bit; on a full window whose count reaches the critical count, alerts and empties the window. */
  push(bit: 0 | 1): void {
    this.bits.push(bit);
    if (!this.bits.full) return;
    this.statistic = this.bits.count;
    if (this.statistic >= this.critical) {
      this.detected = true;
      this.bits.clear();
    }
  }

  reset(): void {
    this.referenceRate = NaN;
    this.critical = NaN;
    this.statistic = NaN;
    this.detected = false;
    this.bits.clear();
  }
}

/**
 * A monitor whose alerts come from a BinomialRateTest on a 0/1 signal (squeeze flags, annotator
 * disagreement): it holds the test and exposes its verdict; a subclass turns inputs into bits
 * and learns the reference.
 */
export abstract class BinomialRateMonitor<T, O extends { kind: MonitorKind; window: number; alpha: number }> implements Monitor<T> {
  readonly kind: MonitorKind;
  protected readonly test: BinomialRateTest;

  constructor(readonly options: O) {
    this.kind = options.kind;
    this.test = new BinomialRateTest(options.window, options.alpha);
  }

  get driftDetected(): boolean {
    return this.test.detected;
  }

  /** Ones (disputed or flagged items) in the window at the latest test (NaN before the first full window). */
  get statistic(): number {
    return this.test.statistic;
  }

  /** The count of ones that raises an alert. */
  get threshold(): number {
    return this.test.critical;
  }

  /** Rate of ones in the reference (Laplace-smoothed). */
  get referenceRate(): number {
    return this.test.referenceRate;
  }

  abstract update(x: T): this;
  abstract reset(): void;
}
