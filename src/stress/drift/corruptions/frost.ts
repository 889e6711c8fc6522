/**
 * frost: clip(a·x + b·frost), a frost texture blended over the image (Hendrycks & Dietterich 2019).
 *
 * The generators crop one of six photographs of frosted glass (resized by 0.2 for CIFAR). Gauntlet
 * ships no photographs: it grows a texture procedurally from the generator it is given — a
 * plasma-fractal haze (up to 0.45) plus about 0.9·side straight ice needles (8–30 % of the side
 * long, brightness 0.55–1, up to two side branches at ±60°), softened by a Gaussian of 0.5 px
 * (small images) or 1 px and tinted pale blue (R, G, B) = (0.85, 0.93, 1) (its luma on grayscale
 * images). The blend weights are the published ones; the texture (mean ≈ 0.35, bright thin
 * crystals over a dim haze) only approximates the photographs, so errors are comparable in kind,
 * not identical in value, to those on the published data.
 */
import type { Rng } from '../../../rng.js';
import { defineCorruption, forEachImage, isSmall, pick, type SeverityTable } from '../base.js';
import { gaussianFilter, luma, nextPow2, plasmaFractal } from '../ops.js';

/** [image weight a, frost weight b] (CIFAR-10-C / ImageNet-C tables). */
export const FROST: SeverityTable<readonly [number, number]> = {
  cifar: [
    [1, 0.2],
    [1, 0.3],
    [0.9, 0.4],
    [0.85, 0.4],
    [0.75, 0.45],
  ],
  imagenet: [
    [1, 0.4],
    [0.8, 0.6],
    [0.7, 0.7],
    [0.65, 0.7],
    [0.6, 0.75],
  ],
};

/** Tint of the ice, RGB. */
export const FROST_TINT = [0.85, 0.93, 1] as const;

/** A frost intensity map in [0, 1], H × W, drawn from `rng`. */
export function frostTexture(H: number, W: number, rng: Rng): Float64Array {
  const m = nextPow2(Math.max(H, W));
  const haze = plasmaFractal(m, 1.6, rng);
  const t = new Float64Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) t[y * W + x] = 0.45 * haze[y * m + x]!;
  const side = Math.max(H, W);
  const needles = Math.max(4, Math.round((0.9 * H * W) / side));
  const draw = (x0: number, y0: number, angle: number, length: number, bright: number): void => {
    const dx = Math.cos(angle);
    const dy = Math.sin(angle);
    for (let s = 0; s <= length; s += 0.5) {
      const xi = Math.round(x0 + s * dx);
      const yi = Math.round(y0 + s * dy);
      if (xi < 0 || yi < 0 || xi >= W || yi >= H) break;
      const v = bright * (1 - (0.5 * s) / (length + 1));
      if (v > t[yi * W + xi]!) t[yi * W + xi] = v;
    }
  };
  for (let k = 0; k < needles; k++) {
    const x0 = rng.range(0, W);
    const y0 = rng.range(0, H);
    const angle = rng.range(0, 2 * Math.PI);
    const length = rng.range(0.08, 0.3) * side;
    const bright = rng.range(0.55, 1);
    draw(x0, y0, angle, length, bright);
    const branches = rng.int(3);
    for (let b = 0; b < branches; b++) {
      const at = rng.range(0.2, 0.8) * length;
      const turn = rng.uniform() < 0.5 ? Math.PI / 3 : -Math.PI / 3;
      draw(x0 + at * Math.cos(angle), y0 + at * Math.sin(angle), angle + turn, length * rng.range(0.2, 0.5), bright * 0.8);
    }
  }
  const soft = gaussianFilter(t, H, W, isSmall(H, W) ? 0.5 : 1);
  for (let i = 0; i < soft.length; i++) soft[i] = Math.min(1, soft[i]! * 1.15);
  return soft;
}

export const frost = defineCorruption({
  name: 'frost',
  summary: 'frost: blend a procedural ice texture over the image',
  deterministic: false,
  run(r) {
    const { h: H, w: W, c: C, x, out, rng } = r;
    const [a, b] = pick(FROST, H, W, r.severity);
    const grayTint = luma(FROST_TINT[0], FROST_TINT[1], FROST_TINT[2]);
    forEachImage(r, (off, plane) => {
      const tex = frostTexture(H, W, rng);
      for (let ch = 0; ch < C; ch++) {
        const tint = C === 1 ? grayTint : FROST_TINT[ch]!;
        for (let i = 0; i < plane; i++) {
          const p = off + ch * plane + i;
          out[p] = a * x[p]! + b * tint * tex[i]!;
        }
      }
    });
  },
});
