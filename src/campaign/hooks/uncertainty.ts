/**
 * The uncertainty hook (the config's `uncertainty:` section): calibration, conformal coverage and
 * set size, selective risk (and ensemble / MC-dropout figures) on this cell's items, with what was
 * fitted on clean data (`CellContext.uncertainty`).
 */
import { uncertaintyCell } from '../../uncertainty/index.js';
import type { CellHook } from './hook.js';

export const uncertaintyHook: CellHook<'inputs' | 'indices' | 'labels' | 'x' | 'probs', 'uncertainty'> = {
  name: 'uncertainty',
  applies: (_cell, ctx) => ctx.uncertainty !== null,
  async run(state, _cell, ctx) {
    const uncertainty = await uncertaintyCell(ctx.uncertainty!, { x: state.x, n: state.inputs.size, labels: state.labels, probs: state.probs!, itemIndices: state.indices ?? undefined, weights: ctx.weights });
    return { uncertainty };
  },
};
