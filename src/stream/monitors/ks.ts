/**
 * Windowed Kolmogorov–Smirnov monitor: the two-sample KS statistic D between a reference (the
 * first `reference` values, or `setReference`) and the last `window` values, tested at every
 * update once the window is full; an alert when the asymptotic p-value falls below `alpha`
 * (equivalently D > the critical D for those sample sizes, shown as `threshold`). Feed it one
 * number per item: a prediction's top-1 confidence, or an input statistic (see `inputSignals` in ../signals.ts).
 *
 * After an alert the window is emptied (the reference is kept), so the next test comes `window`
 * items later. The statistic and p-value are the drift library's `ksStatistic` / `ksPValue`.
 *
 * Defaults: reference 1000, window 100, alpha 1e-4 (sized for a few false alarms per 100,000
 * items on a stationary stream while catching a shift of the confidence distribution within a
 * few dozen items).
 *
 * Example: a standard normal stream that shifts by +1 at item 1500
 *   const ks = new KSWindow();
 *   const rng = new Rng(0);
 *   for (let i = 0; i < 2000; i++) if (ks.update(rng.normal() + (i >= 1500 ? 1 : 0)).driftDetected) console.log(i);
 *   // first alert at 1541 (then 1641, 1741: the window refills after each alert)
 */
import { ksPValue, ksStatistic } from '../../stress/drift/distance.js';
import { count, defaultsOf, kindOpt, probabilityOpen, resolveOptions } from '../options.js';
import { opt } from '../../options/schema.js';
import { type MonitorKind } from '../types.js';
import { WindowVsReference } from '../window.js';

export interface KSWindowOptions {
  /** The kind its alerts count as (default 'drift'). */
  kind?: MonitorKind;
  /** Values that form the reference (learned from the start of the stream). */
  reference?: number;
  /** Values in the sliding window compared with the reference. */
  window?: number;
  /** Alert when the KS p-value is below this. */
  alpha?: number;
}

export const KS_OPTIONS = {
  kind: kindOpt('drift'),
  reference: count('values that form the reference (from the start of the stream)', 1000, 10),
  window: count('values in the sliding window compared with the reference', 100, 10),
  alpha: probabilityOpen('alert when the KS p-value is below this', 1e-4),
};
export const KS_DEFAULTS = defaultsOf(KS_OPTIONS) as Required<KSWindowOptions>;

/** The smallest KS statistic whose p-value is below alpha for samples of n and m. */
export function ksCriticalValue(n: number, m: number, alpha: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (ksPValue(mid, n, m) < alpha) hi = mid;
    else lo = mid;
  }
  return hi;
}

export class KSWindow extends WindowVsReference {
  readonly options: Required<KSWindowOptions>;
  readonly threshold: number;

  constructor(opts: KSWindowOptions = {}) {
    const options = resolveOptions('KSWindow', KS_OPTIONS, opts);
    super(options.kind, options.reference, options.window);
    this.options = options;
    this.threshold = ksCriticalValue(this.options.reference, this.options.window, this.options.alpha);
  }

  protected compare(reference: Float64Array, window: Float64Array): number {
    return ksStatistic(reference, window);
  }
}
