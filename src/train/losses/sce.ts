/**
 * Symmetric cross-entropy (Wang et al. 2019, "Symmetric Cross Entropy for Robust Learning with
 * Noisy Labels", ICCV): ℓ = α·CE + β·RCE with the reverse cross-entropy
 * RCE = −Σ_k clamp(p_k, 1e-7, 1)·log clamp(t_k, 1e-4, 1) — the authors' code, whose clamps make
 * log 0 = log 1e-4 = A ≈ −9.21, so for a hard label RCE = −A·(1 − p_y). The paper's CIFAR-10
 * values α = 0.1, β = 1 are the defaults. Gradient of RCE: g_k = c_k·[p_k > 1e-7] with
 * c_k = −log clamp(t_k, 1e-4, 1), through the softmax.
 */
import { crossEntropyParts, softmaxOf, softmaxVjp, weightedMean, type TrainingLossHead } from '../loss.js';

export function sce(alpha: number, beta: number): TrainingLossHead {
  return (e, b, z, _k, { targets, weights }) => {
    const { p, logp } = softmaxOf(e, z);
    const ce = crossEntropyParts(e, p, logp, targets);
    const c = e.op('Neg', [e.op('Log', [e.op('Clip', [targets, b.scalarF(1e-4), b.scalarF(1)])])], {}, 'rce_c');
    const rce = e.reduceSum(e.op('Mul', [c, e.op('Clip', [p, b.scalarF(1e-7), b.scalarF(1)])]), [1], false);
    const live = e.op('Cast', [e.op('Greater', [p, b.scalarF(1e-7)])], { to: 1 });
    const rceGrad = softmaxVjp(e, p, e.op('Mul', [c, live]));
    const perItem = e.op('Add', [e.op('Mul', [ce.perItem, b.scalarF(alpha)]), e.op('Mul', [rce, b.scalarF(beta)])], {}, 'sce_item');
    const grad = e.op('Add', [e.op('Mul', [ce.grad, b.scalarF(alpha)]), e.op('Mul', [rceGrad, b.scalarF(beta)])]);
    const { loss, rowScale } = weightedMean(e, perItem, weights);
    return { perItem, loss, seed: e.op('Mul', [grad, rowScale], {}, 'sce_seed') };
  };
}
