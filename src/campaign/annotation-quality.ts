/**
 * A cell's annotation quality, stored as `CellResult.annotation_quality` on cells with annotation
 * noise: per-annotator accuracy (simulated annotators) and the label audit's flags scored against
 * the labels actually flipped. Size: ≤ 25 flagged labels and one row per annotator, a few KB.
 *
 * Example (once per annotation setting, with the clean probabilities):
 *   const q = annotationQuality(ann, auditLabels(cleanProbs, K, ann.observed, { trueLabels: labels }), { ids: ds.ids });
 */
import type { AnnotationResult, LabelAudit } from '../stress/annotation/index.js';
import type { AnnotationQuality, AnnotatorQuality } from './types.js';

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
