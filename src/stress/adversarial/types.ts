/**
 * Shapes shared by the adversarial attacks: the spec a campaign or the CLI gives, the per-sample
 * and aggregate results, and the flags that say when the numbers should not be trusted.
 *
 * Conventions: inputs are float32, row-major `[n, ...itemShape]`, in the model's data domain.
 * On images an ε is measured in that domain (an L∞ ε of 0.1 on [0, 1] images moves each pixel at
 * most 0.1); on tabular data (flat items) it is in standardised units by default, feature j moving
 * by at most ε·σ_j (`epsUnits`, see `units.ts`).
 */
import type { EpsUnits } from './units.js';
export type { EpsUnits } from './units.js';

/** Threat-model norms. */
export type Norm = 'linf' | 'l2';
export const NORMS: readonly Norm[] = ['linf', 'l2'];

/** Every attack, in registry order. */
export const ATTACK_NAMES = ['fgsm', 'pgd', 'apgd-ce', 'apgd-dlr', 'square', 'autoattack'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

/** AutoAttack presets: 'standard' is Croce & Hein's; 'quick' is a cheaper smoke test. */
export type Preset = 'standard' | 'quick';
export const PRESETS: readonly Preset[] = ['standard', 'quick'];

/** Losses the gradient attacks (FGSM, PGD) may maximise. */
export type DescentLoss = 'ce' | 'cw' | 'dlr';
export const DESCENT_LOSSES: readonly DescentLoss[] = ['ce', 'cw', 'dlr'];

/**
 * What to run. Keys an attack does not use are rejected by `parseAttackSpec`; absent keys take
 * the registry's defaults (see `gauntlet list attacks`).
 *
 * Example: `{ attack: 'pgd', norm: 'linf', eps: [0.01, 0.03], steps: 20 }`.
 */
export interface AttackSpec {
  attack: AttackName;
  norm: Norm;
  /** Radius (in `epsUnits`); a list gives a robustness curve in one call. */
  eps: number | number[];
  /**
   * 'std': ε in units of each feature's standard deviation over the clean data (the default for
   * tabular data, flat items); 'raw': data-domain units (the default, and the only choice, for images).
   */
  epsUnits?: EpsUnits;
  /** Gradient iterations (PGD, APGD, AutoAttack's APGD stages). */
  steps?: number;
  /** Absolute step size (PGD). Exclusive with `relStepSize`. */
  stepSize?: number;
  /** Step size as a multiple of ε (PGD; default 2.5 / steps, Madry et al.). */
  relStepSize?: number;
  /** Independent runs from fresh random starts; later runs attack only points still robust. */
  restarts?: number;
  /** PGD: start from a uniform random point of the ball (default true). */
  randomStart?: boolean;
  /** FGSM / PGD loss (default 'ce'). */
  loss?: DescentLoss;
  /** Use targeted losses towards each of the `nTargets` highest-scoring wrong classes in turn. */
  targeted?: boolean;
  /** Number of target classes for targeted runs (default 9, AutoAttack's). */
  nTargets?: number;
  /** Square: query budget per point (and per restart). */
  queries?: number;
  /** Square: initial fraction of pixels changed per query (default 0.8). */
  pInit?: number;
  /** AutoAttack preset (default 'standard'); explicit keys override it. */
  preset?: Preset;
}

/** A spec with every key its attack uses filled in and `eps` a sorted, de-duplicated list (`epsUnits` is resolved by `runAttack`, which knows the data). */
export type ResolvedAttackSpec = AttackSpec & { eps: number[] };

/**
 * Per-domain constraints, applied by projection. Arrays have one value per element of an item
 * (e.g. one per tabular feature). A point is kept inside
 * `[max(bounds.lo, lower), min(bounds.hi, upper)]` (widened to contain the clean value) and the ε-ball;
 * elements with `mask` 0 are never changed.
 */
export interface Constraints {
  lower?: Float32Array;
  upper?: Float32Array;
  /** 1 = may be perturbed, 0 = immutable. */
  mask?: Uint8Array;
}

/** Per-sample outcome at one ε (struct of arrays; index i is sample i). */
export interface SampleResults {
  /** 1 when the clean input is classified correctly. */
  cleanCorrect: Uint8Array;
  /** 1 when the returned adversarial input meets the criterion (verified by a plain forward pass). */
  success: Uint8Array;
  /** Predicted class of the returned adversarial input. */
  predicted: Int32Array;
  /** ‖adv − x‖∞ and ‖adv − x‖₂ of the returned input, in ε's units (std units: ‖(adv − x)/σ‖). */
  linf: Float32Array;
  l2: Float32Array;
  /** Gradient iterations used (until success, or all of them), summed over attack members and restarts. */
  iterations: Int32Array;
  /** Model evaluations (forward or forward+gradient) used for this point. */
  queries: Int32Array;
}

/** Aggregates at one ε. */
export interface AttackAggregate {
  eps: number;
  samples: number;
  cleanAccuracy: number;
  /** Share of all samples classified correctly after the attack (robust only if every attack failed). */
  robustAccuracy: number;
  /** Share of the attacked (clean-correct) points on which the attack succeeded. */
  attackSuccessRate: number;
  /** Perturbation norms over the successful adversarial examples (NaN when there are none). */
  meanLinf: number;
  medianLinf: number;
  meanL2: number;
  medianL2: number;
  /** Mean model evaluations per attacked point. */
  meanQueries: number;
  /** Wall time spent at this ε. */
  seconds: number;
}

export interface EpsResult {
  eps: number;
  /** Adversarial inputs at this ε (robust points: the last attempt, inside the ball). */
  adversarial: Float32Array;
  samples: SampleResults;
  /** `samples.linf` and `samples.l2` before rounding to float32 (the aggregates are taken over these). */
  norms: { linf: Float64Array; l2: Float64Array };
  aggregate: AttackAggregate;
}

/** One stage of an ensemble (or one attack): what it attacked and what it broke, summed over ε. */
export interface MemberSummary {
  name: string;
  attacked: number;
  broken: number;
  seconds: number;
}

export interface AttackResult {
  spec: ResolvedAttackSpec;
  /** The units ε and the norms are in. */
  epsUnits: EpsUnits;
  /** σ per item element when `epsUnits` is 'std' (0: a constant feature, which cannot move), else null. */
  featureStd: Float32Array | null;
  /** ε values, ascending. */
  eps: number[];
  /** Adversarial inputs at the largest ε (a new array; the input is never mutated). */
  adversarial: Float32Array;
  /** Per-sample results at the largest ε. */
  samples: SampleResults;
  /** Each sample's smallest ε at which an adversarial example was found: 0 for clean errors, Infinity if none. */
  minEps: Float64Array;
  /** Aggregates at the largest ε. */
  aggregate: AttackAggregate;
  /** One entry per ε, ascending: the robustness curve. */
  perEps: EpsResult[];
  /** Stages that ran (attack members, targets, restarts). */
  members: MemberSummary[];
  /** Gradient-masking and reliability warnings: `code: explanation`. Empty when nothing looked wrong. */
  flags: string[];
  /** ORT runs: forward+gradient batches and forward-only batches (compute accounting). */
  gradientBatches: number;
  forwardBatches: number;
  /** Seconds spent inside ONNX Runtime (runs and gradient-graph builds); the rest is Gauntlet's own work. */
  ortSeconds: number;
  /** A small JSON-ready digest (no arrays of inputs): what the CLI prints and campaigns store. */
  summary: AttackSummary;
  /** Wall time of the whole call (seconds). */
  seconds: number;
  /** 1 for the points the criterion could be met on (clean-correct, target ≠ label): the attacked points. */
  attackable: Uint8Array;
  /** The counts behind `flags` (so that a chunked attack's flags are the whole attack's, see chunked.ts). */
  diagnostics: AttackDiagnostics;
}

/** JSON-ready digest of an AttackResult (snake_case, as in the CLI's `--json` line). */
export interface AttackSummary {
  attack: string;
  norm: Norm;
  /** The units of ε and of the perturbation norms: 'std' (per-feature standard deviations, tabular) or 'raw' (data domain). */
  eps_units: EpsUnits;
  spec: ResolvedAttackSpec;
  samples: number;
  clean_accuracy: number;
  /** At the largest ε. */
  robust_accuracy: number;
  attack_success_rate: number;
  mean_linf: number | null;
  median_linf: number | null;
  mean_l2: number | null;
  median_l2: number | null;
  mean_queries: number | null;
  /** Robust accuracy per ε, ascending. */
  curve: { eps: number; robust_accuracy: number; attack_success_rate: number; seconds: number }[];
  members: MemberSummary[];
  flags: string[];
  gradient_batches: number;
  forward_batches: number;
  ort_seconds: number;
  seconds: number;
}

/**
 * The raw counts behind an attack's reliability flags (`flagsOf`), kept apart from the text so that
 * the flags of an attack run chunk by chunk are those of the whole run (see chunked.ts).
 */
export interface AttackDiagnostics {
  /** Points the criterion could be met on (clean-correct, target ≠ label). */
  attacked: number;
  randomisedDiff: number;
  zeroGrad: number;
  nonFinite: number;
  lossesUsed: string[];
  probabilities: boolean;
  mismatchLost: number;
  mismatchGained: number;
  blackBoxWins: { eps: number; broke: number }[];
  /** Other flags by code, in the order first raised. */
  other: [string, string][];
}
