/**
 * The per-cell data the report draws beyond results.json's metrics: reliability bins, a
 * risk–coverage curve, a small image gallery, and annotation quality (per-annotator accuracy and
 * flagged labels). The runner builds it with `cellReportData` (and `annotationReportData` for
 * cells with annotation noise) and stores it as `CellResult.report_data`; the report renders each
 * part when present and says "not available in this run" when absent.
 *
 * Size, per cell: 15 bins (45 numbers), ≤ 50 risk–coverage points (150 numbers), 6 gallery items
 * of three ~0.5 KB PNGs for 28×28 greyscale images, ≤ 25 flagged labels — a few KB.
 *
 * Example (in the runner, after predicting a cell):
 *   result.report_data = cellReportData({ probs, numClasses: K, labels: cellLabels, observed: cellObserved,
 *     inputs: x, clean: cleanX, itemShape: ds.itemShape, cleanProbs, ids });
 */
import type { AnnotationResult, LabelAudit } from '../stress/annotation/index.js';
import { DataError } from '../errors.js';
import { reliabilityBins, riskCoverage, type ReliabilityBins, type RiskCoverage } from './curves.js';
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

export interface AnnotationReport {
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

/** What the runner stores per cell as `report_data`. Every part is optional. */
export interface CellReportData {
  reliability?: ReliabilityBins;
  risk_coverage?: RiskCoverage;
  gallery?: GalleryItem[];
  annotation?: AnnotationReport;
}

export interface CellReportInput {
  /** The cell's predicted probabilities, [n, K] row-major. */
  probs: ArrayLike<number>;
  numClasses: number;
  /** True labels of the cell's n items. */
  labels: ArrayLike<number>;
  /** Observed (noisy) labels, when the cell has annotation noise. */
  observed?: ArrayLike<number> | null;
  /** The cell's inputs as the model saw them (drifted and/or adversarial), [n, ...itemShape]. */
  inputs?: ArrayLike<number> | null;
  /** The clean inputs of the same n items (for the perturbation picture). */
  clean?: ArrayLike<number> | null;
  itemShape?: readonly number[] | null;
  /** Data-domain bounds of input values (default [0, 1]). */
  bounds?: readonly [number, number];
  /** Clean-input probabilities of the same items, [n, K] (for "clean prediction" in the gallery). */
  cleanProbs?: ArrayLike<number> | null;
  ids?: readonly string[] | null;
  /** Gallery size (default 6; 0 for none). */
  galleryCount?: number;
  /** Risk–coverage points (default 50). */
  riskPoints?: number;
}

function argmax(p: ArrayLike<number>, i: number, K: number): [number, number] {
  let best = 0;
  for (let k = 1; k < K; k++) if (p[i * K + k]! > p[i * K + best]!) best = k;
  return [best, p[i * K + best]!];
}

/** Builds a cell's `report_data` from its probabilities (and inputs, for the gallery). */
export function cellReportData(a: CellReportInput): CellReportData {
  const K = a.numClasses;
  const n = a.labels.length;
  if (a.observed && a.observed.length !== n) throw new DataError(`cellReportData: ${a.observed.length} observed labels for ${n} items`);
  if (a.cleanProbs && a.cleanProbs.length !== n * K) throw new DataError(`cellReportData: ${a.cleanProbs.length} clean probabilities for ${n} items of ${K} classes`);
  const out: CellReportData = {
    reliability: reliabilityBins(a.probs, K, a.labels),
    risk_coverage: riskCoverage(a.probs, K, a.labels, a.riskPoints ?? 50),
  };
  const count = a.galleryCount ?? 6;
  if (count > 0 && a.inputs && a.itemShape) {
    const per = a.itemShape.reduce((x, y) => x * y, 1);
    if (a.inputs.length !== n * per) throw new DataError(`cellReportData: ${a.inputs.length} input values for ${n} items of shape [${a.itemShape.join(', ')}]`);
    if (a.clean && a.clean.length !== a.inputs.length) throw new DataError(`cellReportData: clean inputs (${a.clean.length} values) and cell inputs (${a.inputs.length}) differ in size`);
    const items: GalleryItem[] = [];
    for (const i of galleryPositions(a.labels, count)) {
      const img = galleryImage(a.inputs, a.clean ?? a.inputs, i, a.itemShape, a.bounds ?? [0, 1]);
      if (!img) break;
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
    if (items.length) out.gallery = items;
  }
  return out;
}

/**
 * The annotation part of `report_data`: per-annotator quality (simulated annotators) and the label
 * audit's flags scored against the injected flips. `audit` is `auditLabels(cleanProbs, K, observed,
 * { trueLabels })` — usually computed once per annotation setting with the clean probabilities.
 */
export function annotationReportData(ann: AnnotationResult, audit: LabelAudit | null, opts: { ids?: readonly string[] | null; maxFlagged?: number } = {}): AnnotationReport {
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
  let auditOut: AnnotationReport['audit'] = null;
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

/** The `report_data` of a results.json cell, if the runner stored one (loosely typed input). */
export function reportDataOf(cell: unknown): CellReportData | null {
  const d = (cell as { report_data?: unknown } | null)?.report_data;
  return d && typeof d === 'object' ? (d as CellReportData) : null;
}
