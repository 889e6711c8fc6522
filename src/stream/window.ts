import type { Monitor, MonitorKind } from './types.js';

/** The last `size` numbers of a stream, oldest first on read (a ring buffer). */
export class ValueWindow {
  private readonly buf: Float64Array;
  private next = 0;
  length = 0;

  constructor(readonly size: number) {
    this.buf = new Float64Array(size);
  }

  get full(): boolean {
    return this.length === this.size;
  }

  push(v: number): void {
    this.buf[this.next] = v;
    this.next = (this.next + 1) % this.size;
    if (this.length < this.size) this.length++;
  }

  /** A copy of the values, oldest first. */
  values(): Float64Array {
    const out = new Float64Array(this.length);
    const start = (this.next - this.length + this.size) % this.size;
    for (let i = 0; i < this.length; i++) out[i] = this.buf[(start + i) % this.size]!;
    return out;
  }

  clear(): void {
    this.next = 0;
    this.length = 0;
  }
}

/** Collects the first `size` values of a stream (a monitor's reference). */
export class ReferenceBuffer {
  private readonly buf: number[] = [];
  constructor(readonly size: number) {}

  get ready(): boolean {
    return this.buf.length >= this.size;
  }

  /** Adds a value while still collecting; returns true once the reference is complete. */
  add(v: number): boolean {
    if (this.buf.length < this.size) this.buf.push(v);
    return this.ready;
  }

  values(): Float64Array {
    return Float64Array.from(this.buf);
  }

  set(values: ArrayLike<number>): void {
    this.buf.length = 0;
    for (let i = 0; i < values.length; i++) this.buf.push(values[i]!);
  }

  clear(): void {
    this.buf.length = 0;
  }
}

/**
 * A monitor that learns a reference from the first `reference` values (or is given one), then
 * compares each full window of the latest `window` values with it through `compare`, alerting
 * (and emptying the window, keeping the reference) when the statistic exceeds `threshold`.
 * KS and PSI differ only in `compare` and `threshold`.
 */
export abstract class WindowVsReference implements Monitor<number> {
  private readonly ref: ReferenceBuffer;
  private refValues: Float64Array | null = null;
  private readonly win: ValueWindow;
  private detected = false;
  private stat = NaN;
  abstract readonly threshold: number;

  constructor(
    readonly kind: MonitorKind,
    private readonly referenceSize: number,
    windowSize: number,
  ) {
    this.ref = new ReferenceBuffer(referenceSize);
    this.win = new ValueWindow(windowSize);
  }

  /** The test statistic of a full window against the reference. */
  protected abstract compare(reference: Float64Array, window: Float64Array): number;

  get driftDetected(): boolean {
    return this.detected;
  }

  get statistic(): number {
    return this.stat;
  }

  /** Uses `values` as the reference instead of learning it from the stream (its size must be `reference`). */
  setReference(values: ArrayLike<number>): this {
    this.ref.set(Array.from(values).slice(0, this.referenceSize));
    this.refValues = this.ref.ready ? this.ref.values() : null;
    return this;
  }

  update(x: number): this {
    this.detected = false;
    if (!this.refValues) {
      if (this.ref.add(x)) this.refValues = this.ref.values();
      return this;
    }
    this.win.push(x);
    if (!this.win.full) return this;
    this.stat = this.compare(this.refValues, this.win.values());
    if (this.stat > this.threshold) {
      this.detected = true;
      this.win.clear();
    }
    return this;
  }

  reset(): void {
    this.ref.clear();
    this.refValues = null;
    this.win.clear();
    this.detected = false;
    this.stat = NaN;
  }
}
