/**
 * The adversarial hook (inputs): the attack sees the (drifted) inputs and aims at the true labels,
 * never the observed ones. Computed once per (attack, drift) pair; draws from
 * `adversarial|<attack key>|<drift key>`.
 */
import { runAttack } from '../../stress/adversarial/index.js';
import { inputKey, type CellHook } from './hook.js';

export const adversarialHook: CellHook<'inputs' | 'labels', 'x'> = {
  name: 'adversarial',
  applies: (cell) => cell.adversarial !== null,
  async run(state, cell, ctx) {
    const key = inputKey(cell);
    let a = ctx.caches.attacks.get(key);
    if (!a) {
      const { inputs, labels } = state;
      const r = await runAttack(ctx.model, inputs.x, inputs.size, labels, cell.adversarial!.spec, ctx.rng.fork(`adversarial|${cell.adversarial!.key}|${cell.drift?.key ?? ''}`), {
        batchSize: ctx.options.batchSize,
        constraints: ctx.tabular.constraints,
        itemShape: ctx.data.itemShape,
        featureStd: ctx.tabular.std,
      });
      ctx.counters.gradientBatches += r.gradientBatches ?? 0;
      ctx.counters.forwardBatches += r.forwardBatches ?? 0;
      a = { x: r.adversarial, summary: r.summary };
      ctx.caches.attacks.set(key, a);
    }
    return { x: a.x, detail: a.summary };
  },
};
