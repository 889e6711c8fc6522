/**
 * Windowed population-stability-index monitor: PSI of the last `window` values against a reference
 * (the first `reference` values, or `setReference`), over the reference's 10 quantile bins (the
 * drift library's `psi`), tested at every update once the window is full; an alert when PSI
 * exceeds `threshold`. After an alert the window is emptied (the reference is kept).
 *
 * Defaults: reference 1000, window 200, threshold 0.25 — the usual "large shift" rule of thumb;
 * with 200 values a window of the reference distribution scores about 0.05 (≈ 9 · (1/200 + 1/1000)).
 *
 * Example: a uniform stream whose values are squeezed into [0, 0.5] from item 1500
 *   const m = new PSIWindow();
 *   const rng = new Rng(0);
 *   for (let i = 0; i < 2000; i++) if (m.update(rng.uniform() * (i >= 1500 ? 0.5 : 1)).driftDetected) console.log(i);
 *   // first alert at 1560
 */
import { psi, PSI_BINS, PSI_EPSILON } from '../../stress/drift/distance.js';
import { COUNT, resolveOptions, type OptionRanges } from '../options.js';
import { MONITOR_KINDS, type Monitor, type MonitorKind } from '../types.js';
import { ReferenceBuffer, ValueWindow } from '../window.js';

export interface PSIWindowOptions {
  /** The kind its alerts count as (default 'drift'). */
  kind?: MonitorKind;
  reference?: number;
  window?: number;
  /** Alert when the PSI exceeds this. */
  threshold?: number;
}

export const PSI_DEFAULTS: Required<PSIWindowOptions> = { kind: 'drift', reference: 1000, window: 200, threshold: 0.25 };
export const PSI_RANGES: OptionRanges<PSIWindowOptions> = { kind: MONITOR_KINDS, reference: COUNT(10), window: COUNT(10), threshold: { min: 0, minExclusive: true } };

export class PSIWindow implements Monitor<number> {
  readonly options: Required<PSIWindowOptions>;
  readonly kind: MonitorKind;
  private readonly ref: ReferenceBuffer;
  private refValues: Float64Array | null = null;
  private readonly win: ValueWindow;
  private detected = false;
  private stat = NaN;

  constructor(opts: PSIWindowOptions = {}) {
    this.options = resolveOptions('PSIWindow', PSI_DEFAULTS, PSI_RANGES, opts);
    this.kind = this.options.kind;
    this.ref = new ReferenceBuffer(this.options.reference);
    this.win = new ValueWindow(this.options.window);
  }

  get driftDetected(): boolean {
    return this.detected;
  }

  get statistic(): number {
    return this.stat;
  }

  get threshold(): number {
    return this.options.threshold;
  }

  setReference(values: ArrayLike<number>): this {
    this.ref.set(Array.from(values).slice(0, this.options.reference));
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
    this.stat = psi(this.refValues, this.win.values(), PSI_BINS, PSI_EPSILON);
    if (this.stat > this.options.threshold) {
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
