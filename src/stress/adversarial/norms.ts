/**
 * The per-norm hooks of the gradient loop (Foolbox 3's `randomStart / normalize / project`) and
 * the feasible set they keep iterates in: the ε-ball around the clean input intersected with the
 * element-wise box (declared data bounds ∩ per-feature constraints, widened to contain the clean
 * value; immutable elements have a box of width 0).
 *
 * For L∞ the box already includes the ball (`lo = max(box_lo, x − ε)`, `hi = min(box_hi, x + ε)`),
 * so projection is one clamp per element. For L2 projection scales δ = x' − x onto the ball and
 * then clamps to the box; clamping towards x only shrinks |δ_i|, so the result is in both sets
 * (it is not the exact Euclidean projection onto the intersection, as in Foolbox).
 */
import type { Rng } from '../../rng.js';
import type { Norm } from './types.js';

/** A batch seen by the hooks: clean rows and their element-wise feasible box. */
export interface BallBatch {
  /** Rows in the batch (real rows first, then padding). */
  readonly size: number;
  /** Values per row. */
  readonly per: number;
  readonly eps: number;
  /** Clean inputs [size·per]. */
  readonly x: Float32Array;
  /** Feasible box [size·per] (for L∞ it includes the ball). */
  readonly lo: Float32Array;
  readonly hi: Float32Array;
  /** One generator per row. */
  readonly rngs: readonly Rng[];
}

export interface NormHooks {
  readonly norm: Norm;
  /** Writes a uniform random point of the feasible set around each row into `out`. */
  randomStart(b: BallBatch, out: Float32Array): void;
  /** Turns gradients into step directions in place: sign (L∞) or unit L2 norm per row (L2). */
  direction(b: BallBatch, g: Float32Array): void;
  /** Projects `xa` onto the feasible set in place. */
  project(b: BallBatch, xa: Float32Array): void;
  /** xa ← project(xa + a · direction(g)) in place (`g` may be overwritten): one fused pass where the norm allows. */
  step(b: BallBatch, xa: Float32Array, g: Float32Array, a: number): void;
}

export const linfHooks: NormHooks = {
  norm: 'linf',
  randomStart(b, out) {
    const { size, per, x, lo, hi, eps } = b;
    for (let r = 0; r < size; r++) {
      const rng = b.rngs[r]!;
      for (let j = r * per, e = j + per; j < e; j++) {
        const v = x[j]! + eps * (2 * rng.uniform() - 1);
        out[j] = v < lo[j]! ? lo[j]! : v > hi[j]! ? hi[j]! : v;
      }
    }
  },
  direction(b, g) {
    const { lo, hi } = b;
    for (let j = 0; j < g.length; j++) g[j] = lo[j] === hi[j] ? 0 : Math.sign(g[j]!);
  },
  project(b, xa) {
    clampBox(xa, b.lo, b.hi);
  },
  step(b, xa, g, a) {
    // Branch-free (signs are random, so branches mispredict); `g` must be NaN-free (see AttackRun.checkGradient).
    const { lo, hi } = b;
    for (let j = 0; j < xa.length; j++) xa[j] = Math.min(Math.max(xa[j]! + a * Math.sign(g[j]!), lo[j]!), hi[j]!);
  },
};

export const l2Hooks: NormHooks = {
  norm: 'l2',
  randomStart(b, out) {
    const { size, per, x, eps } = b;
    const d = new Float64Array(per);
    for (let r = 0; r < size; r++) {
      const rng = b.rngs[r]!;
      let ss = 0;
      for (let k = 0; k < per; k++) {
        const v = b.lo[r * per + k] === b.hi[r * per + k] ? 0 : rng.normal();
        d[k] = v;
        ss += v * v;
      }
      // Uniform in the ball: direction uniform on the sphere, radius ε·u^(1/d).
      const radius = eps * Math.pow(rng.uniform(), 1 / per);
      const f = ss > 0 ? radius / Math.sqrt(ss) : 0;
      for (let k = 0; k < per; k++) out[r * per + k] = x[r * per + k]! + d[k]! * f;
    }
    l2Hooks.project(b, out);
  },
  direction(b, g) {
    const { size, per, lo, hi } = b;
    for (let r = 0; r < size; r++) {
      let ss = 0;
      const o = r * per;
      for (let j = o; j < o + per; j++) {
        if (lo[j] === hi[j]) g[j] = 0;
        const v = g[j]!;
        ss += v * v;
      }
      const f = ss > 0 && Number.isFinite(ss) ? 1 / Math.sqrt(ss) : 0;
      for (let j = o; j < o + per; j++) g[j] = f === 0 ? 0 : g[j]! * f;
    }
  },
  project(b, xa) {
    projectL2(xa, b.x, b.lo, b.hi, b.size, b.per, b.eps);
  },
  step(b, xa, g, a) {
    l2Hooks.direction(b, g);
    for (let j = 0; j < xa.length; j++) xa[j] = xa[j]! + a * g[j]!;
    l2Hooks.project(b, xa);
  },
};

