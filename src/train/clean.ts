/**
 * Clean, then retrain (cleanlab's CleanLearning; Northcutt et al. 2021): out-of-sample predicted
 * probabilities for every training item by k-fold cross-fitting (a model trained by the same
 * recipe on the other folds predicts each fold), the confident-learning label audit of the
 * annotation library (`auditLabels`, the same code as `gauntlet audit-labels`) on them, and the
 * recipe trained again on the items the audit does not flag.
 *
 * ```yaml
 * labels: { noise: { model: symmetric, rate: 0.4 } }
 * clean_labels: { folds: 4, then: retrain, method: prune-by-noise-rate }
 * ```
 * Folds are a seeded permutation (`Rng(seed).fork('folds')`); fold models train from the same
 * start as the final model (`init` of the recipe). The estimated noise rate also serves
 * co-teaching's `forget_rate: audit`. Costs `folds` trainings on (folds − 1)/folds of the data,
 * then one on the kept items.
 */
import { subset, type Dataset } from '../data/dataset.js';
import type { Model } from '../engine/model.js';
import { toProbabilities } from '../metrics/classification.js';
import { fail, opt, parseOptions, type ParseContext } from '../options/schema.js';
import { Rng } from '../rng.js';
import { AUDIT_METHODS, auditLabels, type LabelAudit } from '../stress/annotation/index.js';

export const CLEAN_LABELS_OPTIONS = {
  folds: opt.integer({ min: 2, max: 20, default: 4, doc: 'cross-fitting folds for out-of-sample probabilities' }),
  then: opt.choice(['retrain'] as const, { default: 'retrain', doc: 'retrain on the items the audit keeps' }),
  method: opt.choice(AUDIT_METHODS, { default: 'prune-by-noise-rate', doc: 'confident-learning flagging rule (as gauntlet audit-labels)' }),
};

export interface CleanLabelsSpec {
  folds: number;
  then: 'retrain';
  method: (typeof AUDIT_METHODS)[number];
}

export const CLEAN_LABELS_OPTION = opt.custom<CleanLabelsSpec | null, { default: null; doc: string; metavar: string; flag: false }>(
  'null or { folds, then: retrain, method }',
  (v: unknown, p: string, ctx: ParseContext) => {
    if (v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) fail(p, { code: 'type', value: v, expected: '{ folds, then: retrain, method }' });
    return parseOptions(CLEAN_LABELS_OPTIONS, v, { ...ctx, where: p }) as CleanLabelsSpec;
  },
  { default: null, doc: 'clean then retrain: k-fold out-of-sample probabilities, confident-learning audit, retrain on the kept items', metavar: 'SPEC', flag: false },
);

/** What cleaning found (TrainResult.cleaning, the CLI's summary). */
export interface CleaningSummary {
  folds: number;
  method: string;
  estimated_noise_rate: number;
  flagged: number;
  kept: number;
  /** Against the true labels: flagged items that were mislabelled / mislabelled items flagged. */
  precision: number;
  recall: number;
}

/** A fold split: `folds` disjoint index sets covering 0 … n − 1, from a seeded permutation. */
export function foldSplit(n: number, folds: number, seed: number): Int32Array[] {
  const perm = new Rng(seed).fork('folds').permutation(n);
  return Array.from({ length: folds }, (_, f) => Int32Array.from(perm.filter((_, i) => i % folds === f)).sort());
}

/**
 * Out-of-sample probabilities [n, K]: for each fold, `trainOn(items)` trains a model on the
 * other folds' items and predicts the fold.
 */
export async function crossFitProbabilities(data: Dataset, k: number, folds: Int32Array[], trainOn: (items: Int32Array, fold: number) => Promise<Model>): Promise<Float64Array> {
  const probs = new Float64Array(data.size * k);
  for (let f = 0; f < folds.length; f++) {
    const held = folds[f]!;
    const rest = Int32Array.from(folds.flatMap((s, g) => (g === f ? [] : [...s]))).sort();
    const m = await trainOn(rest, f);
    try {
      const p = await m.predict(subset(data, held), { batchSize: 256 });
      const pr = toProbabilities(p.scores, p.numClasses, p.kind);
      held.forEach((idx, i) => probs.set(pr.subarray(i * k, (i + 1) * k), idx * k));
    } finally {
      await m.close();
    }
  }
  return probs;
}

/** The audit of the training labels from out-of-sample probabilities, and its summary. */
export function auditTrainingLabels(probs: Float64Array, k: number, observed: Int32Array, trueLabels: Int32Array, spec: CleanLabelsSpec): { audit: LabelAudit; summary: CleaningSummary } {
  const audit = auditLabels(probs, k, observed, { method: spec.method, trueLabels });
  return {
    audit,
    summary: {
      folds: spec.folds, method: spec.method, estimated_noise_rate: audit.estimatedNoiseRate, flagged: audit.flagged.length, kept: observed.length - audit.flagged.length,
      precision: audit.vsInjected?.precision ?? NaN, recall: audit.vsInjected?.recall ?? NaN,
    },
  };
}
