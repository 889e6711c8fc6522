import type { Emit } from './context.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { DataType } from '../onnx/proto.js';
import { UsageError } from '../errors.js';

/**
 * Loss heads, built into the graph on top of the model's scores. Each yields a per-sample loss
 * that attacks *maximise* and its gradient with respect to the scores (written in closed form, so
 * no rule is needed for the head itself).
 *
 * - `ce`: cross-entropy −log softmax(z)_y. Targeted: −CE(z, t) (maximising it approaches t).
 * - `cw`: Carlini–Wagner margin max_{j≠y} z_j − z_y. Targeted: z_t − max_{j≠t} z_j.
 * - `dlr`: Croce & Hein's difference of logits ratio, −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12);
 *   targeted: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12) (π sorts z descending).
 * - `logit`: z_k for a given class k per sample (attributions).
 *
 * Probability outputs are handled by using z = log(max(p, 1e-12)) as the scores.
 */
export type LossKind = 'ce' | 'cw' | 'dlr' | 'logit';

export interface LossSpec {
  kind: LossKind;
  targeted?: boolean;
}

export const LOSS_KINDS: readonly LossKind[] = ['ce', 'cw', 'dlr', 'logit'];

export interface LossHead {
  /** Per-sample loss [N]. */
  loss: string;
  /** d(Σ loss)/d(scores), shape [N, K]. */
  seed: string;
}

/**
 * Emits the loss head. `z` is [N, K] scores (logits), `labels` int64 [N] (true labels, or class k
 * for `logit`), `targets` int64 [N] for targeted losses.
 */
export function emitLossHead(e: Emit, b: GraphBuilder, z: string, k: number, spec: LossSpec, labels: string, targets: string | null): LossHead {
  const fl = b.floatType === 'float64' ? DataType.DOUBLE : DataType.FLOAT;
  const oneHot = (idx: string) => e.op('OneHot', [idx, b.constI64([k], []), b.constF([0, 1])], { axis: -1 });
  const sumK = (v: string) => e.reduceSum(v, [1], false);
  void fl;
  const yOh = oneHot(labels);
  switch (spec.kind) {
    case 'ce': {
      const logp = e.op('LogSoftmax', [z], { axis: 1 });
      const p = e.op('Exp', [logp]);
      if (spec.targeted) {
        if (!targets) throw new Error('internal: targeted loss without targets');
        const tOh = oneHot(targets);
        // loss = log p_t ; d/dz = onehot(t) − p
        return { loss: sumK(e.op('Mul', [tOh, logp])), seed: e.op('Sub', [tOh, p]) };
      }
      return { loss: e.op('Neg', [sumK(e.op('Mul', [yOh, logp]))]), seed: e.op('Sub', [p, yOh]) };
    }
    case 'cw': {
      const ref = spec.targeted ? oneHot(targets!) : yOh;
      const zRef = sumK(e.op('Mul', [ref, z]));
      const masked = e.op('Sub', [z, e.op('Mul', [ref, b.scalarF(1e9)])]);
      const other = e.op('ArgMax', [masked], { axis: 1, keepdims: 0 });
      const oOh = oneHot(other);
      const zOther = sumK(e.op('Mul', [oOh, z]));
      return spec.targeted
        ? { loss: e.op('Sub', [zRef, zOther]), seed: e.op('Sub', [ref, oOh]) }
        : { loss: e.op('Sub', [zOther, zRef]), seed: e.op('Sub', [oOh, ref]) };
    }
    case 'dlr': {
      const kTop = spec.targeted ? 4 : 3;
      if (k < kTop) throw new UsageError(`the DLR loss needs at least ${kTop} classes, the model has ${k}`);
      const [, idx] = b.opN('TopK', [z, b.constI64([kTop])], 2, { axis: 1, largest: 1, sorted: 1 }) as [string, string];
      const pick = (i: number) => e.squeeze(e.slice(idx, [i], [i + 1], [1]), [1]);
      const pi1 = oneHot(pick(0));
      const pi3 = oneHot(pick(2));
      const zy = sumK(e.op('Mul', [yOh, z]));
      let dNum: string; // d(numerator)/dz where numerator = z_y − z_other
      let num: string;
      let dDen: string;
      if (spec.targeted) {
        const tOh = oneHot(targets!);
        num = e.op('Sub', [zy, sumK(e.op('Mul', [tOh, z]))]);
        dNum = e.op('Sub', [yOh, tOh]);
        const pi4 = oneHot(pick(3));
        dDen = e.op('Sub', [pi1, e.op('Mul', [e.op('Add', [pi3, pi4]), b.scalarF(0.5)])]);
      } else {
        const masked = e.op('Sub', [z, e.op('Mul', [yOh, b.scalarF(1e9)])]);
        const oOh = oneHot(e.op('ArgMax', [masked], { axis: 1, keepdims: 0 }));
        num = e.op('Sub', [zy, sumK(e.op('Mul', [oOh, z]))]);
        dNum = e.op('Sub', [yOh, oOh]);
        dDen = e.op('Sub', [pi1, pi3]);
      }
      const den = e.op('Add', [sumK(e.op('Mul', [dDen, z])), b.scalarF(1e-12)]);
      const loss = e.op('Neg', [e.op('Div', [num, den])]);
      // d(−num/den) = −(dNum·den − num·dDen)/den²
      const den2 = e.unsqueeze(den, [1]);
      const num2 = e.unsqueeze(num, [1]);
      const seed = e.op('Neg', [e.op('Div', [e.op('Sub', [e.op('Mul', [dNum, den2]), e.op('Mul', [dDen, num2])]), e.op('Mul', [den2, den2])])]);
      return { loss, seed };
    }
    case 'logit':
      return { loss: sumK(e.op('Mul', [yOh, z])), seed: yOh };
  }
}
