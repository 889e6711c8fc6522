/**
 * The per-cell data the report shows beyond the metrics and the reliability / risk–coverage data
 * the runner already stores: a small image gallery, and annotation quality (per-annotator accuracy
 * and the label audit's flags). The runner builds them with `galleryItems` (every cell whose items
 * are images) and `annotationQuality` (cells with annotation noise) and stores them as
 * `CellResult.gallery` and `CellResult.annotation_quality`; the report renders each when present
 * and says "not available in this run" when absent.
 *
 * Size per cell: 6 items × three PNGs (~0.3–1 KB each for 28×28 greyscale; noisy images compress
 * less), ≤ 25 flagged labels — a few KB to ~20 KB.
 *
 * Example (in the runner, after predicting a cell; `pred.x` are the inputs the model saw):
 *   result.gallery = galleryItems({ probs: pred.probs, numClasses: K, labels: cellLabels, observed: cellObserved,
 *     inputs: pred.x, clean: indices ? subset(ds, indices).x : ds.x, itemShape: ds.itemShape, cleanProbs, ids });
 *   result.annotation_quality = annotationQuality(ann, auditLabels(cleanProbs, K, ann.observed, { trueLabels: labels }), { ids });
 */
import type { AnnotationResult, LabelAudit } from '../stress/annotation/index.js';
import { DataError } from '../errors.js';
import { argmaxAt } from '../metrics/classification.js';
import { galleryImage, galleryPositions, type GalleryImage } from './images.js';

/** One gallery item of a cell: its pictures, labels and predictions. */
export interface GalleryItem extends GalleryImage {
  /** Position of the item among the cell's items (for resampled cells, an index into `item_indices`). */
  index: number;
  /** The dataset's item id, when it has ids. */
  id: string | null;
  true_label: number;
  /** The (noisy) label the team would see; null without annotation noise. */
  observed_label: number | null;
  /** This cell's prediction and its top-label confidence. */
  predicted: number;
  confidence: number;
  /** The clean input's prediction and confidence (null when not given). */
  clean_predicted: number | null;
  clean_confidence: number | null;
}

/** One annotator's quality: realised accuracy against the true labels, and the aggregator's estimate. */
export interface AnnotatorQuality {
  id: string;
  kind: string;
  /** Labels this annotator gave. */
  labels: number;
  /** Of those, equal to the true label. */
  correct: number;
  /** Accuracy the aggregation (e.g. Dawid–Skene) estimated without seeing true labels; null if none. */
  estimated_accuracy: number | null;
}

/** A label the audit (confident learning) flagged as likely wrong. */
export interface FlaggedLabel {
  index: number;
  id: string | null;
  observed: number;
  /** The model's arg-max class. */
  suggested: number;
  true_label: number;
  /** Self-confidence p(observed label): lower is more suspicious. */
  quality: number;
}

export interface AnnotationQuality {
  /** How consensus labels were formed ('majority', 'dawid-skene'), or null for noise models. */
  aggregation: string | null;
  annotators: AnnotatorQuality[] | null;
  audit: {
    method: string;
    estimated_noise_rate: number;
    flagged_count: number;
    /** Labels actually wrong (observed ≠ true), and flagged ∩ wrong. */
    flipped_count: number;
    true_positives: number;
    /** The most suspicious flagged labels, lowest quality first (at most `maxFlagged`). */
    flagged: FlaggedLabel[];
  } | null;
}

export interface GalleryInput {
  /** The cell's predicted probabilities, [n, K] row-major. */
  probs: ArrayLike<number>;
  numClasses: number;
  /** True labels of the cell's n items. */
  labels: ArrayLike<number>;
  /** Observed (noisy) labels, when the cell has annotation noise. */
  observed?: ArrayLike<number> | null;
  /** The cell's inputs as the model saw them (drifted and/or adversarial), [n, ...itemShape]. */
  inputs: ArrayLike<number>;
  /** The clean inputs of the same n items (for the perturbation picture); default: `inputs`. */
  clean?: ArrayLike<number> | null;
  itemShape: readonly number[];
  /** Data-domain bounds of input values (default [0, 1]). */
  bounds?: readonly [number, number];
  /** Clean-input probabilities of the same items, [n, K] (for "clean prediction"). */
  cleanProbs?: ArrayLike<number> | null;
  ids?: readonly string[] | null;
  /** Items to show (default 6): the first item of each class, see galleryPositions. */
  count?: number;
}

function argmax(p: ArrayLike<number>, i: number, K: number): [number, number] {
  const best = argmaxAt(p, i * K, K);
  return [best, p[i * K + best]!];
}

