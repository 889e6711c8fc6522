/**
 * KernelSHAP (Lundberg & Lee 2017, "A Unified Approach to Interpreting Model Predictions") over
 * players that are superpixels (a grid of `cell`×`cell` pixel cells, all channels together) for
 * images, single features for flat inputs, or any given feature groups. A coalition z keeps the
 * players in z and sets the others to `baselineValue`; f_t is evaluated through `predictBatch` only.
 *
 * Coalitions: all 2^M − 2 proper non-empty ones with Shapley-kernel weights
 * π(z) = (M − 1) / (C(M, |z|)·|z|·(M − |z|)) when that is at most `coalitions` (the result is then
 * the exact Shapley values); otherwise `coalitions` are drawn in complementary pairs with size s
 * drawn ∝ (M − 1)/(s(M − s)) and a uniform subset of that size, each then weighted equally (the
 * kernel is in the sampling). One coalition set, drawn from `rng.fork('shap')`, serves every item.
 * φ solves the weighted least squares  f(z) − f(∅) ≈ Σ_j φ_j z_j  under the efficiency constraint
 * Σ φ = f(x) − f(∅) (φ_M eliminated, normal equations in float64 with a 1e-10 relative ridge).
 * A player's φ is spread evenly over its elements, so Σ attributions = f_t(x) − f_t(baseline).
 *
 * Example: `await kernelShap(model, x, n, targets, { cell: 4, coalitions: 1024 }, new Rng(0))`.
 */
import type { Model } from '../engine/model.js';
import { checkRange, UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { checkTargets, forwardBatch, geometry, scorePoints, type Geometry } from './common.js';
import type { AttributionMethod, ShapOptions } from './types.js';

/** Player (group) id per element of one item, and the player count. */
export function shapPlayers(geom: Geometry, opts: Pick<ShapOptions, 'cell' | 'groups'>): { group: Int32Array; players: number } {
  if (opts.groups) {
    const g = opts.groups;
    if (g.length !== geom.size) throw new UsageError(`'groups' must give a group id for each of the ${geom.size} elements of an item, got ${g.length}`);
    let max = -1;
    for (let e = 0; e < g.length; e++) {
      if (!(g[e]! >= 0)) throw new UsageError(`'groups[${e}]' must be a group id >= 0, got ${g[e]}`);
      max = Math.max(max, g[e]!);
    }
    const used = new Uint8Array(max + 1);
    for (let e = 0; e < g.length; e++) used[g[e]!] = 1;
    const missing = used.indexOf(0);
    if (missing >= 0) throw new UsageError(`'groups' must use every id in [0, ${max}]; id ${missing} has no elements`);
    return { group: Int32Array.from(g), players: max + 1 };
  }
  if (!geom.image) return { group: Int32Array.from({ length: geom.size }, (_, e) => e), players: geom.size };
  const { c, h, w } = geom.image;
  const cell = opts.cell === undefined ? Math.ceil(Math.max(h, w) / 7) : checkRange('cell', opts.cell, { min: 1, max: Math.max(h, w), integer: true });
  const gw = Math.ceil(w / cell);
  const gh = Math.ceil(h / cell);
  const group = new Int32Array(geom.size);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) group[ch * h * w + y * w + xx] = Math.floor(y / cell) * gw + Math.floor(xx / cell);
  return { group, players: gw * gh };
}

/** Coalitions (rows of 0/1, M each) and their regression weights. */
function coalitions(M: number, budget: number, rng: Rng): { z: Uint8Array[]; w: Float64Array } {
  const z: Uint8Array[] = [];
  if (M <= 30 && 2 ** M - 2 <= budget) {
    const w: number[] = [];
    const lnC = (k: number) => lgammaInt(M + 1) - lgammaInt(k + 1) - lgammaInt(M - k + 1);
    for (let mask = 1; mask < 2 ** M - 1; mask++) {
      const row = new Uint8Array(M);
      let s = 0;
      for (let j = 0; j < M; j++) if ((mask >> j) & 1) (row[j] = 1), s++;
      z.push(row);
      w.push(Math.exp(Math.log(M - 1) - lnC(s) - Math.log(s) - Math.log(M - s)));
    }
    return { z, w: Float64Array.from(w) };
  }
  const sizeW = Float64Array.from({ length: M - 1 }, (_, k) => (M - 1) / ((k + 1) * (M - 1 - k)));
  const perm = new Int32Array(M);
  while (z.length < budget) {
    const s = rng.categorical(sizeW) + 1;
    for (let j = 0; j < M; j++) perm[j] = j;
    const row = new Uint8Array(M);
    for (let j = 0; j < s; j++) {
      const k = j + rng.int(M - j);
      const t = perm[j]!;
      perm[j] = perm[k]!;
      perm[k] = t;
      row[perm[j]!] = 1;
    }
    z.push(row);
    if (z.length < budget) z.push(row.map((v) => 1 - v));
  }
  return { z, w: new Float64Array(z.length).fill(1) };
}

