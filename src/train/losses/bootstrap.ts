/**
 * Bootstrapping (Reed et al. 2015, "Training Deep Neural Networks on Noisy Labels with
 * Bootstrapping", ICLR workshop): cross-entropy against a target that mixes the given label with
 * the model's own prediction, t' = β·t + (1 − β)·q, where q is the prediction p (`soft`) or its
 * one-hot argmax (`hard`, first maximum on ties). The prediction is a target, not a path for the
 * gradient (it is computed from the same forward and held constant, as a label is). The paper
 * uses β = 0.95 (soft) and 0.8 (hard).
 */
import { crossEntropyParts, softmaxOf, weightedMean, type TrainingLossHead } from '../loss.js';

export type BootstrapMode = 'soft' | 'hard';

export function bootstrap(beta: number, mode: BootstrapMode): TrainingLossHead {
  return (e, b, z, k, { targets, weights }) => {
    const { p, logp } = softmaxOf(e, z);
    const q = mode === 'soft' ? p : e.op('OneHot', [e.op('ArgMax', [z], { axis: 1, keepdims: 0 }), b.constI64([k], []), b.constF([0, 1])], { axis: -1 }, 'bootstrap_hard');
    const mixed = e.op('Add', [e.op('Mul', [targets, b.scalarF(beta)]), e.op('Mul', [q, b.scalarF(1 - beta)])], {}, 'bootstrap_target');
    const ce = crossEntropyParts(e, p, logp, mixed);
    const { loss, rowScale } = weightedMean(e, ce.perItem, weights);
    return { perItem: ce.perItem, loss, seed: e.op('Mul', [ce.grad, rowScale], {}, 'bootstrap_seed') };
  };
}
