/**
 * The verdict on an interaction effect Δ = observed drop − sum of the isolated drops (accuracy
 * units, in [−1, 1]) of a multi-stress cell, from Δ's paired-bootstrap 95 % CI — unless accuracy's
 * floor at zero decides Δ instead of the stresses:
 *
 * - `floor`: the combined cell is at zero accuracy, or its CI reaches zero (`zero_accuracy`: its
 *   drop cannot grow any further), or the isolated drops sum to more than the baseline accuracy
 *   can lose (`drops_exceed_baseline`: the additive prediction is impossible, so Δ is pushed
 *   negative). Either way Δ measures the floor, not how the stresses interact.
 * - otherwise `compounding` (CI above 0: worse together than apart), `overlapping` (CI below 0) or
 *   `additive` (CI covers 0).
 *
 * Example: `interactionVerdict({ interactionCi: [-0.4, -0.3], cellAccuracyCi: [0, 0.02], baseline: 0.9, additive: 1.2 })`
 * gives `{ verdict: 'floor', floor: 'zero_accuracy' }`.
 */
export type InteractionVerdict = 'compounding' | 'overlapping' | 'additive' | 'floor';

/** Why a verdict is `floor` (null when it is not). */
export type FloorReason = 'zero_accuracy' | 'drops_exceed_baseline';

export interface InteractionJudgement {
  verdict: InteractionVerdict;
  floor: FloorReason | null;
}

export interface InteractionEvidence {
  /** 95 % CI of the interaction effect Δ. */
  interactionCi: readonly [number, number];
  /** 95 % CI of the combined cell's accuracy (on the labels Δ is measured against). */
  cellAccuracyCi: readonly [number, number];
  /** Baseline accuracy (the most any cell can lose). */
  baseline: number;
  /** Sum of the isolated drops (the additive prediction), accuracy units. */
  additive: number;
}

export function interactionVerdict(e: InteractionEvidence): InteractionJudgement {
  if (e.cellAccuracyCi[0] <= 0) return { verdict: 'floor', floor: 'zero_accuracy' };
  if (e.additive > e.baseline) return { verdict: 'floor', floor: 'drops_exceed_baseline' };
  const [lo, hi] = e.interactionCi;
  return { verdict: lo > 0 ? 'compounding' : hi < 0 ? 'overlapping' : 'additive', floor: null };
}
