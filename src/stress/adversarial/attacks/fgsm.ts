/**
 * FGSM — Fast Gradient Sign Method (Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing
 * Adversarial Examples", ICLR). One step of size ε from the clean point along sign(∇loss) (L∞),
 * or along ∇loss/‖∇loss‖₂ (L2, "FGM"), projected onto the data bounds.
 *
 * Norms: linf, l2. Defaults: loss 'ce', untargeted (targeted: each of `nTargets` = 9 strongest
 * wrong classes in turn).
 *
 * Example:
 *   const r = await runAttack(model, x, n, labels, { attack: 'fgsm', norm: 'linf', eps: 0.1 }, new Rng(0));
 *   r.aggregate.robustAccuracy;
 */
import { passCount, passes, runPasses, type AttackDef } from '../attack.js';
import { gradientDescent } from '../gradient-descent.js';

export const fgsm: AttackDef = {
  name: 'fgsm',
  summary: 'one signed-gradient step of size ε (Goodfellow et al. 2015); L2: normalised gradient (FGM)',
  paper: 'Goodfellow, Shlens & Szegedy 2015, Explaining and Harnessing Adversarial Examples',
  norms: ['linf', 'l2'],
  access: 'gradient',
  keys: ['loss', 'targeted', 'nTargets'],
  defaults: { loss: 'ce', targeted: false, nTargets: 9 },
  minClasses: (s) => (s.loss === 'dlr' ? (s.targeted ? 4 : 3) : 2),
  stages: (s, k) => passCount(s.targeted!, s.nTargets!, 1, k),
  async run(run, spec) {
    await run.member('fgsm', () =>
      runPasses(run, passes(run, 'fgsm', spec.targeted!, spec.nTargets!, 1), (p, set) =>
        run.forBatches(p.label, set, (b) =>
          gradientDescent(run, b, { steps: 1, stepSize: b.eps, randomStart: false, loss: spec.loss!, lossTargets: p.targets(run, b) }),
          { runs: 2 },
        ),
      ),
    );
  },
};
