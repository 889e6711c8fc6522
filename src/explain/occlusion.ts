/**
 * Occlusion (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks"): slide a
 * patch filled with `baselineValue` over the input with `stride`; each element's attribution is the
 * mean drop of the target score, f_t(x) − f_t(x occluded), over the patches that cover it (as
 * Captum's Occlusion does). Images: square patches over all channels, the last row and column of
 * patches placed flush with the edge so every pixel is covered. Flat inputs: windows of `patch`
 * consecutive features (default 1: single-feature ablation). Uses only `predictBatch`, so it works on
 * models the gradient engine cannot differentiate.
 *
 * Example: `await occlusion(model, x, n, targets, { patch: 4, stride: 2 })`.
 */
import type { Model } from '../engine/model.js';
import { checkRange } from '../errors.js';
import { checkTargets, forwardBatch, geometry, scorePoints, type Geometry } from './common.js';
import type { AttributionMethod, OcclusionOptions } from './types.js';

/** Window starts along an axis of length `len`: 0, s, 2s, … and a last one flush with the end. */
function starts(len: number, patch: number, stride: number): number[] {
  const out: number[] = [];
  for (let s = 0; s + patch < len; s += stride) out.push(s);
  out.push(Math.max(0, len - patch));
  return [...new Set(out)];
}

/** The element indices (of one item) each window covers. */
function windows(geom: Geometry, opts: OcclusionOptions): Int32Array[] {
  if (geom.image) {
    const { c, h, w } = geom.image;
    const patch = opts.patch === undefined ? Math.max(1, Math.round(Math.min(h, w) / 7)) : checkRange('patch', opts.patch, { min: 1, max: Math.max(h, w), integer: true });
    const stride = opts.stride === undefined ? Math.ceil(patch / 2) : checkRange('stride', opts.stride, { min: 1, max: Math.max(h, w), integer: true });
    const ph = Math.min(patch, h);
    const pw = Math.min(patch, w);
    const out: Int32Array[] = [];
    for (const y0 of starts(h, ph, stride)) {
      for (const x0 of starts(w, pw, stride)) {
        const idx = new Int32Array(c * ph * pw);
        let k = 0;
        for (let ch = 0; ch < c; ch++) for (let y = y0; y < y0 + ph; y++) for (let xx = x0; xx < x0 + pw; xx++) idx[k++] = ch * h * w + y * w + xx;
        out.push(idx);
      }
    }
    return out;
  }
  const d = geom.size;
  const patch = opts.patch === undefined ? 1 : checkRange('patch', opts.patch, { min: 1, max: d, integer: true });
  const stride = opts.stride === undefined ? 1 : checkRange('stride', opts.stride, { min: 1, max: d, integer: true });
  return starts(d, patch, stride).map((s) => Int32Array.from({ length: patch }, (_, k) => s + k));
}

export async function occlusion(model: Model, x: Float32Array, n: number, targets: Int32Array, opts: OcclusionOptions = {}): Promise<Float32Array> {
  const geom = geometry(model, x, n);
  const { size } = geom;
  const wins = windows(geom, opts);
  const fill = opts.baselineValue === undefined ? model.decl.bounds[0] : checkRange('baselineValue', opts.baselineValue, {});
  const per = wins.length + 1; // the unoccluded item, then one point per window
  const first = await model.predictBatch(x.subarray(0, size), 1);
  checkTargets(targets, n, first.numClasses);
  const scores = await scorePoints(model, size, n * per, forwardBatch(opts), (j, dst) => {
    const i = Math.floor(j / per);
    const k = j % per;
    dst.set(x.subarray(i * size, (i + 1) * size));
    if (k > 0) for (const e of wins[k - 1]!) dst[e] = fill;
    return targets[i]!;
  }, opts.onProgress);
  const out = new Float32Array(x.length);
  const sum = new Float64Array(size);
  const count = new Uint32Array(size);
  for (const win of wins) for (const e of win) count[e]!++;
  for (let i = 0; i < n; i++) {
    sum.fill(0);
    const f = scores[i * per]!;
    wins.forEach((win, k) => {
      const drop = f - scores[i * per + k + 1]!;
      for (const e of win) sum[e]! += drop;
    });
    for (let e = 0; e < size; e++) out[i * size + e] = count[e] ? sum[e]! / count[e]! : 0;
  }
  return out;
}

export const occlusionMethod: AttributionMethod = {
  name: 'occlusion',
  summary: 'score drop under a sliding patch (model-agnostic)',
  gradients: false,
  seeded: false,
  async explain(model, x, n, targets, opts = {}) {
    return { attributions: await occlusion(model, x, n, targets, opts), completeness: null };
  },
};
