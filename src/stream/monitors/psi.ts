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
import { count, defaultsOf, kindOpt, probabilityOpen, resolveOptions } from '../options.js';
import { opt } from '../../options/schema.js';
import { type MonitorKind } from '../types.js';
import { WindowVsReference } from '../window.js';

export interface PSIWindowOptions {
  /** The kind its alerts count as (default 'drift'). */
  kind?: MonitorKind;
  reference?: number;
  window?: number;
  /** Alert when the PSI exceeds this. */
  threshold?: number;
}

export const PSI_OPTIONS = {
  kind: kindOpt('drift'),
  reference: count('values that form the reference', 1000, 10),
  window: count('values in the sliding window', 200, 10),
  threshold: opt.number({ doc: 'alert when the PSI exceeds this', min: 0, minExclusive: true, default: 0.25 }),
};
export const PSI_DEFAULTS = defaultsOf(PSI_OPTIONS) as Required<PSIWindowOptions>;

export class PSIWindow extends WindowVsReference {
  readonly options: Required<PSIWindowOptions>;

  constructor(opts: PSIWindowOptions = {}) {
    const options = resolveOptions('PSIWindow', PSI_OPTIONS, opts);
    super(options.kind, options.reference, options.window);
    this.options = options;
  }

  get threshold(): number {
    return this.options.threshold;
  }

  protected compare(reference: Float64Array, window: Float64Array): number {
    return psi(reference, window, PSI_BINS, PSI_EPSILON);
  }
}
