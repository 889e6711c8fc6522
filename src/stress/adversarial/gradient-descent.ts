/**
 * The one gradient loop (Foolbox 3's `gradient_descent_base`): optional random start, then
 * `steps` times x ← project(x + α · direction(∇loss)), with the per-norm hooks of `norms.ts`.
 * FGSM is one step of size ε from the clean point; PGD is this loop with a random start.
 *
 * Every iterate's scores come with its gradient, so the loop keeps, per point, the last iterate
 * that met the criterion (a success is never lost to a later step); the final iterate is checked
 * with one forward pass. Points that never succeed return the final iterate.
 */
import type { LossKind } from '../../autodiff/loss.js';
import { hooksFor } from './norms.js';
import type { AttackRun, BatchOutcome, PackedBatch } from './runner.js';
import { argmaxRow, asLogits, lossFromLogits } from './scores.js';

export interface DescentOptions {
  steps: number;
  /** Absolute step size α. */
  stepSize: number;
  randomStart: boolean;
  loss: LossKind;
  /** Targets of a targeted loss (per padded row), or null for the untargeted loss. */
  lossTargets: Int32Array | null;
}

export async function gradientDescent(run: AttackRun, b: PackedBatch, o: DescentOptions): Promise<BatchOutcome> {
  const { size, per, n } = b;
  const hooks = hooksFor(b.norm);
  const engine = run.engines.get(o.loss, o.lossTargets !== null);
  run.lossesUsed.add(o.loss);
  const xa = b.x.slice();
  if (o.randomStart) hooks.randomStart(b, xa);
  const adv = new Float32Array(size * per);
  const success = new Uint8Array(size);
  const iterations = new Int32Array(size).fill(o.steps);
  const found = (scores: Float32Array, k: number, step: number) => {
    for (let r = 0; r < n; r++) {
      if (!run.isAdversarial(b.idx[r]!, argmaxRow(scores, r, k))) continue;
      if (!success[r]) iterations[r] = step;
      success[r] = 1;
      adv.set(xa.subarray(r * per, (r + 1) * per), r * per);
    }
  };
  const a = o.stepSize;
  for (let step = 0; step < o.steps; step++) {
    run.iterationDone(step, o.steps);
    const res = await run.grad(engine, xa, size, b.labels, o.lossTargets);
    run.checkGradient(b, res.grad, step === 0);
    found(res.scores, res.numClasses, step);
    hooks.step(b, xa, res.grad, a);
  }
  const fin = await run.forward(xa, size);
  found(fin.scores, fin.numClasses, o.steps);
  const z = asLogits(fin.scores, run.probabilities);
  const loss = new Float32Array(size);
  // A row whose result is the final iterate (adversarial there, or never) was classified by this
  // plain forward pass; a row that returns an earlier iterate was judged by a gradient run's scores.
  const verified = new Int32Array(size).fill(-1);
  for (let r = 0; r < n; r++) {
    loss[r] = lossFromLogits(o.loss, z, r, fin.numClasses, b.labels[r]!, o.lossTargets ? o.lossTargets[r]! : null);
    const pred = argmaxRow(fin.scores, r, fin.numClasses);
    if (!success[r]) adv.set(xa.subarray(r * per, (r + 1) * per), r * per);
    if (!success[r] || run.isAdversarial(b.idx[r]!, pred)) verified[r] = pred;
  }
  return { adv, success, loss, iterations, queries: new Int32Array(size).fill(o.steps + 1), verified };
}
