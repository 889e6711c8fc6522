/**
 * Square Attack (Andriushchenko, Croce, Flammarion & Hein 2020, "Square Attack: a query-efficient
 * black-box adversarial attack via random search", ECCV). Score-based: needs only the model's
 * outputs, so it runs on models the gradient engine cannot differentiate.
 *
 * Random search on the margin z_y − max_{j≠y} z_j (targeted: max_{j≠t} z_j − z_t): each query
 * changes one random square window per point and keeps the change if the margin drops. L∞: start
 * from vertical stripes of ±ε, then set a window to ±ε per channel. L2: start from a grid of
 * pseudo-Gaussian ("meta") blocks scaled to ‖δ‖₂ = ε, then move the mass of a second window into
 * the first one as a new pseudo-Gaussian block. The window covers a fraction p of the pixels,
 * p = p_init halved at 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000 (budget rescaled).
 * Windows are drawn per point (as in the paper's code). Flat (tabular) items are treated as one
 * row of pixels (an approximation: the paper is for images).
 *
 * Norms: linf, l2. Defaults: 5,000 queries per point, p_init 0.8, 1 restart, untargeted.
 *
 * Example:
 *   const r = await runAttack(model, x, n, labels, { attack: 'square', norm: 'linf', eps: 0.1, queries: 1000 }, new Rng(0));
 *   r.samples.queries; // model evaluations per point
 */
import type { Rng } from '../../../rng.js';
import { passCount, passes, runPasses, type AttackDef } from '../attack.js';
import { clampBox } from '../norms.js';
import type { AttackRun, BatchOutcome, PackedBatch } from '../runner.js';
import { argmaxRow, asLogits, margin } from '../scores.js';

export interface SquareOptions {
  queries: number;
  pInit: number;
  lossTargets: Int32Array | null;
}

/** Fraction of pixels changed at query `it` of `budget` (the paper's schedule on a 10,000 scale). */
export function pSelection(pInit: number, it: number, budget: number): number {
  const i = Math.floor((it / budget) * 10000);
  const steps = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let p = pInit;
  for (const s of steps) if (i > s) p /= 2;
  return p;
}

/** One Square Attack run on a batch (unpadded). */
export async function squareBatch(run: AttackRun, b: PackedBatch, o: SquareOptions): Promise<BatchOutcome> {
  const { n, per, eps } = b;
  const [C, H, W] = run.geometry;
  const linf = b.norm === 'linf';
  run.lossesUsed.add('margin');
  const xBest = new Float32Array(n * per);
  if (linf) {
    for (let r = 0; r < n; r++) {
      const rng = b.rngs[r]!;
      for (let c = 0; c < C; c++) {
        for (let w = 0; w < W; w++) {
          const s = rng.uniform() < 0.5 ? -eps : eps;
          for (let h = 0; h < H; h++) {
            const j = r * per + c * H * W + h * W + w;
            xBest[j] = b.x[j]! + s;
          }
        }
      }
    }
    clampBox(xBest, b.lo, b.hi);
  } else {
    for (let r = 0; r < n; r++) l2Init(b, r, C, H, W, xBest);
  }

  const adv = new Float32Array(n * per);
  const success = new Uint8Array(n);
  const marginBest = new Float64Array(n);
  const used = new Int32Array(n);
  const iterations = new Int32Array(n);
  const label = (r: number) => b.labels[r]!;
  const target = (r: number) => (o.lossTargets ? o.lossTargets[r]! : null);

  const evaluate = async (rows: number[], xs: Float32Array, accept: (q: number, r: number, m: number, adversarial: boolean) => void) => {
    const res = await run.forward(xs, rows.length);
    const z = asLogits(res.scores, run.probabilities);
    for (let q = 0; q < rows.length; q++) {
      const r = rows[q]!;
      used[r] = used[r]! + 1;
      accept(q, r, margin(z, q, res.numClasses, label(r), target(r)), run.isAdversarial(b.idx[r]!, argmaxRow(res.scores, q, res.numClasses)));
    }
  };

  await evaluate(
    Array.from({ length: n }, (_, r) => r),
    xBest,
    (_q, r, m, a) => {
      marginBest[r] = m;
      if (a) {
        success[r] = 1;
        adv.set(xBest.subarray(r * per, (r + 1) * per), r * per);
      }
    },
  );

  const xNew = new Float32Array(n * per);
  const delta = new Float64Array(per);
  for (let it = 1; it < o.queries; it++) {
    run.iterationDone(it, o.queries);
    const rows: number[] = [];
    for (let r = 0; r < n; r++) if (!success[r]) rows.push(r);
    if (rows.length === 0) break;
    const p = pSelection(o.pInit, it, o.queries);
    for (let q = 0; q < rows.length; q++) {
      const r = rows[q]!;
      const dst = xNew.subarray(q * per, (q + 1) * per);
      if (linf) linfProposal(b, r, C, H, W, p, xBest, dst);
      else l2Proposal(b, r, C, H, W, p, xBest, dst, delta);
    }
    const xs = xNew.subarray(0, rows.length * per);
    await evaluate(rows, xs, (q, r, m, a) => {
      const row = xs.subarray(q * per, (q + 1) * per);
      if (m < marginBest[r]!) {
        marginBest[r] = m;
        xBest.set(row, r * per);
      }
      if (a) {
        success[r] = 1;
        iterations[r] = it;
        adv.set(row, r * per);
      }
    });
  }
  const loss = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    if (!success[r]) {
      adv.set(xBest.subarray(r * per, (r + 1) * per), r * per);
      iterations[r] = used[r]!;
    }
    loss[r] = -marginBest[r]!;
  }
  return { adv, success, loss, iterations, queries: used };
}

