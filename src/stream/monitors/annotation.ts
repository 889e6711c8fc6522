/**
 * Annotation-disagreement monitor: fed the labels several annotators gave one item (−1 where an
 * annotator gave none), it counts an item as disputed when its labels are not unanimous (items with
 * fewer than two labels are skipped). It learns the reference dispute rate p0 from the first
 * `reference` labelled items (Laplace-smoothed) and alerts when the disputed items in the last
 * `window` are too many for it: P(Bin(window, p0) ≥ count) ≤ alpha. After an alert the window is
 * emptied (the reference is kept). A labelling team that starts to disagree — tired, new, or given
 * harder items — shows here before the noisy labels reach training.
 *
 * Defaults: reference 300, window 50, alpha 1e-4. Three annotators of accuracy 0.95 dispute about
 * 14 % of items; at accuracy 0.6 about 78 %.
 *
 * Example: three annotators of accuracy 0.95 on 10 classes, 0.6 from item 1000
 *   const m = new AnnotationDisagreement();
 *   const rng = new Rng(0);
 *   for (let i = 0; i < 1500; i++) {
 *     const y = rng.int(10);
 *     const labels = [0, 1, 2].map(() => (rng.uniform() < (i < 1000 ? 0.95 : 0.6) ? y : (y + 1 + rng.int(9)) % 10));
 *     if (m.update(labels).driftDetected) console.log(i);
 *   }
 *   // first alert at 1022
 */
import { BinomialRateMonitor } from '../binomial.js';
import { count, defaultsOf, kindOpt, probabilityOpen, resolveOptions } from '../options.js';
import { opt } from '../../options/schema.js';
import { type MonitorKind } from '../types.js';

export interface AnnotationDisagreementOptions {
  kind?: MonitorKind;
  reference?: number;
  window?: number;
  alpha?: number;
}

export const ANNOTATION_OPTIONS = {
  kind: kindOpt('annotation'),
  reference: count('items whose disagreement rate forms the reference', 300, 10),
  window: count('items in the sliding window', 50, 5),
  alpha: probabilityOpen('alert when the binomial p-value is below this', 1e-4),
};
export const ANNOTATION_DEFAULTS = defaultsOf(ANNOTATION_OPTIONS) as Required<AnnotationDisagreementOptions>;

/** 1 when the item's labels (−1 = none) are not unanimous, 0 when they are, null with fewer than two labels. */
export function disputed(labels: ArrayLike<number>): 0 | 1 | null {
  let first = -1;
  let count = 0;
  let differ = false;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l < 0) continue;
    if (count === 0) first = l;
    else if (l !== first) differ = true;
    count++;
  }
  return count < 2 ? null : differ ? 1 : 0;
}

export class AnnotationDisagreement extends BinomialRateMonitor<ArrayLike<number>, Required<AnnotationDisagreementOptions>> {
  private refItems = 0;
  private refDisputed = 0;

  constructor(opts: AnnotationDisagreementOptions = {}) {
    super(resolveOptions('AnnotationDisagreement', ANNOTATION_OPTIONS, opts));
  }

  update(labels: ArrayLike<number>): this {
    this.test.detected = false;
    const d = disputed(labels);
    if (d === null) return this;
    if (this.refItems < this.options.reference) {
      this.refItems++;
      this.refDisputed += d;
      if (this.refItems === this.options.reference) this.test.calibrate(this.refDisputed, this.refItems);
      return this;
    }
    this.test.push(d);
    return this;
  }

  reset(): void {
    this.refItems = 0;
    this.refDisputed = 0;
    this.test.reset();
  }
}
