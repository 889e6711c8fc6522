import { DatasetHasher, requireLabels, type Dataset } from '../data/dataset.js';
import { batchAligned, defaultChunkItems, type ChunkedData } from '../data/chunked.js';
import { DataError } from '../errors.js';
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

/** `evaluate` over chunked data, plus the data's content hash from the same pass. */
export interface ChunkedEvaluation extends Evaluation {
  samples: number;
  dataSha256: string;
}

/**
 * `evaluate` reading the data in chunks (see data/chunked.ts): memory holds one chunk of inputs and
 * the scores (numClasses values an item), not the whole input set. Chunks are whole multiples of
 * the batch size, so the model sees exactly the batches `evaluate` gives it and the figures are the
 * same; the data checks (shape, bounds, labels vs classes) are `evaluate`'s, chunk by chunk.
 */
export async function evaluateChunked(model: Classifier, data: ChunkedData, opts: PredictOptions & { chunkItems?: number } = {}): Promise<ChunkedEvaluation> {
  const labels = data.labels;
  if (!labels) throw new DataError(`${data.name}: has no labels, which evaluation needs`);
  const batchSize = opts.batchSize ?? 256;
  const chunk = batchAligned(opts.chunkItems ?? defaultChunkItems(data.itemShape), batchSize);
  const hasher = new DatasetHasher(data.size, data.itemShape, true);
  let scores: Float32Array | null = null;
  let numClasses = 0;
  let kind: OutputKind = 'logits';
  const batchMs: number[] = [];
  let seconds = 0;
  for await (const c of data.chunks(chunk)) {
    hasher.update(c.x);
    const view = { name: data.name, size: c.size, itemShape: data.itemShape, x: c.x, labels: null } as unknown as Dataset;
    model.checkData(view);
    const t0 = performance.now();
    const pred = await model.predictItems(c.x, c.size, { batchSize, onProgress: (done) => opts.onProgress?.(c.start + done, data.size) });
    seconds += (performance.now() - t0) / 1000;
    if (!scores) {
      numClasses = pred.numClasses;
      scores = new Float32Array(data.size * numClasses);
    }
    scores.set(pred.scores, c.start * numClasses);
    batchMs.push(...pred.batchMs);
    kind = pred.kind;
  }
  const all = scores ?? new Float32Array(0);
  model.checkData({ name: data.name, size: data.size, itemShape: data.itemShape, x: new Float32Array(0), labels } as unknown as Dataset, numClasses);
  const probs = toProbabilities(all, numClasses, kind);
  return {
    ...classificationMetrics(probs, numClasses, labels),
    numClasses,
    outputKind: kind,
    seconds,
    batchMsMedian: batchMs.length ? lowerMedian(batchMs) : 0,
    samples: data.size,
    dataSha256: hasher.digest(labels),
  };
}
