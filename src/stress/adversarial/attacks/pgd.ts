/**
 * PGD — Projected Gradient Descent (Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards Deep
 * Learning Models Resistant to Adversarial Attacks", ICLR). From a uniform random point of the
 * ε-ball, `steps` times x ← Π(x + α · sign(∇loss)) (L∞) or Π(x + α · ∇loss/‖∇loss‖₂) (L2), where Π
 * projects onto the ball ∩ data bounds. Restarts re-run from fresh random starts on the points
 * still robust, keeping each point's strongest result.
 *
 * Norms: linf, l2. Defaults: 20 steps, α = 2.5·ε/steps (Madry's rule; `stepSize` sets α
 * absolutely, `relStepSize` as a multiple of ε), random start, 1 restart, loss 'ce', untargeted.
 *
 * Example:
 *   const spec = { attack: 'pgd', norm: 'linf', eps: [0.05, 0.1], steps: 20 } as const;
 *   const r = await runAttack(model, x, n, labels, spec, new Rng(0)); // r.perEps: the curve
 */
import { passCount, passes, runPasses, type AttackDef } from '../attack.js';
import { gradientDescent } from '../gradient-descent.js';

export const pgd: AttackDef = {
  name: 'pgd',
  summary: 'projected gradient descent from a random start, with restarts (Madry et al. 2018)',
  paper: 'Madry, Makelov, Schmidt, Tsipras & Vladu 2018, Towards Deep Learning Models Resistant to Adversarial Attacks',
  norms: ['linf', 'l2'],
  access: 'gradient',
  keys: ['steps', 'stepSize', 'relStepSize', 'restarts', 'randomStart', 'loss', 'targeted', 'nTargets'],
  defaults: { steps: 20, restarts: 1, randomStart: true, loss: 'ce', targeted: false, nTargets: 9 },
  notes: 'relStepSize=2.5/steps (unless stepSize or relStepSize is given)',
  resolve: (s) => (s.stepSize === undefined && s.relStepSize === undefined ? { ...s, relStepSize: 2.5 / s.steps! } : s),
  minClasses: (s) => (s.loss === 'dlr' ? (s.targeted ? 4 : 3) : 2),
  stages: (s, k) => passCount(s.targeted!, s.nTargets!, s.restarts!, k),
  async run(run, spec) {
    await run.member('pgd', () =>
      runPasses(run, passes(run, 'pgd', spec.targeted!, spec.nTargets!, spec.restarts!), (p, set) =>
        run.forBatches(p.label, set, (b) =>
          gradientDescent(run, b, {
            steps: spec.steps!,
            stepSize: spec.stepSize ?? spec.relStepSize! * b.eps,
            randomStart: spec.randomStart!,
            loss: spec.loss!,
            lossTargets: p.targets(run, b),
          }),
          { runs: spec.steps! + 1 },
        ),
      ),
    );
  },
};