/** L∞ proposal: x_best with one s×s window (per channel) set to x ± ε. */
function linfProposal(b: PackedBatch, r: number, C: number, H: number, W: number, p: number, xBest: Float32Array, dst: Float32Array): void {
  const { per, eps } = b;
  const rng = b.rngs[r]!;
  const off = r * per;
  dst.set(xBest.subarray(off, off + per));
  const [sH, sW] = windowSize(p, per, C, H, W, 1);
  const h0 = rng.int(H - sH + 1);
  const w0 = rng.int(W - sW + 1);
  for (let c = 0; c < C; c++) {
    // Resample the sign while it would not change the window (as the paper's code does), at most 10 times.
    let s = 0;
    for (let tries = 0; tries < 10; tries++) {
      s = rng.uniform() < 0.5 ? -eps : eps;
      if (windowChanges(b, off, c, H, W, h0, w0, sH, sW, s, xBest)) break;
    }
    for (let h = h0; h < h0 + sH; h++) {
      for (let w = w0; w < w0 + sW; w++) {
        const k = c * H * W + h * W + w;
        const j = off + k;
        const v = b.x[j]! + s;
        dst[k] = v < b.lo[j]! ? b.lo[j]! : v > b.hi[j]! ? b.hi[j]! : v;
      }
    }
  }
}

function windowChanges(b: PackedBatch, off: number, c: number, H: number, W: number, h0: number, w0: number, sH: number, sW: number, s: number, xBest: Float32Array): boolean {
  for (let h = h0; h < h0 + sH; h++) {
    for (let w = w0; w < w0 + sW; w++) {
      const j = off + c * H * W + h * W + w;
      const v = Math.fround(Math.min(Math.max(b.x[j]! + s, b.lo[j]!), b.hi[j]!));
      if (Math.abs(v - xBest[j]!) > 1e-7) return true;
    }
  }
  return false;
}

/** Window height and width for a fraction p of the pixels (at least `min`, odd if min > 1). */
function windowSize(p: number, per: number, C: number, H: number, W: number, min: number): [number, number] {
  if (H === 1) {
    let s = Math.max(Math.round(p * W), min);
    if (min > 1 && s % 2 === 0) s++;
    return [1, Math.min(s, W)];
  }
  let s = Math.max(Math.round(Math.sqrt((p * per) / C)), min);
  if (min > 1 && s % 2 === 0) s++;
  s = Math.min(s, H, W);
  return [s, s];
}

