/**
 * Small score-side helpers shared by the attacks: arg-max, margins and the loss heads of
 * `autodiff/loss.ts` recomputed in JavaScript from scores (for points where only a forward pass
 * ran). Probability outputs are read as log-probabilities, as the gradient engine does.
 */
import type { LossKind } from '../../autodiff/loss.js';
import { argmaxAt, logSumExp } from '../../metrics/classification.js';

/** Arg-max of row r (lowest index wins ties). */
export function argmaxRow(s: ArrayLike<number>, r: number, k: number): number {
  return argmaxAt(s, r * k, k);
}

/** Scores as logits: log(max(p, 1e-12)) for probability outputs, unchanged otherwise. */
export function asLogits(s: Float32Array, probabilities: boolean): Float32Array {
  if (!probabilities) return s;
  const out = new Float32Array(s.length);
  for (let j = 0; j < s.length; j++) out[j] = Math.log(Math.max(s[j]!, 1e-12));
  return out;
}

/**
 * Margin the attacker drives below zero: untargeted z_y − max_{j≠y} z_j; targeted (class t)
 * max_{j≠t} z_j − z_t.
 */
export function margin(z: ArrayLike<number>, r: number, k: number, label: number, target: number | null): number {
  const o = r * k;
  const ref = target ?? label;
  let other = -Infinity;
  for (let j = 0; j < k; j++) if (j !== ref && z[o + j]! > other) other = z[o + j]!;
  return target === null ? z[o + label]! - other : other - z[o + target]!;
}

/** The per-sample loss of `autodiff/loss.ts` (the quantity attacks maximise) from logits. */
export function lossFromLogits(kind: LossKind, z: ArrayLike<number>, r: number, k: number, label: number, target: number | null): number {
  const o = r * k;
  switch (kind) {
    case 'ce': {
      const lse = logSumExp(z, o, k);
      return target === null ? lse - z[o + label]! : z[o + target]! - lse;
    }
    case 'cw':
      return -margin(z, r, k, label, target);
    case 'dlr': {
      const sorted = Array.from({ length: k }, (_, j) => z[o + j]!).sort((a, b) => b - a);
      if (target === null) {
        let other = -Infinity;
        for (let j = 0; j < k; j++) if (j !== label && z[o + j]! > other) other = z[o + j]!;
        return -(z[o + label]! - other) / (sorted[0]! - sorted[2]! + 1e-12);
      }
      return -(z[o + label]! - z[o + target]!) / (sorted[0]! - (sorted[2]! + sorted[3]!) / 2 + 1e-12);
    }
    case 'logit':
      return z[o + label]!;
  }
}

/**
 * The `rank`-th highest-scoring class other than `label` (rank 1 = the strongest wrong class),
 * the targets AutoAttack's APGD-T uses.
 */
export function rankedTarget(z: ArrayLike<number>, r: number, k: number, label: number, rank: number): number {
  const o = r * k;
  const order = Array.from({ length: k }, (_, j) => j)
    .filter((j) => j !== label)
    .sort((a, b) => z[o + b]! - z[o + a]! || a - b);
  return order[Math.min(rank, order.length) - 1]!;
}
