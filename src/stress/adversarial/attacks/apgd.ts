/**
 * APGD-CE and APGD-DLR — Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial
 * robustness with an ensemble of diverse parameter-free attacks", ICML), untargeted and targeted.
 *
 * PGD with momentum α = 0.75 and a budget-aware step size: η starts at 2ε and is halved at the
 * checkpoints w_j = ⌈p_j·N⌉ (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06))
 * when (a) the loss increased in fewer than ρ = 0.75 of the steps since the last checkpoint, or
 * (b) η was not halved at the last checkpoint and the best loss has not improved since; a halving
 * restarts the point from its best iterate. The start is a random point on the ball's boundary
 * (L∞: x + ε·t/‖t‖∞, t uniform; L2: x + ε·t/‖t‖₂, t Gaussian). N iterations cost N + 1 gradient
 * evaluations. Each point returns its first adversarial iterate (else its highest-loss iterate),
 * and a batch stops once every point in it is adversarial; neither depends on which other points
 * share the batch. Losses: cross-entropy (CE) or the Difference of Logits Ratio (DLR, scale
 * invariant); targeted runs use the targeted CE / DLR towards each of the `nTargets` strongest
 * wrong classes in turn (APGD-T).
 *
 * Norms: linf, l2. Defaults: 100 iterations, 1 restart, untargeted; targeted: 9 targets.
 * Deviation: after a halving the momentum term restarts at zero (the reference keeps the
 * pre-reset iterate).
 *
 * Example:
 *   const r = await runAttack(model, x, n, labels, { attack: 'apgd-dlr', norm: 'linf', eps: 0.1, targeted: true }, new Rng(0));
 *   r.aggregate.robustAccuracy;
 */
import type { LossKind } from '../../../autodiff/loss.js';
import { passCount, passes, runPasses, type AttackDef } from '../attack.js';
import { hooksFor } from '../norms.js';
import type { AttackRun, BatchOutcome, PackedBatch } from '../runner.js';
import { argmaxRow } from '../scores.js';

const RHO = 0.75;
const MOMENTUM = 0.75;

export interface ApgdOptions {
  steps: number;
  loss: LossKind;
  lossTargets: Int32Array | null;
}