/** L2 start: a 5×5 grid of ± pseudo-Gaussian blocks per channel, scaled to ‖δ‖₂ = ε. */
function l2Init(b: PackedBatch, r: number, C: number, H: number, W: number, out: Float32Array): void {
  const { per, eps } = b;
  const rng = b.rngs[r]!;
  const off = r * per;
  const d = new Float64Array(per);
  const sH = Math.floor(H / 5);
  const sW = Math.floor(W / 5);
  if (sH >= 1 && sW >= 1 && H >= 5) {
    const h0 = Math.floor((H - 5 * sH) / 2);
    const w0 = Math.floor((W - 5 * sW) / 2);
    for (let th = 0; th < 5; th++) {
      for (let tw = 0; tw < 5; tw++) {
        const g = metaPseudoGaussian(sH, sW, rng);
        for (let c = 0; c < C; c++) {
          const sign = rng.uniform() < 0.5 ? -1 : 1;
          for (let h = 0; h < sH; h++) {
            for (let w = 0; w < sW; w++) d[c * H * W + (h0 + th * sH + h) * W + (w0 + tw * sW + w)] += sign * g[h * sW + w]!;
          }
        }
      }
    }
  } else {
    for (let k = 0; k < per; k++) d[k] = rng.normal();
  }
  let ss = 0;
  for (let k = 0; k < per; k++) ss += d[k]! * d[k]!;
  const f = ss > 0 ? eps / Math.sqrt(ss) : 0;
  for (let k = 0; k < per; k++) out[off + k] = b.x[off + k]! + d[k]! * f;
  clampRow(b, off, out.subarray(off, off + per));
}

/** L2 proposal: move the mass of window 2 into window 1 as a fresh pseudo-Gaussian block. */
function l2Proposal(b: PackedBatch, r: number, C: number, H: number, W: number, p: number, xBest: Float32Array, dst: Float32Array, d: Float64Array): void {
  const { per, eps } = b;
  const rng = b.rngs[r]!;
  const off = r * per;
  let image = 0;
  for (let k = 0; k < per; k++) {
    d[k] = xBest[off + k]! - b.x[off + k]!;
    image += d[k]! * d[k]!;
  }
  const [sH, sW] = windowSize(p, per, C, H, W, Math.min(3, H === 1 ? W : Math.min(H, W)));
  const h1 = rng.int(H - sH + 1);
  const w1 = rng.int(W - sW + 1);
  const h2 = rng.int(H - sH + 1);
  const w2 = rng.int(W - sW + 1);
  const g = metaPseudoGaussian(sH, sW, rng);
  const in1 = (h: number, w: number) => h >= h1 && h < h1 + sH && w >= w1 && w < w1 + sW;
  const block = new Float64Array(sH * sW);
  for (let c = 0; c < C; c++) {
    const base = c * H * W;
    let n1 = 0;
    for (let h = h1; h < h1 + sH; h++) for (let w = w1; w < w1 + sW; w++) n1 += d[base + h * W + w]! ** 2;
    let n12 = n1;
    for (let h = h2; h < h2 + sH; h++) for (let w = w2; w < w2 + sW; w++) if (!in1(h, w)) n12 += d[base + h * W + w]! ** 2;
    const sign = rng.uniform() < 0.5 ? -1 : 1;
    const inv1 = 1 / (1e-10 + Math.sqrt(n1));
    let nb = 0;
    for (let h = 0; h < sH; h++) {
      for (let w = 0; w < sW; w++) {
        const v = g[h * sW + w]! * sign + d[base + (h1 + h) * W + (w1 + w)]! * inv1;
        block[h * sW + w] = v;
        nb += v * v;
      }
    }
    const target = Math.sqrt(Math.max(eps * eps - image, 0) / C + n12);
    const f = nb > 0 ? target / Math.sqrt(nb) : 0;
    for (let h = h2; h < h2 + sH; h++) for (let w = w2; w < w2 + sW; w++) d[base + h * W + w] = 0;
    for (let h = 0; h < sH; h++) for (let w = 0; w < sW; w++) d[base + (h1 + h) * W + (w1 + w)] = block[h * sW + w]! * f;
  }
  let ss = 0;
  for (let k = 0; k < per; k++) ss += d[k]! * d[k]!;
  const f = ss > 0 ? eps / Math.sqrt(ss) : 0;
  for (let k = 0; k < per; k++) dst[k] = b.x[off + k]! + d[k]! * f;
  clampRow(b, off, dst);
}

