import { requireLabels, type Dataset } from '../data/dataset.js';
import { classificationMetrics, toProbabilities, type ClassificationMetrics } from '../metrics/classification.js';
import type { Classifier } from './classifier.js';
import type { OutputKind, PredictOptions } from './model.js';
import { lowerMedian } from '../timing.js';

export interface Evaluation extends ClassificationMetrics {
  numClasses: number;
  outputKind: OutputKind;
  /** Wall-clock seconds of prediction (all batches). */
  seconds: number;
  /** Median per-batch latency in milliseconds. */
  batchMsMedian: number;
}

/** Predicts a labelled dataset and computes accuracy, ECE, NLL, Brier and macro-F1 against its labels. */
export async function evaluate(model: Classifier, ds: Dataset, opts: PredictOptions = {}): Promise<Evaluation> {
  const labels = requireLabels(ds, 'evaluation');
  model.checkData(ds);
  const t0 = performance.now();
  const pred = await model.predict(ds, opts);
  const seconds = (performance.now() - t0) / 1000;
  model.checkData(ds, pred.numClasses);
  const probs = toProbabilities(pred.scores, pred.numClasses, pred.kind);
  return {
    ...classificationMetrics(probs, pred.numClasses, labels),
    numClasses: pred.numClasses,
    outputKind: pred.kind,
    seconds,
    batchMsMedian: pred.batchMs.length ? lowerMedian(pred.batchMs) : 0,
  };
}
