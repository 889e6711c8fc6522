/**
 * The annotation hook (labels): annotation noise on the clean items' true labels gives the observed
 * labels the team would measure with, plus their quality (per-annotator accuracy, the label audit's
 * flags). Computed once per annotation setting; draws from `annotation|<key>`. A training-time
 * setting (`at: train`) does not apply here: the runner gives its cells the model trained on those labels.
 */
import { applyAnnotation, auditLabels } from '../../stress/annotation/index.js';
import { annotationQuality } from '../annotation-quality.js';
import type { CellHook } from './hook.js';
import { isTrainTime } from '../config.js';

export const annotationHook: CellHook<never, 'observed' | 'annotationQuality'> = {
  name: 'annotation',
  // Training-time noise (`at: train`) changed the model the cell runs, not the labels it is measured against.
  applies: (cell) => cell.annotation !== null && !isTrainTime(cell.annotation.spec),
  async run(_state, cell, ctx) {
    const { key, spec } = cell.annotation!;
    let a = ctx.caches.annotation.get(key);
    if (!a) {
      const K = ctx.numClasses;
      const result = applyAnnotation(ctx.labels, K, spec, ctx.rng.fork(`annotation|${key}`), { ids: ctx.data.ids, probs: ctx.clean.probs });
      const quality = annotationQuality(result, auditLabels(ctx.clean.probs, K, result.observed, { trueLabels: ctx.labels }), { ids: ctx.data.ids });
      a = { result, quality };
      ctx.caches.annotation.set(key, a);
    }
    const r = a.result;
    return { observed: r.observed, annotationQuality: a.quality, detail: { realised_rate: r.realisedRate, expected_rate: r.expectedRate, realised_matrix: r.realisedMatrix } };
  },
};