function clampRow(b: PackedBatch, off: number, row: Float32Array): void {
  for (let k = 0; k < row.length; k++) {
    const v = row[k]!;
    const lo = b.lo[off + k]!;
    const hi = b.hi[off + k]!;
    row[k] = v >= lo ? (v > hi ? hi : v) : lo;
  }
}

const rectCache = new Map<string, Float64Array>();

/** Concentric rectangles with weights 1/(k+1)², unit L2 norm (the paper's pseudo-Gaussian). */
function pseudoGaussianRect(a: number, c: number): Float64Array {
  const key = `${a}x${c}`;
  const hit = rectCache.get(key);
  if (hit) return hit;
  const d = new Float64Array(a * c);
  let x0 = Math.floor(a / 2);
  let y0 = Math.floor(c / 2);
  const rounds = Math.max(Math.floor(a / 2) + 1, Math.floor(c / 2) + 1);
  for (let k = 0; k < rounds; k++) {
    for (let i = Math.max(x0, 0); i < Math.min(x0 + 2 * k + 1, a); i++) {
      for (let j = Math.max(y0, 0); j < Math.min(y0 + 2 * k + 1, c); j++) d[i * c + j] += 1 / (k + 1) ** 2;
    }
    x0--;
    y0--;
  }
  normalize(d);
  rectCache.set(key, d);
  return d;
}

/** Two opposite-sign pseudo-Gaussian halves, unit L2 norm, randomly transposed when square. */
function metaPseudoGaussian(sH: number, sW: number, rng: Rng): Float64Array {
  const d = new Float64Array(sH * sW);
  if (sH >= 2) {
    const top = Math.floor(sH / 2);
    const a = pseudoGaussianRect(top, sW);
    const b = pseudoGaussianRect(sH - top, sW);
    d.set(a, 0);
    for (let k = 0; k < b.length; k++) d[top * sW + k] = -b[k]!;
  } else if (sW >= 2) {
    const left = Math.floor(sW / 2);
    const a = pseudoGaussianRect(1, left);
    const b = pseudoGaussianRect(1, sW - left);
    for (let k = 0; k < left; k++) d[k] = a[k]!;
    for (let k = 0; k < sW - left; k++) d[left + k] = -b[k]!;
  } else {
    d[0] = 1;
  }
  normalize(d);
  if (sH === sW && rng.uniform() > 0.5) {
    const t = new Float64Array(d.length);
    for (let i = 0; i < sH; i++) for (let j = 0; j < sW; j++) t[j * sH + i] = d[i * sW + j]!;
    return t;
  }
  return d;
}

function normalize(d: Float64Array): void {
  let ss = 0;
  for (let k = 0; k < d.length; k++) ss += d[k]! * d[k]!;
  const f = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  for (let k = 0; k < d.length; k++) d[k] = d[k]! * f;
}

/** Runs Square over the robust points: restarts × (untargeted | each target). */
export async function runSquare(run: AttackRun, queries: number, pInit: number, targeted: boolean, nTargets: number, restarts: number): Promise<void> {
  await run.member('square', () =>
    runPasses(run, passes(run, 'square', targeted, nTargets, restarts), (p, set) =>
      run.forBatches(p.label, set, (b) => squareBatch(run, b, { queries, pInit, lossTargets: p.targets(run, b) }), { pad: false }),
    ),
  );
}

export const square: AttackDef = {
  name: 'square',
  summary: 'score-based random search over square windows; needs no gradients (Andriushchenko et al. 2020)',
  paper: 'Andriushchenko, Croce, Flammarion & Hein 2020, Square Attack: a query-efficient black-box adversarial attack via random search',
  norms: ['linf', 'l2'],
  access: 'score',
  keys: ['queries', 'pInit', 'restarts', 'targeted', 'nTargets'],
  defaults: { queries: 5000, pInit: 0.8, restarts: 1, targeted: false, nTargets: 9 },
  minClasses: () => 2,
  stages: (s, k) => passCount(s.targeted!, s.nTargets!, s.restarts!, k),
  run: (run, s) => runSquare(run, s.queries!, s.pInit!, s.targeted!, s.nTargets!, s.restarts!),
};
