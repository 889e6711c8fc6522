/**
 * AutoAttack (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble
 * of diverse parameter-free attacks", ICML): APGD-CE → APGD-T (targeted DLR towards the
 * `nTargets` strongest wrong classes) → Square, each run only on the points still robust; the
 * result per point is the first attack that broke it (the worst case), and a point is robust only
 * if every member failed. FAB-T, part of the paper's standard ensemble, is not included.
 *
 * When the gradient engine cannot differentiate the model (an op without a rule, or a node its
 * rule does not cover: an `UnsupportedOpError`), only Square runs, and the flag `square-only`
 * gives every node and reason. When Square breaks points the white-box members left standing,
 * the flag `black-box-beat-white-box` warns of gradient masking, as AutoAttack does.
 *
 * Norms: linf, l2. Presets: 'standard' (default; 100 iterations, APGD-CE 1 restart, 9 targets,
 * 5,000 Square queries) and 'quick' (20 iterations, 3 targets, 500 queries); explicit `steps`,
 * `restarts`, `nTargets`, `queries` override the preset.
 *
 * Example:
 *   const r = await runAttack(model, x, n, labels, { attack: 'autoattack', norm: 'linf', eps: 0.1, preset: 'quick' }, new Rng(0));
 *   r.members; // what each stage attacked and broke
 */
import { UnsupportedOpError } from '../../../errors.js';
import type { AttackDef } from '../attack.js';
import type { AttackSpec, Preset } from '../types.js';
import { runApgd } from './apgd.js';
import { runSquare } from './square.js';

export const AUTOATTACK_PRESETS: Readonly<Record<Preset, Required<Pick<AttackSpec, 'steps' | 'restarts' | 'nTargets' | 'queries'>>>> = {
  standard: { steps: 100, restarts: 1, nTargets: 9, queries: 5000 },
  quick: { steps: 20, restarts: 1, nTargets: 3, queries: 500 },
};

export const autoattack: AttackDef = {
  name: 'autoattack',
  summary: 'APGD-CE → APGD-T (DLR, 9 targets) → Square on the points still robust; worst case per point',
  paper: 'Croce & Hein 2020, Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks',
  norms: ['linf', 'l2'],
  access: 'ensemble',
  keys: ['preset', 'steps', 'restarts', 'nTargets', 'queries'],
  defaults: { preset: 'standard' },
  notes: 'standard = steps=100 restarts=1 nTargets=9 queries=5000; quick = steps=20 restarts=1 nTargets=3 queries=500',
  resolve: (s) => ({ ...s, ...Object.fromEntries(Object.entries(AUTOATTACK_PRESETS[s.preset!]).filter(([k]) => s[k as keyof AttackSpec] === undefined)) }),
  minClasses: () => 2,
  stages: (s, k) => s.restarts! + (k >= 4 ? Math.min(s.nTargets!, k - 1) : 0) + 1,
  async run(run, s) {
    let whiteBox = run.gradientError === null;
    if (whiteBox) {
      try {
        await runApgd(run, 'ce', false, 0, s.steps!, s.restarts!);
      } catch (e) {
        if (!(e instanceof UnsupportedOpError)) throw e;
        run.gradientError = e;
        whiteBox = false;
      }
    }
    if (!whiteBox) {
      const e = run.gradientError!;
      const why = e instanceof UnsupportedOpError ? e.reasons : e.message;
      run.flag('square-only', `square-only: no gradients: ${why}; ran Square only, so robust accuracy is an upper bound from a black-box (score-based) attack`);
    } else if (run.k >= 4) {
      await runApgd(run, 'dlr', true, s.nTargets!, s.steps!, 1);
    } else {
      run.flag('apgd-t-skipped', `apgd-t-skipped: the model has ${run.k} classes; targeted DLR needs at least 4, so APGD-T did not run`);
    }
    const before = run.robust().length;
    await runSquare(run, s.queries!, 0.8, false, 0, 1);
    if (whiteBox) run.noteBlackBoxWins(before - run.robust().length);
  },
};
