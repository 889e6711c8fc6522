/**
 * The units of ε. On images ε is in data-domain units: an L∞ ε of 0.03 on [0, 1] images moves each
 * pixel by at most 0.03. Tabular features have unrelated scales (age in years, income in dollars),
 * so one raw ε would mean "nothing" for income and "everything" for a 0/1 flag. On tabular data
 * (flat items) ε is therefore in standardised units by default (`eps_units: std`): feature j may
 * move by ε·σ_j, σ_j its standard deviation over the clean data — the L∞ ball becomes the box
 * |δ_j| ≤ ε·σ_j and the L2 ball the ellipsoid ‖δ/σ‖₂ ≤ ε. `eps_units: raw` keeps data-domain units.
 * Images always use raw units. Constant features (σ_j = 0) cannot move in std units.
 *
 * Implemented as a change of variables, so every attack (gradient or score-based, every norm)
 * runs unchanged: the attack works on z = x/σ against the model g(z) = f(z·σ), whose ε-ball is the
 * ordinary one and whose gradient is ∂L/∂z = σ·∂L/∂x. Perturbation norms (`mean_linf`, `mean_l2`,
 * per-sample `linf`/`l2`) are reported in the ε's units.
 *
 * Example: a linear model's optimal L∞ attack in std units moves feature j by ε·σ_j·sign(w_j).
 */
export const EPS_UNITS = ['std', 'raw'] as const;
export type EpsUnits = (typeof EPS_UNITS)[number];

/** Population standard deviation of each of the `per` elements over `n` rows (float64 accumulation). */
export function featureStd(x: Float32Array, n: number, per: number): Float32Array {
  const mean = new Float64Array(per);
  const m2 = new Float64Array(per);
  for (let i = 0; i < n; i++) {
    for (let j = 0, o = i * per; j < per; j++) {
      const v = x[o + j]!;
      const d = v - mean[j]!;
      mean[j]! += d / (i + 1);
      m2[j]! += d * (v - mean[j]!);
    }
  }
  return Float32Array.from(m2, (s) => (n > 0 ? Math.sqrt(s / n) : 0));
}

/**
 * The per-element scale of a change of variables z = x/s. Elements with s = 1 are unscaled;
 * `pinned` marks elements that may not move at all (constant features in std units).
 */
export class InputScale {
  /** Scale per item element (1 where unscaled or pinned). */
  readonly s: Float32Array;
  readonly pinned: Uint8Array;

  constructor(std: ArrayLike<number>) {
    this.s = new Float32Array(std.length);
    this.pinned = new Uint8Array(std.length);
    for (let j = 0; j < std.length; j++) {
      const v = std[j]!;
      if (v > 0 && Number.isFinite(v)) this.s[j] = v;
      else {
        this.s[j] = 1;
        this.pinned[j] = 1;
      }
    }
  }

  /** z = x / s, row-major rows of s.length values (a new array). */
  toInternal(x: Float32Array): Float32Array {
    const per = this.s.length;
    const z = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) z[k] = x[k]! / this.s[k % per]!;
    return z;
  }

  /** x = z · s (a new array). */
  toRaw(z: Float32Array): Float32Array {
    const per = this.s.length;
    const x = new Float32Array(z.length);
    for (let k = 0; k < z.length; k++) x[k] = z[k]! * this.s[k % per]!;
    return x;
  }

  /** ∂L/∂z = s · ∂L/∂x, in place. */
  gradToInternal(g: Float32Array): void {
    const per = this.s.length;
    for (let k = 0; k < g.length; k++) g[k] = g[k]! * this.s[k % per]!;
  }

  /** A bound x ≤ b (or ≥ b) in internal units (infinite bounds stay infinite). */
  bound(b: number, j: number): number {
    return Number.isFinite(b) ? b / this.s[j]! : b;
  }
}
