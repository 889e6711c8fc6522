/**
 * What one attack file exports (`AttackDef`), and the criterion helper every attack uses:
 * "targeted" is a criterion, not a mode. Untargeted runs maximise an untargeted loss; targeted
 * runs maximise a targeted loss towards each of the `nTargets` strongest wrong classes in turn
 * (AutoAttack's APGD-T), and success is still misclassification; explicit per-sample targets
 * (`runAttack(..., { targets })`) make success "classified as the target".
 */
import type { AttackRun, PackedBatch } from './runner.js';
import { rankedTarget } from './scores.js';
import type { AttackName, AttackSpec, Norm, ResolvedAttackSpec } from './types.js';

export interface AttackDef {
  readonly name: AttackName;
  /** One line for `gauntlet list attacks`. */
  readonly summary: string;
  /** The paper it follows. */
  readonly paper: string;
  readonly norms: readonly Norm[];
  /** 'gradient': needs input gradients; 'score': predictions only; 'ensemble': both (falls back to scores). */
  readonly access: 'gradient' | 'score' | 'ensemble';
  /** Spec keys accepted besides attack, norm and eps. */
  readonly keys: readonly (keyof AttackSpec)[];
  /** Defaults of those keys (absent: derived, see `notes`). */
  readonly defaults: Readonly<Partial<AttackSpec>>;
  /** How derived defaults are computed, for `list attacks`. */
  readonly notes?: string;
  /** Fills in derived defaults (after `defaults` and the given keys are merged). */
  resolve?(spec: ResolvedAttackSpec): ResolvedAttackSpec;
  /** Fewest classes the attack's losses need. */
  minClasses(spec: ResolvedAttackSpec): number;
  /** Progress stages per ε. */
  stages(spec: ResolvedAttackSpec, numClasses: number): number;
  /** Attacks the points still robust at the run's current ε. */
  run(run: AttackRun, spec: ResolvedAttackSpec): Promise<void>;
}

/** One pass of an attack: a random-stream label and how to pick loss targets for a batch. */
export interface Pass {
  /** Stage label (random streams are keyed by it, so the same pass gives the same result anywhere). */
  label: string;
  /** Loss targets for a packed batch (padded rows included), or null for an untargeted loss. */
  targets(run: AttackRun, b: PackedBatch): Int32Array | null;
}

/** The passes of an attack: restarts × (untargeted | each ranked target | the explicit targets). */
export function passes(run: AttackRun, name: string, targeted: boolean, nTargets: number, restarts: number): Pass[] {
  const out: Pass[] = [];
  const explicit = run.criterionTargets !== null;
  const ranks = explicit || !targeted ? [0] : Array.from({ length: Math.min(nTargets, run.k - 1) }, (_, t) => t + 1);
  for (const t of ranks) {
    for (let r = 0; r < restarts; r++) {
      out.push({
        label: t === 0 ? `${name}/r${r}` : `${name}/t${t}/r${r}`,
        targets: (rn, b) => (explicit ? b.targets : t === 0 ? null : rankedTargets(rn, b, t)),
      });
    }
  }
  return out;
}

/** Number of passes (for progress) without building them. */
export function passCount(targeted: boolean, nTargets: number, restarts: number, numClasses: number): number {
  return (targeted ? Math.max(1, Math.min(nTargets, numClasses - 1)) : 1) * restarts;
}

/** The rank-t strongest wrong class at the clean point, per row of a packed batch. */
export function rankedTargets(run: AttackRun, b: PackedBatch, rank: number): Int32Array {
  const t = new Int32Array(b.size);
  for (let r = 0; r < b.size; r++) {
    const i = b.idx[Math.min(r, b.n - 1)]!;
    t[r] = rankedTarget(run.cleanScores, i, run.k, run.labels[i]!, rank);
  }
  return t;
}

/** Runs each pass on the points still robust when it starts. */
export async function runPasses(run: AttackRun, ps: Pass[], body: (p: Pass, set: Int32Array) => Promise<void>): Promise<void> {
  for (const p of ps) {
    const set = run.robust();
    await body(p, set);
  }
}
