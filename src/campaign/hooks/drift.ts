/**
 * The drift hook (inputs): a corruption or shift of the clean data. A resampling shift (prior,
 * subpopulation) gives other items: the hook then carries the true and observed labels over to them
 * (`indices`, the clean item of each). Computed once per drift setting; draws from `drift|<key>`.
 */
import { ConfigError } from '../../errors.js';
import { applyDrift } from '../../stress/drift/index.js';
import type { CellHook } from './hook.js';

export const driftHook: CellHook<'labels' | 'observed', 'inputs' | 'indices' | 'labels' | 'observed' | 'x'> = {
  name: 'drift',
  applies: (cell) => cell.drift !== null,
  async run(state, cell, ctx) {
    const { key, spec, label } = cell.drift!;
    let d = ctx.caches.drift.get(key);
    if (!d) {
      const r = applyDrift(ctx.data, spec, ctx.rng.fork(`drift|${key}`), { immutable: ctx.tabular.immutable });
      if (r.weights) throw new ConfigError(`${label}: reweighting shifts are not supported in campaigns (metrics are per item); use mode: resample`);
      d = { dataset: r.dataset, indices: r.indices ?? null, description: r.description };
      ctx.caches.drift.set(key, d);
    }
    const idx = d.indices;
    const pick = (y: Int32Array) => (idx ? Int32Array.from(idx, (i) => y[i]!) : y);
    return {
      inputs: d.dataset,
      indices: idx,
      labels: pick(state.labels),
      observed: state.observed && pick(state.observed),
      x: d.dataset.x,
      detail: { description: d.description },
    };
  },
};
