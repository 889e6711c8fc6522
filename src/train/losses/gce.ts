/**
 * Generalized cross-entropy (Zhang & Sabuncu 2018, "Generalized Cross Entropy Loss for Training
 * Deep Neural Networks with Noisy Labels", NeurIPS): ℓ = (1 − p_y^q) / q, between CE (q → 0) and
 * MAE (q = 1), robust to label noise for larger q; the paper's default q = 0.7. With soft targets
 * ℓ_i = Σ_k t_ik (1 − p_ik^q) / q. Gradient, with a_k = t_k·p_k^q:
 * dℓ/dz_j = −a_j + p_j·Σ_k a_k.
 */
import { softmaxOf, weightedMean, type TrainingLossHead } from '../loss.js';

export function gce(q: number): TrainingLossHead {
  return (e, b, z, _k, { targets, weights }) => {
    const { p, logp } = softmaxOf(e, z);
    const pq = e.op('Exp', [e.op('Mul', [logp, b.scalarF(q)])], {}, 'gce_pq');
    const a = e.op('Mul', [targets, pq]);
    const perItem = e.op('Div', [e.op('Sub', [e.reduceSum(targets, [1], false), e.reduceSum(a, [1], false)]), b.scalarF(q)], {}, 'gce_item');
    const grad = e.op('Sub', [e.op('Mul', [p, e.reduceSum(a, [1], true)]), a]);
    const { loss, rowScale } = weightedMean(e, perItem, weights);
    return { perItem, loss, seed: e.op('Mul', [grad, rowScale], {}, 'gce_seed') };
  };
}
