/**
 * The adversarial hook (inputs): the attack sees the (drifted) inputs and aims at the true labels,
 * never the observed ones. Computed once per (attack, drift) pair; draws from
 * `adversarial|<attack key>|<drift key>`.
 *
 * A text model declared `wrt: embedding` (ctx.embedding) is attacked in embedding space with the
 * code of `gauntlet attack --model-wrt embedding`: the result is projected to the nearest tokens,
 * and those token ids are what the model sees (the cell's accuracy is that of real token
 * sequences); the detail adds the accuracy before the projection, the tokens changed and ε
 * against the token-to-token scale.
 */
import { runAttack } from '../../stress/adversarial/index.js';
import { runEmbeddingAttack } from '../../stress/adversarial/embedding.js';
import { inputKey, type CellContext, type CellHook } from './hook.js';
import type { CellPlan } from '../plan.js';

export const adversarialHook: CellHook<'inputs' | 'labels', 'x'> = {
  name: 'adversarial',
  applies: (cell) => cell.adversarial !== null,
  async run(state, cell, ctx) {
    const key = inputKey(cell);
    let a = ctx.caches.attacks.get(key);
    if (!a && ctx.embedding) a = await embeddingAttack(state, cell, ctx);
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

async function embeddingAttack(state: { inputs: { x: Float32Array; size: number }; labels: Int32Array }, cell: CellPlan, ctx: CellContext): Promise<{ x: Float32Array; summary: unknown }> {
  const { view, scale } = ctx.embedding!;
  const spec = cell.adversarial!.spec;
  const r = await runEmbeddingAttack(view, state.inputs.x, state.inputs.size, state.labels, spec, ctx.rng.fork(`adversarial|${cell.adversarial!.key}|${cell.drift?.key ?? ''}`), { batchSize: ctx.options.batchSize, scale });
  for (const at of r.attacks) {
    ctx.counters.gradientBatches += at.gradientBatches ?? 0;
    ctx.counters.forwardBatches += at.forwardBatches ?? 0;
  }
  const p = r.perEps[0]!;
  const ref = spec.norm === 'l2' ? scale.l2 : spec.norm === 'linf' ? scale.linf : null;
  // The attack's own figures are in embedding space; the cell's are on the projected token ids.
  const own = r.attacks[0]!.summary as { curve?: { seconds?: number }[] };
  const summary = {
    ...own,
    robust_accuracy: p.accuracy,
    attack_success_rate: p.successRate,
    curve: [{ eps: p.eps, robust_accuracy: p.accuracy, attack_success_rate: p.successRate, seconds: own.curve?.[0]?.seconds ?? null }],
    space: 'embedding, projected to the nearest tokens',
    embedding_accuracy: p.embeddingAccuracy,
    token_accuracy: p.accuracy,
    tokens_changed: p.tokensChanged,
    items_changed: p.itemsChanged,
    scale,
    eps_over_scale: ref ? p.eps / ref : null,
  };
  const a = { x: p.ids, summary };
  ctx.caches.attacks.set(inputKey(cell), a);
  return a;
}