/** A cell's gallery: a few items with clean/stressed/perturbation PNGs, labels and predictions; null for non-image items. */
export function galleryItems(a: GalleryInput): GalleryItem[] | null {
  const K = a.numClasses;
  const n = a.labels.length;
  const per = a.itemShape.reduce((x, y) => x * y, 1);
  if (a.probs.length !== n * K) throw new DataError(`galleryItems: ${a.probs.length} probabilities for ${n} items of ${K} classes (expected ${n * K})`);
  if (a.observed && a.observed.length !== n) throw new DataError(`galleryItems: ${a.observed.length} observed labels for ${n} items`);
  if (a.cleanProbs && a.cleanProbs.length !== n * K) throw new DataError(`galleryItems: ${a.cleanProbs.length} clean probabilities for ${n} items of ${K} classes`);
  if (a.inputs.length !== n * per) throw new DataError(`galleryItems: ${a.inputs.length} input values for ${n} items of shape [${a.itemShape.join(', ')}]`);
  if (a.clean && a.clean.length !== a.inputs.length) throw new DataError(`galleryItems: clean inputs (${a.clean.length} values) and cell inputs (${a.inputs.length}) differ in size`);
  const items: GalleryItem[] = [];
  for (const i of galleryPositions(a.labels, a.count ?? 6)) {
    const img = galleryImage(a.inputs, a.clean ?? a.inputs, i, a.itemShape, a.bounds ?? [0, 1]);
    if (!img) return null;
    const [predicted, confidence] = argmax(a.probs, i, K);
    const cleanTop = a.cleanProbs ? argmax(a.cleanProbs, i, K) : null;
    items.push({
      index: i,
      id: a.ids?.[i] ?? null,
      true_label: a.labels[i]!,
      observed_label: a.observed ? a.observed[i]! : null,
      predicted,
      confidence,
      clean_predicted: cleanTop ? cleanTop[0] : null,
      clean_confidence: cleanTop ? cleanTop[1] : null,
      ...img,
    });
  }
  return items;
}

/**
 * A cell's annotation quality: per-annotator quality (simulated annotators) and the label
 * audit's flags scored against the injected flips. `audit` is `auditLabels(cleanProbs, K, observed,
 * { trueLabels })` — usually computed once per annotation setting with the clean probabilities.
 */
export function annotationQuality(ann: AnnotationResult, audit: LabelAudit | null, opts: { ids?: readonly string[] | null; maxFlagged?: number } = {}): AnnotationQuality {
  const maxFlagged = opts.maxFlagged ?? 25;
  let annotators: AnnotatorQuality[] | null = null;
  if (ann.annotators) {
    const o = ann.annotators;
    annotators = o.annotators.map((s, j) => {
      const labels = o.labelCounts[j] ?? 0;
      const acc = o.realisedAccuracy[j]!;
      const est = o.aggregation.annotatorAccuracy[j];
      return { id: s.id, kind: s.kind, labels, correct: Number.isFinite(acc) ? Math.round(acc * labels) : 0, estimated_accuracy: est !== undefined && Number.isFinite(est) ? est : null };
    });
  }
  let auditOut: AnnotationQuality['audit'] = null;
  if (audit) {
    const flagged = Array.from(audit.flagged)
      .sort((i, j) => audit.quality[i]! - audit.quality[j]! || i - j)
      .slice(0, maxFlagged)
      .map((i) => ({ index: i, id: opts.ids?.[i] ?? null, observed: ann.observed[i]!, suggested: audit.suggested[i]!, true_label: ann.trueLabels[i]!, quality: audit.quality[i]! }));
    let flipped = 0;
    let tp = 0;
    for (let i = 0; i < ann.observed.length; i++) {
      const w = ann.observed[i] !== ann.trueLabels[i] ? 1 : 0;
      flipped += w;
      tp += w & (audit.isFlagged[i] ? 1 : 0);
    }
    auditOut = { method: audit.method, estimated_noise_rate: audit.estimatedNoiseRate, flagged_count: audit.flagged.length, flipped_count: flipped, true_positives: tp, flagged };
  }
  return { aggregation: ann.annotators ? ann.annotators.aggregation.method : null, annotators, audit: auditOut };
}

/** The gallery of a results.json cell (`gallery`), if the run stored one. */
export function galleryOf(cell: unknown): GalleryItem[] | null {
  const g = (cell as { gallery?: unknown } | null)?.gallery;
  return Array.isArray(g) && g.length ? (g as GalleryItem[]) : null;
}

/** The annotation quality of a results.json cell (`annotation_quality`), if the run stored one. */
export function annotationQualityOf(cell: unknown): AnnotationQuality | null {
  const a = (cell as { annotation_quality?: unknown } | null)?.annotation_quality;
  return a && typeof a === 'object' ? (a as AnnotationQuality) : null;
}
