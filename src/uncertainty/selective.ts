import { DataError, UsageError } from '../errors.js';
import { itemStats, metricsFromStats, riskCoverage, type ItemStats } from '../metrics/suite.js';

/**
 * Selective prediction (safe-fail): the model answers when its confidence — the top-class
 * probability — is at least a threshold τ and abstains otherwise.
 *
 * - coverage(τ) = share of items answered; risk(τ) = error rate among answered items, defined as 0
 *   when nothing is answered.
 * - The risk–coverage curve is the metric suite's `riskCoverage`: items ordered by confidence,
 *   descending (ties: lower item index first), the error rate among the k most confident items at
 *   up to `maxPoints` evenly spaced k (always including full coverage). AURC is the suite's
 *   `metricsFromStats(...).aurc` (the mean over all k of that error rate).
 * - `fitSelectiveThreshold` picks, on calibration items, the lowest τ (= the highest coverage)
 *   whose empirical selective risk is ≤ the target. Only cuts between distinct confidences are
 *   candidates (an item is answered iff confidence ≥ τ). This is an empirical choice without a
 *   finite-sample guarantee; the evaluation split shows how well it holds even on clean data.
 *   When no cut meets the target, τ = Number.MAX_VALUE (abstain on everything).
 */
export interface RiskCoverageCurve {
  coverage: number[];
  risk: number[];
  /** Confidence of the least confident item answered at each point. */
  threshold: number[];
  aurc: number;
}

export function riskCoverageCurve(probs: Float64Array, numClasses: number, labels: Int32Array, maxPoints = 50): RiskCoverageCurve {
  if (!(Number.isInteger(maxPoints) && maxPoints >= 1)) throw new UsageError(`'maxPoints' must be an integer >= 1, got ${maxPoints}`);
  const s = stats(probs, numClasses, labels);
  const pts = riskCoverage(s, maxPoints);
  return { coverage: pts.map((p) => p.coverage), risk: pts.map((p) => p.risk), threshold: pts.map((p) => p.threshold), aurc: metricsFromStats(s, null, 0).aurc };
}

/** A confidence threshold with the risk and coverage it gives on some items. */
export interface SelectiveOutcome {
  threshold: number;
  risk: number;
  coverage: number;
  /** Items answered. */
  answered: number;
  items: number;
}

export function fitSelectiveThreshold(probs: Float64Array, numClasses: number, labels: Int32Array, targetRisk: number): SelectiveOutcome & { targetRisk: number } {
  if (!(typeof targetRisk === 'number' && targetRisk >= 0 && targetRisk < 1)) throw new UsageError(`'targetRisk' must be in [0, 1), got ${String(targetRisk)}`);
  const s = stats(probs, numClasses, labels);
  let best = 0;
  let bestErrs = 0;
  let errs = 0;
  for (let k = 1; k <= s.n; k++) {
    errs += 1 - s.correct[s.order[k - 1]!]!;
    const cut = k === s.n || s.conf[s.order[k]!]! < s.conf[s.order[k - 1]!]!;
    if (cut && errs <= targetRisk * k) {
      best = k;
      bestErrs = errs;
    }
  }
  const threshold = best === 0 ? Number.MAX_VALUE : s.conf[s.order[best - 1]!]!;
  return { targetRisk, threshold, risk: best ? bestErrs / best : 0, coverage: best / s.n, answered: best, items: s.n };
}

/** Per item: answered (confidence ≥ `threshold`) and wrong (arg-max ≠ label), as 0/1. */
export function selectiveItems(probs: Float64Array, numClasses: number, labels: Int32Array, threshold: number): { answered: Uint8Array; wrong: Uint8Array } {
  const s = stats(probs, numClasses, labels);
  return { answered: Uint8Array.from(s.conf, (c) => (c >= threshold ? 1 : 0)), wrong: Uint8Array.from(s.correct, (ok) => 1 - ok) };
}

/** Risk and coverage of answering items whose confidence is ≥ `threshold`. */
export function selectiveAt(probs: Float64Array, numClasses: number, labels: Int32Array, threshold: number): SelectiveOutcome {
  const { answered: a, wrong } = selectiveItems(probs, numClasses, labels, threshold);
  let answered = 0;
  let errs = 0;
  for (let i = 0; i < a.length; i++) {
    answered += a[i]!;
    errs += a[i]! & wrong[i]!;
  }
  return { threshold, risk: answered ? errs / answered : 0, coverage: answered / a.length, answered, items: a.length };
}

function stats(probs: Float64Array, numClasses: number, labels: Int32Array): ItemStats {
  if (labels.length === 0) throw new DataError('selective prediction needs at least one labelled item');
  if (probs.length !== labels.length * numClasses) throw new DataError(`selective prediction: ${probs.length / numClasses} probability rows for ${labels.length} labels`);
  return itemStats(probs, numClasses, labels);
}