function lgammaInt(k: number): number {
  let s = 0;
  for (let i = 2; i < k; i++) s += Math.log(i);
  return s;
}

/** Solves A x = b for symmetric positive definite A (n×n, row-major) by Cholesky; A is overwritten. */
function choleskySolve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j]!;
    for (let k = 0; k < j; k++) d -= A[j * n + k]! ** 2;
    if (!(d > 0)) throw new Error('internal: KernelSHAP normal equations are not positive definite');
    const l = Math.sqrt(d);
    A[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= A[i * n + k]! * A[j * n + k]!;
      A[i * n + j] = s / l;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= A[i * n + k]! * y[k]!;
    y[i] = s / A[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= A[k * n + i]! * y[k]!;
    y[i] = s / A[i * n + i]!;
  }
  return y;
}

export async function kernelShap(model: Model, x: Float32Array, n: number, targets: Int32Array, opts: ShapOptions = {}, rng: Rng = new Rng(0)): Promise<Float32Array> {
  const geom = geometry(model, x, n);
  const { size } = geom;
  const { group, players: M } = shapPlayers(geom, opts);
  const fill = opts.baselineValue === undefined ? model.decl.bounds[0] : checkRange('baselineValue', opts.baselineValue, {});
  const budget = opts.coalitions === undefined ? 2 * M + 1024 : checkRange('coalitions', opts.coalitions, { min: 2, max: 1_000_000, integer: true });
  checkTargets(targets, n, (await model.predictBatch(x.subarray(0, size), 1)).numClasses);
  const out = new Float32Array(x.length);
  const groupSize = new Float64Array(M);
  for (let e = 0; e < size; e++) groupSize[group[e]!]!++;
  if (M === 1) {
    const s = await scorePoints(model, size, 2 * n, forwardBatch(opts), (j, dst) => {
      const i = j >> 1;
      if (j % 2) dst.set(x.subarray(i * size, (i + 1) * size));
      else dst.fill(fill);
      return targets[i]!;
    }, opts.onProgress);
    for (let i = 0; i < n; i++) for (let e = 0; e < size; e++) out[i * size + e] = (s[2 * i + 1]! - s[2 * i]!) / size;
    return out;
  }
  const { z, w } = coalitions(M, budget, rng.fork('shap'));
  const K = z.length;
  // Normal equations for φ_0..φ_{M−2} with φ_{M−1} = Δ − Σ φ_j: rows r_k = z_kj − z_k,M−1.
  const P = M - 1;
  const A = new Float64Array(P * P);
  for (let k = 0; k < K; k++) {
    const zk = z[k]!;
    const last = zk[M - 1]!;
    const wk = w[k]!;
    for (let a = 0; a < P; a++) {
      const ra = zk[a]! - last;
      if (ra === 0) continue;
      for (let b = 0; b < P; b++) A[a * P + b]! += wk * ra * (zk[b]! - last);
    }
  }
  let trace = 0;
  for (let a = 0; a < P; a++) trace += A[a * P + a]!;
  for (let a = 0; a < P; a++) A[a * P + a]! += 1e-10 * (trace / P);
  const per = K + 2; // empty coalition, full item, then the sampled coalitions
  const scores = await scorePoints(model, size, n * per, forwardBatch(opts), (j, dst) => {
    const i = Math.floor(j / per);
    const k = j % per;
    const off = i * size;
    if (k === 0) dst.fill(fill);
    else if (k === 1) dst.set(x.subarray(off, off + size));
    else {
      const zk = z[k - 2]!;
      for (let e = 0; e < size; e++) dst[e] = zk[group[e]!] ? x[off + e]! : fill;
    }
    return targets[i]!;
  }, opts.onProgress);
  for (let i = 0; i < n; i++) {
    const f0 = scores[i * per]!;
    const delta = scores[i * per + 1]! - f0;
    const rhs = new Float64Array(P);
    for (let k = 0; k < K; k++) {
      const zk = z[k]!;
      const last = zk[M - 1]!;
      const y = scores[i * per + k + 2]! - f0 - last * delta;
      for (let a = 0; a < P; a++) rhs[a]! += w[k]! * (zk[a]! - last) * y;
    }
    const phi = choleskySolve(Float64Array.from(A), rhs, P);
    let s = 0;
    for (let a = 0; a < P; a++) s += phi[a]!;
    const all = Float64Array.from({ length: M }, (_, j) => (j < P ? phi[j]! : delta - s));
    for (let e = 0; e < size; e++) out[i * size + e] = all[group[e]!]! / groupSize[group[e]!]!;
  }
  return out;
}

export const shapMethod: AttributionMethod = {
  name: 'shap',
  summary: 'KernelSHAP over superpixels / feature groups (model-agnostic)',
  gradients: false,
  seeded: true,
  async explain(model, x, n, targets, opts = {}, rng) {
    return { attributions: await kernelShap(model, x, n, targets, opts, rng), completeness: null };
  },
};
