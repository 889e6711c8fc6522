import { DataError, UsageError } from '../errors.js';
import type { Model } from '../engine/model.js';
import { predictProbabilities } from './probs.js';
import { decomposeUncertainty, rowEntropy, type UncertaintyDecomposition } from './scores.js';

/**
 * Deep ensembles (Lakshminarayanan et al., 2017): the members' class probabilities are averaged,
 * p̄ = mean_m p_m, and the uncertainty splits into expected entropy (aleatoric) and mutual
 * information H(p̄) − mean_m H(p_m) (epistemic: how much the members disagree).
 *
 * The mean is a running mean (p̄ += (p_m − p̄) / m), so identical members give exactly the single
 * member's probabilities, bit for bit, and a mutual information of exactly 0.
 */
export interface EnsembleResult extends UncertaintyDecomposition {
  /** Mean probabilities [n, K]. */
  probs: Float64Array;
  numClasses: number;
  members: number;
}

/** Combines members' probability tables (each [n, K]). */
export function combineMembers(members: readonly Float64Array[], numClasses: number): EnsembleResult {
  if (members.length === 0) throw new UsageError("'members' must hold at least one probability table");
  const len = members[0]!.length;
  for (const [m, p] of members.entries()) {
    if (p.length !== len) throw new DataError(`ensemble member ${m} has ${p.length / numClasses} rows, member 0 has ${len / numClasses}`);
  }
  const n = len / numClasses;
  const mean = new Float64Array(len);
  const expected = new Float64Array(n);
  members.forEach((p, m) => {
    const w = 1 / (m + 1);
    for (let j = 0; j < len; j++) mean[j]! += (p[j]! - mean[j]!) * w;
    for (let i = 0; i < n; i++) expected[i]! += (rowEntropy(p, i * numClasses, numClasses) - expected[i]!) * w;
  });
  return { probs: mean, numClasses, members: members.length, ...decomposeUncertainty(mean, expected, numClasses) };
}

/** Runs every model on the same `n` items and combines them. Models must agree on the class count. */
export async function predictEnsemble(models: readonly Model[], x: Float32Array, n: number, batchSize = 256): Promise<EnsembleResult> {
  if (models.length === 0) throw new UsageError("'models' must hold at least one model");
  const tables: Float64Array[] = [];
  let K = -1;
  for (const model of models) {
    const t = await predictProbabilities(model, x, n, batchSize);
    if (K >= 0 && t.numClasses !== K) throw new DataError(`ensemble member ${model.label} has ${t.numClasses} classes, ${models[0]!.label} has ${K}`);
    K = t.numClasses;
    tables.push(t.probs);
  }
  return combineMembers(tables, K);
}
