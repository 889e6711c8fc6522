import type { Emit } from '../autodiff/context.js';
import type { GraphBuilder } from '../onnx/builder.js';

/** What a training loss head emits on top of the scores. */
export interface TrainingLossOutputs {
  /** Per-item loss ℓ_i, [N]. */
  perItem: string;
  /** The scalar training loss, [] (a 0-d tensor). */
  loss: string;
  /** d(loss)/d(z), [N, K]: the seed of the backward pass. */
  seed: string;
}

/**
 * A training loss head: from scores z [N, K] (logits, or log-probabilities for models that
 * output probabilities), soft targets t [N, K] and per-item weights w [N], emit the per-item and
 * scalar loss and the loss's gradient with respect to z in closed form (no rule is needed for
 * the head). One small function, so another loss can replace it.
 */
export type TrainingLossHead = (e: Emit, b: GraphBuilder, z: string, k: number, inputs: { targets: string; weights: string }) => TrainingLossOutputs;

/**
 * Soft-target cross-entropy with per-item weights:
 *
 *   ℓ_i = −Σ_k t_ik · log softmax(z_i)_k,   loss = Σ_i w_i·ℓ_i / Σ_i w_i,
 *   d loss / d z_i = w_i / Σ w · (softmax(z_i) · Σ_k t_ik − t_i).
 *
 * One-hot targets and w = 1 give PyTorch's `F.cross_entropy(z, y)` (the batch mean); smoothed
 * targets give label smoothing, and w sample weighting. Σ w = 0 gives NaN (nothing to learn from).
 */
export const softTargetCrossEntropy: TrainingLossHead = (e, b, z, _k, { targets, weights }) => {
  const logp = e.op('LogSoftmax', [z], { axis: 1 });
  const p = e.op('Exp', [logp]);
  const perItem = e.op('Neg', [e.reduceSum(e.op('Mul', [targets, logp]), [1], false)], {}, 'ce_item');
  const wSum = e.reduceSum(weights, [0], false);
  const loss = e.op('Div', [e.reduceSum(e.op('Mul', [weights, perItem]), [0], false), wSum], {}, 'ce_loss');
  const tSum = e.reduceSum(targets, [1], true);
  const scale = e.unsqueeze(e.op('Div', [weights, wSum]), [1]);
  const seed = e.op('Mul', [e.op('Sub', [e.op('Mul', [p, tSum]), targets]), scale], {}, 'ce_seed');
  void b;
  return { perItem, loss, seed };
};
