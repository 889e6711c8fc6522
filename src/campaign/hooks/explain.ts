/**
 * The explain hook (the config's `explain:` section): attributions and layer activations on the
 * clean vs this cell's inputs (same items), on cells whose inputs a stress changed. Draws from
 * `explain|<drift key>|<attack key>`.
 */
import { subset } from '../../data/dataset.js';
import type { Model } from '../../engine/model.js';
import { ConfigError } from '../../errors.js';
import { explainCell } from '../../explain/index.js';
import { inputKey, type CellHook } from './hook.js';

export const explainHook: CellHook<'inputs' | 'indices' | 'labels' | 'x', 'explanations'> = {
  name: 'explain',
  applies: (cell, ctx) => ctx.options.explain !== null && (cell.drift !== null || cell.adversarial !== null),
  async run(state, cell, ctx) {
    // checkEndpointCampaign refuses this before any cell runs; kept so the cast below is never wrong.
    if (ctx.model.source !== 'onnx') throw new ConfigError(`explain: ${ctx.model.label} is an endpoint; explanation drift needs the ONNX graph`);
    const ds = ctx.data;
    const cleanX = state.indices ? subset(ds, state.indices).x : ds.x;
    const explanations = await explainCell(ctx.model as Model, { x: cleanX, n: state.inputs.size, itemShape: [...ds.itemShape], featureNames: ds.featureNames }, { x: state.x }, state.labels, ctx.options.explain!, ctx.rng.fork(`explain|${inputKey(cell)}`));
    return { explanations };
  },
};
