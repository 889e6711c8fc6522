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
  /**
   * A head with per-item state (ELR's running targets): the value that replaces `inputs.state`
   * for these items after this step, [N, K]. The trainer keeps the state of every item.
   */
  stateOut?: string;
}

/** The graph inputs a loss head may read. */
export interface TrainingLossInputs {
  /** Soft targets t, [N, K] (one-hot rows for hard labels). */
  targets: string;
  /** Per-item weights w, [N]. */
  weights: string;
  /** Per-item state, [N, K]; only fed to heads that return `stateOut`. */
  state: string;
}

/**
 * A training loss head: from scores z [N, K] (logits, or log-probabilities for models that
 * output probabilities), soft targets t [N, K] and per-item weights w [N], emit the per-item and
 * scalar loss and the loss's gradient with respect to z in closed form (no rule is needed for
 * the head). Every head reduces as Σ_i w_i·ℓ_i / Σ_i w_i: PyTorch's batch mean when w = 1.
 * `stateful` heads get the `state` input (see `TrainingLossOutputs.stateOut`).
 */
export type TrainingLossHead = ((e: Emit, b: GraphBuilder, z: string, k: number, inputs: TrainingLossInputs) => TrainingLossOutputs) & { stateful?: boolean };

/** softmax(z) and log softmax(z), [N, K]. */
export function softmaxOf(e: Emit, z: string): { p: string; logp: string } {
  const logp = e.op('LogSoftmax', [z], { axis: 1 });
  return { p: e.op('Exp', [logp]), logp };
}

/** The vector–Jacobian product of softmax: given g = dℓ/dp, dℓ/dz_j = p_j·(g_j − Σ_k g_k p_k). */
export function softmaxVjp(e: Emit, p: string, g: string): string {
  return e.op('Mul', [p, e.op('Sub', [g, e.reduceSum(e.op('Mul', [g, p]), [1], true)])], {}, 'softmax_vjp');
}

/** Σ_i w_i·ℓ_i / Σ_i w_i, and the per-row factor w_i / Σ w, [N, 1], that scales each row's seed. */
export function weightedMean(e: Emit, perItem: string, weights: string): { loss: string; rowScale: string } {
  const wSum = e.reduceSum(weights, [0], false);
  const loss = e.op('Div', [e.reduceSum(e.op('Mul', [weights, perItem]), [0], false), wSum], {}, 'loss');
  return { loss, rowScale: e.unsqueeze(e.op('Div', [weights, wSum]), [1]) };
}

/** Cross-entropy against soft targets t: ℓ_i = −Σ_k t_ik log p_ik and dℓ_i/dz_i = p_i·Σ_k t_ik − t_i. */
export function crossEntropyParts(e: Emit, p: string, logp: string, targets: string): { perItem: string; grad: string } {
  const perItem = e.op('Neg', [e.reduceSum(e.op('Mul', [targets, logp]), [1], false)], {}, 'ce_item');
  const grad = e.op('Sub', [e.op('Mul', [p, e.reduceSum(targets, [1], true)]), targets], {}, 'ce_grad');
  return { perItem, grad };
}

/**
 * Soft-target cross-entropy with per-item weights:
 *
 *   ℓ_i = −Σ_k t_ik · log softmax(z_i)_k,   loss = Σ_i w_i·ℓ_i / Σ_i w_i,
 *   d loss / d z_i = w_i / Σ w · (softmax(z_i) · Σ_k t_ik − t_i).
 *
 * One-hot targets and w = 1 give PyTorch's `F.cross_entropy(z, y)` (the batch mean); smoothed
 * targets give label smoothing, and w sample weighting. Σ w = 0 gives NaN (nothing to learn from).
 */
export const softTargetCrossEntropy: TrainingLossHead = (e, _b, z, _k, { targets, weights }) => {
  const { p, logp } = softmaxOf(e, z);
  const ce = crossEntropyParts(e, p, logp, targets);
  const { loss, rowScale } = weightedMean(e, ce.perItem, weights);
  return { perItem: ce.perItem, loss, seed: e.op('Mul', [ce.grad, rowScale], {}, 'ce_seed') };
};

/**
 * A given seed: the targets input holds d(loss)/d(z) itself, computed outside the graph (TRADES
 * combines two forwards' scores in its loss; each forward's backward is then this head).
 * loss = Σ_i Σ_k t_ik·z_ik, so d loss/d z = t, and the parameters' gradient is Jᵀt.
 */
export const givenSeed: TrainingLossHead = (e, _b, z, _k, { targets }) => {
  const perItem = e.reduceSum(e.op('Mul', [targets, z]), [1], false);
  return { perItem, loss: e.reduceSum(perItem, [0], false), seed: e.op('Identity', [targets], {}, 'given_seed') };
};
