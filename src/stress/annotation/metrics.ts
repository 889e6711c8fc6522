/**
 * Two views of every metric. Wherever labels are noisy, a team measures its model against the
 * observed labels, though what matters is the true ones; the gap (observed − true) is how wrong
 * its own measurements are. For accuracy, a positive gap would mean the noisy labels flatter the
 * model; usually it is negative (the model is right where the label is wrong).
 *
 * Example: `noisyLabelMetrics(probs, 10, y, noisy.observed).gap.accuracy` ≈ −0.09 at 10 % noise.
 */
import { DataError } from '../../errors.js';
import { classificationMetrics, type ClassificationMetrics } from '../../metrics/classification.js';

export interface NoisyLabelMetrics {
  /** Metrics against the true labels. */
  readonly true: ClassificationMetrics;
  /** Metrics against the observed (noisy) labels. */
  readonly observed: ClassificationMetrics;
  /** observed − true for each metric (samples: 0). */
  readonly gap: ClassificationMetrics;
  /** Share of items whose observed label differs from the true one. */
  readonly labelNoiseRate: number;
}

export function noisyLabelMetrics(probs: Float64Array, numClasses: number, trueLabels: ArrayLike<number>, observed: ArrayLike<number>): NoisyLabelMetrics {
  if (trueLabels.length !== observed.length) throw new DataError(`${trueLabels.length} true labels but ${observed.length} observed labels`);
  if (probs.length !== trueLabels.length * numClasses) throw new DataError(`${probs.length} probabilities for ${trueLabels.length} items of ${numClasses} classes`);
  const t = classificationMetrics(probs, numClasses, trueLabels);
  const o = classificationMetrics(probs, numClasses, observed);
  let diff = 0;
  for (let i = 0; i < observed.length; i++) if (observed[i] !== trueLabels[i]) diff++;
  return {
    true: t,
    observed: o,
    gap: {
      samples: 0,
      accuracy: o.accuracy - t.accuracy,
      ece: o.ece - t.ece,
      nll: o.nll - t.nll,
      brier: o.brier - t.brier,
      macroF1: o.macroF1 - t.macroF1,
    },
    labelNoiseRate: observed.length ? diff / observed.length : 0,
  };
}
