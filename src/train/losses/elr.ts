/**
 * Early-learning regularisation (Liu et al. 2020, "Early-Learning Regularization Prevents
 * Memorization of Noisy Labels", NeurIPS), as the authors' code: each training item keeps a
 * running target t_i, updated from the model's clamped, renormalised prediction every time the
 * item is seen, before the loss, t_i ← β·t_i + (1 − β)·p̃_i / Σ p̃_i with p̃ = clamp(p, 1e-4, 1 − 1e-4)
 * (held constant, no gradient); the loss is ℓ_i = CE_i + λ·log(1 − ⟨t_i, p̃_i⟩), which pulls the
 * prediction towards the early-learning targets. Defaults are the paper's CIFAR-10 values,
 * λ = 3, β = 0.7. Targets start at 0 (the authors' code). Gradient of the regulariser:
 * g_k = −λ·t_k / (1 − ⟨t, p̃⟩) where the clamp passes (1e-4 ≤ p_k ≤ 1 − 1e-4), through the softmax.
 */
import { crossEntropyParts, softmaxOf, softmaxVjp, weightedMean, type TrainingLossHead } from '../loss.js';

export function elr(lambda: number, beta: number): TrainingLossHead {
  const head: TrainingLossHead = (e, b, z, _k, { targets, weights, state }) => {
    const { p, logp } = softmaxOf(e, z);
    const ce = crossEntropyParts(e, p, logp, targets);
    const lo = 1e-4;
    const hi = 1 - 1e-4;
    const pc = e.op('Clip', [p, b.scalarF(lo), b.scalarF(hi)], {}, 'elr_p');
    const renorm = e.op('Div', [pc, e.reduceSum(pc, [1], true)]);
    const tNew = e.op('Add', [e.op('Mul', [state, b.scalarF(beta)]), e.op('Mul', [renorm, b.scalarF(1 - beta)])], {}, 'elr_target');
    const oneMinus = e.op('Sub', [b.scalarF(1), e.reduceSum(e.op('Mul', [tNew, pc]), [1], true)]);
    const reg = e.squeeze(e.op('Log', [oneMinus]), [1]);
    const inRange = e.op('Cast', [e.op('And', [e.op('Not', [e.op('Less', [p, b.scalarF(lo)])]), e.op('Not', [e.op('Greater', [p, b.scalarF(hi)])])])], { to: 1 });
    const g = e.op('Mul', [e.op('Div', [e.op('Mul', [tNew, b.scalarF(-lambda)]), oneMinus]), inRange]);
    const perItem = e.op('Add', [ce.perItem, e.op('Mul', [reg, b.scalarF(lambda)])], {}, 'elr_item');
    const grad = e.op('Add', [ce.grad, softmaxVjp(e, p, g)]);
    const { loss, rowScale } = weightedMean(e, perItem, weights);
    return { perItem, loss, seed: e.op('Mul', [grad, rowScale], {}, 'elr_seed'), stateOut: tNew };
  };
  head.stateful = true;
  return head;
}