/** One APGD run on a packed batch. */
export async function apgdBatch(run: AttackRun, b: PackedBatch, o: ApgdOptions): Promise<BatchOutcome> {
  const { size, per, n, eps } = b;
  const hooks = hooksFor(b.norm);
  const engine = run.engines.get(o.loss, o.lossTargets !== null);
  run.lossesUsed.add(o.loss);
  const N = o.steps;

  // Start on the boundary of the ball.
  const xa = new Float32Array(size * per);
  for (let r = 0; r < size; r++) {
    const rng = b.rngs[r]!;
    const off = r * per;
    let m = 0;
    for (let j = off; j < off + per; j++) {
      const t = b.norm === 'linf' ? 2 * rng.uniform() - 1 : rng.normal();
      xa[j] = t;
      m = b.norm === 'linf' ? Math.max(m, Math.abs(t)) : m + t * t;
    }
    const f = m > 0 ? eps / (b.norm === 'linf' ? m : Math.sqrt(m)) : 0;
    for (let j = off; j < off + per; j++) xa[j] = b.x[j]! + xa[j]! * f;
  }
  hooks.project(b, xa);

  const adv = new Float32Array(size * per);
  const success = new Uint8Array(size);
  const iterations = new Int32Array(size).fill(N);
  let open = n;
  const found = (scores: Float32Array, k: number, it: number) => {
    for (let r = 0; r < n; r++) {
      if (success[r] || !run.isAdversarial(b.idx[r]!, argmaxRow(scores, r, k))) continue;
      iterations[r] = it;
      success[r] = 1;
      open--;
      adv.set(xa.subarray(r * per, (r + 1) * per), r * per);
    }
  };

  let res = await run.grad(engine, xa, size, b.labels, o.lossTargets);
  run.checkGradient(b, res.grad, true);
  found(res.scores, res.numClasses, 0);
  let grad = res.grad;
  const xBest = xa.slice();
  const gradBest = grad.slice();
  const lossBest = Float32Array.from(res.loss);
  const lossBestLast = lossBest.slice();
  const prev = lossBest.slice();
  const reducedLast = new Uint8Array(size);
  const increases = new Int32Array(size);
  const step = new Float64Array(size).fill(2 * eps);
  const xOld = xa.slice();
  const dir = new Float32Array(size * per);
  const z = new Float32Array(size * per);
  let interval = Math.max(Math.floor(0.22 * N), 1);
  const decrease = Math.max(Math.floor(0.03 * N), 1);
  const minInterval = Math.max(Math.floor(0.06 * N), 1);
  let checkpoint = interval;

  for (let it = 0; it < N && open > 0; it++) {
    run.iterationDone(it, N);
    dir.set(grad);
    hooks.direction(b, dir);
    const a = it === 0 ? 1 : MOMENTUM;
    for (let r = 0; r < size; r++) {
      const eta = step[r]!;
      for (let j = r * per, e = j + per; j < e; j++) z[j] = xa[j]! + eta * dir[j]!;
    }
    hooks.project(b, z);
    for (let j = 0; j < z.length; j++) {
      const v = xa[j]!;
      z[j] = v + a * (z[j]! - v) + (1 - a) * (v - xOld[j]!);
    }
    hooks.project(b, z);
    xOld.set(xa);
    xa.set(z);

    res = await run.grad(engine, xa, size, b.labels, o.lossTargets);
    run.checkGradient(b, res.grad, false);
    found(res.scores, res.numClasses, it + 1);
    grad = res.grad;
    for (let r = 0; r < size; r++) {
      const l = res.loss[r]!;
      if (l > prev[r]!) increases[r] = increases[r]! + 1;
      prev[r] = l;
      if (l > lossBest[r]!) {
        lossBest[r] = l;
        xBest.set(xa.subarray(r * per, (r + 1) * per), r * per);
        gradBest.set(grad.subarray(r * per, (r + 1) * per), r * per);
      }
    }

    if (it + 1 === checkpoint && it + 1 < N) {
      for (let r = 0; r < size; r++) {
        const fewIncreases = increases[r]! < RHO * interval;
        const stalled = !reducedLast[r] && !(lossBest[r]! > lossBestLast[r]!);
        const halve = fewIncreases || stalled;
        reducedLast[r] = halve ? 1 : 0;
        lossBestLast[r] = lossBest[r]!;
        increases[r] = 0;
        if (halve) {
          step[r] = step[r]! / 2;
          const rows = [r * per, (r + 1) * per] as const;
          xa.set(xBest.subarray(...rows), rows[0]);
          xOld.set(xBest.subarray(...rows), rows[0]);
          grad.set(gradBest.subarray(...rows), rows[0]);
          prev[r] = lossBest[r]!;
        }
      }
      interval = Math.max(interval - decrease, minInterval);
      checkpoint += interval;
    }
  }
  for (let r = 0; r < n; r++) if (!success[r]) adv.set(xBest.subarray(r * per, (r + 1) * per), r * per);
  const queries = Int32Array.from(iterations, (it, r) => (success[r] ? it + 1 : N + 1));
  return { adv, success, loss: lossBest, iterations, queries };
}

/** Runs APGD with a loss over the robust points: restarts × (untargeted | each target). */
export async function runApgd(run: AttackRun, loss: 'ce' | 'dlr', targeted: boolean, nTargets: number, steps: number, restarts: number): Promise<void> {
  const member = targeted && loss === 'dlr' ? 'apgd-t' : `apgd-${loss}${targeted ? '-t' : ''}`;
  await run.member(member, () =>
    runPasses(run, passes(run, `apgd-${loss}`, targeted, nTargets, restarts), (p, set) =>
      run.forBatches(p.label, set, (b) => apgdBatch(run, b, { steps, loss, lossTargets: p.targets(run, b) }), { runs: steps + 1 }),
    ),
  );
}

function apgdDef(loss: 'ce' | 'dlr'): AttackDef {
  return {
    name: `apgd-${loss}`,
    summary:
      loss === 'ce'
        ? 'Auto-PGD on cross-entropy: momentum, step-size halving at checkpoints (Croce & Hein 2020)'
        : 'Auto-PGD on the scale-invariant DLR loss; --targeted gives APGD-T (Croce & Hein 2020)',
    paper: 'Croce & Hein 2020, Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks',
    norms: ['linf', 'l2'],
    access: 'gradient',
    keys: ['steps', 'restarts', 'targeted', 'nTargets'],
    defaults: { steps: 100, restarts: 1, targeted: false, nTargets: 9 },
    minClasses: (s) => (loss === 'dlr' ? (s.targeted ? 4 : 3) : 2),
    stages: (s, k) => passCount(s.targeted!, s.nTargets!, s.restarts!, k),
    run: (run, s) => runApgd(run, loss, s.targeted!, s.nTargets!, s.steps!, s.restarts!),
  };
}

export const apgdCe: AttackDef = apgdDef('ce');
export const apgdDlr: AttackDef = apgdDef('dlr');
