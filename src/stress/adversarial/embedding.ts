/**
 * Attacks on a text classifier in embedding space, projected back to real tokens.
 *
 * The model (`wrt: embedding`) is split at its embedding lookup (`EmbeddingView`). Any attack
 * (FGSM, PGD, … in L∞ or L2) runs on the tail, from the clean sequence's embeddings [T, D], with ε
 * a distance in embedding space: L∞ bounds every coordinate of every position, L2 the whole
 * sequence's perturbation (so also each position's). The attack's result is then projected, position
 * by position, to the nearest vocabulary row (ties to the lowest id), and the whole model classifies
 * those token ids: the accuracy reported is that of real token sequences. A position only changes
 * token once its embedding has crossed half-way to another row, so ε is best read against the
 * typical distance between a token and its nearest other token (`EmbeddingScale`).
 *
 * Example:
 *   const model = await Model.open('text.onnx', { wrt: 'embedding' });
 *   const view = await EmbeddingView.open(model);
 *   const r = await runEmbeddingAttack(view, ds.x, ds.size, ds.labels!, { attack: 'pgd', norm: 'l2', eps: [0.5, 2] }, new Rng(0));
 *   r.perEps.map((e) => [e.accuracy, e.tokensChanged]); r.scale.l2;
 */
import type { EmbeddingScale, EmbeddingView } from '../../engine/embedding.js';
import { DataError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import { runAttack, type RunAttackOptions } from './index.js';
import { argmaxRow } from './scores.js';
import type { AttackResult, AttackSpec } from './types.js';

/** One ε of an embedding attack, after the projection to tokens. */
export interface ProjectedEps {
  eps: number;
  /** The projected token ids [n, T] (float32 ids, as datasets hold them). */
  ids: Float32Array;
  /** The whole model's class for each projected sequence. */
  predicted: Int32Array;
  /** Accuracy of the whole model on the projected token ids (robust accuracy in token space). */
  accuracy: number;
  /** Among the sequences the model classifies correctly, the fraction whose projected tokens it misclassifies. */
  successRate: number;
  /** Robust accuracy in embedding space, before the projection (the continuous attack's own figure). */
  embeddingAccuracy: number;
  /** Fraction of all token positions whose id the projection changed. */
  tokensChanged: number;
  /** Fraction of sequences with at least one changed token. */
  itemsChanged: number;
}

export interface EmbeddingAttackResult {
  /**
   * The attack in embedding space, on the model's tail (its inputs are embeddings): one run per ε,
   * ascending. Each ε is attacked afresh: a point broken in embedding space at a small ε may still
   * be classified correctly once projected, so a larger ε must not inherit the smaller one's result.
   */
  attacks: AttackResult[];
  /** Typical distances between tokens, to read ε against. */
  scale: EmbeddingScale;
  /** The whole model's accuracy on the clean token ids. */
  cleanAccuracy: number;
  perEps: ProjectedEps[];
}

/**
 * Runs `spec` on the embeddings of `n` token-id rows `ids` ([n, T], float32 ids) and projects each
 * ε's adversarial embeddings to the nearest tokens, which the whole model then classifies.
 */
export async function runEmbeddingAttack(view: EmbeddingView, ids: Float32Array, n: number, labels: Int32Array, spec: AttackSpec, rng: Rng, opts: RunAttackOptions & { /** The scale when already measured (a campaign measures it once for every cell). */ scale?: EmbeddingScale } = {}): Promise<EmbeddingAttackResult> {
  if (n > 0 && ids.length % n !== 0) throw new DataError(`${ids.length} token ids do not divide into ${n} items`);
  const T = n > 0 ? ids.length / n : 0;
  const emb = view.embed(ids);
  const { scale: measured, ...attackOpts } = opts;
  const scale = measured ?? (await view.scale(rng.fork('scale')));
  const epsList = (Array.isArray(spec.eps) ? [...spec.eps] : [spec.eps]).sort((a, b) => a - b);
  const attacks: AttackResult[] = [];
  for (const eps of epsList) attacks.push(await runAttack(view.tail, emb, n, labels, { ...spec, eps }, rng.fork(`attack:eps=${eps}`), { ...attackOpts, itemShape: [T, view.dim] }));
  const classify = async (x: Float32Array): Promise<Int32Array> => {
    const r = await view.model.predictItems(x, n, { batchSize: opts.batchSize });
    return Int32Array.from({ length: n }, (_, i) => argmaxRow(r.scores, i, r.numClasses));
  };
  const accuracy = (pred: Int32Array) => (n === 0 ? NaN : pred.reduce((s, p, i) => s + (p === labels[i] ? 1 : 0), 0) / n);
  const clean = await classify(ids);
  const cleanAccuracy = accuracy(clean);
  const perEps: ProjectedEps[] = [];
  for (const p of attacks.map((a) => a.perEps[0]!)) {
    const projected = await view.nearest(p.adversarial);
    const predicted = await classify(projected);
    let changed = 0;
    let items = 0;
    let correct = 0;
    let broken = 0;
    for (let i = 0; i < n; i++) {
      let c = 0;
      for (let t = 0; t < T; t++) if (projected[i * T + t] !== ids[i * T + t]) c++;
      changed += c;
      if (c > 0) items++;
      if (clean[i] === labels[i]) {
        correct++;
        if (predicted[i] !== labels[i]) broken++;
      }
    }
    perEps.push({
      eps: p.eps,
      ids: projected,
      predicted,
      accuracy: accuracy(predicted),
      successRate: correct === 0 ? NaN : broken / correct,
      embeddingAccuracy: p.aggregate.robustAccuracy,
      tokensChanged: n * T === 0 ? 0 : changed / (n * T),
      itemsChanged: n === 0 ? 0 : items / n,
    });
  }
  return { attacks, scale, cleanAccuracy, perEps };
}