export function hooksFor(norm: Norm): NormHooks {
  return norm === 'linf' ? linfHooks : l2Hooks;
}

/** Clamps every element into [lo, hi] (branch-free; inputs must be NaN-free). */
export function clampBox(xa: Float32Array, lo: Float32Array, hi: Float32Array): void {
  for (let j = 0; j < xa.length; j++) xa[j] = Math.min(Math.max(xa[j]!, lo[j]!), hi[j]!);
}

/** Scales each row's δ = xa − x onto the L2 ball of radius eps, then clamps into [lo, hi]. */
export function projectL2(xa: Float32Array, x: Float32Array, lo: Float32Array, hi: Float32Array, size: number, per: number, eps: number): void {
  for (let r = 0; r < size; r++) {
    const o = r * per;
    let ss = 0;
    for (let j = o; j < o + per; j++) {
      const d = xa[j]! - x[j]!;
      ss += d * d;
    }
    const n = Math.sqrt(ss);
    if (n > eps) {
      // Shrink a little below ε so float32 rounding cannot land outside the ball.
      const f = (eps / n) * (1 - 1e-6);
      for (let j = o; j < o + per; j++) xa[j] = x[j]! + (xa[j]! - x[j]!) * f;
    } else if (!(n === n)) {
      for (let j = o; j < o + per; j++) xa[j] = x[j]!;
    }
  }
  clampBox(xa, lo, hi);
}

/**
 * Element-wise feasible box for rows of `x` (writes `lo`, `hi`, [rows·per]). `lower`/`upper` are
 * per item element (already intersected with the data bounds); `mask` 0 pins an element.
 * For L∞ the ε-ball is included.
 */
export function buildBox(
  x: Float32Array,
  rows: number,
  per: number,
  itemLo: Float32Array,
  itemHi: Float32Array,
  norm: Norm,
  eps: number,
  lo: Float32Array,
  hi: Float32Array,
): void {
  const ball = norm === 'linf';
  for (let r = 0; r < rows; r++) {
    for (let k = 0, j = r * per; k < per; k++, j++) {
      const v = x[j]!;
      let l = itemLo[k]!;
      let h = itemHi[k]!;
      if (v < l) l = v;
      if (v > h) h = v;
      if (ball) {
        // float32 rounding of v ± ε must not leave the ball: step inwards by ulps if it did.
        let a = Math.fround(v - eps);
        while (v - a > eps) a = nextToward(a, v);
        let c = Math.fround(v + eps);
        while (c - v > eps) c = nextToward(c, v);
        if (a > l) l = a;
        if (c < h) h = c;
      }
      lo[j] = l;
      hi[j] = h;
    }
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 next to `a` in the direction of `toward` (a ≠ toward, both finite float32). */
function nextToward(a: number, toward: number): number {
  if (a === 0) return toward > 0 ? 1.4e-45 : -1.4e-45;
  f32[0] = a;
  // Moving away from zero increments the magnitude bits; towards zero decrements them.
  u32[0] = toward > a === a > 0 ? u32[0]! + 1 : u32[0]! - 1;
  return f32[0]!;
}

/** ‖a − b‖∞ and ‖a − b‖₂ of one row (float64 accumulation). */
export function perturbationNorms(a: Float32Array, b: Float32Array, offset: number, per: number): { linf: number; l2: number } {
  let m = 0;
  let ss = 0;
  for (let j = offset; j < offset + per; j++) {
    const d = Math.abs(a[j]! - b[j]!);
    if (d > m) m = d;
    ss += d * d;
  }
  return { linf: m, l2: Math.sqrt(ss) };
}
