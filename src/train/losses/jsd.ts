/**
 * AugMix's Jensen–Shannon consistency loss (Hendrycks et al. 2020), as the authors' code: the
 * batch is [clean; augmix₁; augmix₂] (3B items through one train-mode forward, so BatchNorm sees
 * all three), and
 *
 *   L = CE(z_clean, y) + λ·(1/3)·Σ_j KL(p_j ‖ M),   M = clamp((p_clean + p₁ + p₂)/3, 1e-7, 1),
 *
 * batch means over the B clean items (λ = 12 in the paper). Gradient in p_j of the three KL terms
 * together: log p_j + 1 − log M − [M > 1e-7] (M's own term contributes −Σ_l p_l/(3M) = −1 where
 * the clamp passes), times λ/3, through each branch's softmax. Per-item losses are on the clean
 * rows (the augmented rows read 0).
 */
import { crossEntropyParts, softmaxOf, softmaxVjp, type TrainingLossHead } from '../loss.js';

export function augmixJsd(lambda: number, batch: number): TrainingLossHead {
  return (e, b, z, _k, { targets }) => {
    const { p, logp } = softmaxOf(e, z);
    const part = (x: string, j: number) => e.slice(x, [j * batch], [(j + 1) * batch], [0]);
    const ps = [0, 1, 2].map((j) => part(p, j));
    const logps = [0, 1, 2].map((j) => part(logp, j));
    const t = part(targets, 0);
    const ce = crossEntropyParts(e, ps[0]!, logps[0]!, t);
    const mean = e.op('Div', [e.op('Sum', ps), b.scalarF(3)]);
    const m = e.op('Clip', [mean, b.scalarF(1e-7), b.scalarF(1)], {}, 'jsd_mixture');
    const logM = e.op('Log', [m]);
    const live = e.op('Cast', [e.op('Greater', [mean, b.scalarF(1e-7)])], { to: 1 });
    const kls = [0, 1, 2].map((j) => e.reduceSum(e.op('Mul', [ps[j]!, e.op('Sub', [logps[j]!, logM])]), [1], false));
    const js = e.op('Div', [e.op('Sum', kls), b.scalarF(3)], {}, 'jsd');
    const item = e.op('Add', [ce.perItem, e.op('Mul', [js, b.scalarF(lambda)])], {}, 'jsd_item');
    const loss = e.reduceMean(item, [0], false);
    const zeros = e.op('Mul', [item, b.scalarF(0)]);
    const perItem = e.op('Concat', [item, zeros, zeros], { axis: 0 }, 'jsd_items');
    const scale = b.scalarF(1 / batch);
    const seeds = [0, 1, 2].map((j) => {
      const g = e.op('Mul', [e.op('Sub', [e.op('Add', [e.op('Sub', [logps[j]!, logM]), b.scalarF(1)]), live]), b.scalarF(lambda / 3)]);
      const jsGrad = softmaxVjp(e, ps[j]!, g);
      return e.op('Mul', [j === 0 ? e.op('Add', [ce.grad, jsGrad]) : jsGrad, scale]);
    });
    return { perItem, loss, seed: e.op('Concat', seeds, { axis: 0 }, 'jsd_seed') };
  };
}
