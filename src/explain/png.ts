/**
 * Attribution maps as PNG: one row per item, the input beside its attribution heatmap (and, when
 * given, the stressed input beside its heatmap), written atomically. Channels are summed into one
 * map. Signed attributions use a diverging map (blue − white − red), non-negative ones a
 * black − red − yellow − white ramp; each row is scaled by the 99th percentile of |A| over its clean
 * and stressed maps together, so the two are comparable. Flat (tabular) items are drawn as strips.
 *
 * Example: `await attributionPng('ig.png', x, a, [n, 1, 28, 28], { stressed: { x: xs, attributions: as } })`.
 */
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../data/util.js';
import { checkRange, UsageError } from '../errors.js';

export interface AttributionPngOptions {
  /** Stressed versions of the same items, drawn as two more columns. */
  stressed?: { x: Float32Array; attributions: Float32Array };
  /** Most items (rows) to draw (default 8). */
  maxRows?: number;
  /** Integer upscaling (default: tiles of about 96 px, at most 8). */
  scale?: number;
  /** Data-domain bounds used to draw the input (default [0, 1]). */
  bounds?: readonly [number, number];
}

/** Renders the PNG bytes. `shape` is the batch shape: [n, C, H, W] or [n, d]. */
export function renderAttributionPng(x: Float32Array, attributions: Float32Array, shape: readonly number[], opts: AttributionPngOptions = {}): Uint8Array {
  const n = shape[0]!;
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  if (!(shape.length >= 2 && Number.isInteger(n) && n >= 1 && per >= 1)) throw new UsageError(`'shape' must be [n, C, H, W] or [n, d], got [${shape.join(', ')}]`);
  const check = (name: string, v: Float32Array) => {
    if (v.length !== n * per) throw new UsageError(`'${name}' must hold ${n * per} values for shape [${shape.join(', ')}], got ${v.length}`);
  };
  check('x', x);
  check('attributions', attributions);
  if (opts.stressed) {
    check('stressed.x', opts.stressed.x);
    check('stressed.attributions', opts.stressed.attributions);
  }
  const [C, H, W] = shape.length === 4 ? [shape[1]!, shape[2]!, shape[3]!] : [1, 1, per];
  const [lo, hi] = opts.bounds ?? [0, 1];
  const rows = Math.min(n, opts.maxRows === undefined ? 8 : checkRange('maxRows', opts.maxRows, { min: 1, integer: true }));
  const sx = opts.scale === undefined ? Math.min(8, Math.max(1, Math.floor(96 / Math.max(H, W)))) : checkRange('scale', opts.scale, { min: 1, max: 64, integer: true });
  const sy = H === 1 ? Math.max(sx, 16) : sx;
  const tw = W * sx;
  const th = H * sy;
  const gap = 2;
  const cols = opts.stressed ? 4 : 2;
  const width = cols * (tw + gap) + gap;
  const height = rows * (th + gap) + gap;
  const png = new PNG({ width, height });
  const px = png.data;
  for (let i = 0; i < width * height; i++) px.set([40, 40, 40, 255], 4 * i);
  const put = (x0: number, y0: number, rgb: (p: number) => [number, number, number]) => {
    for (let y = 0; y < th; y++) {
      for (let xx = 0; xx < tw; xx++) {
        const p = Math.floor(y / sy) * W + Math.floor(xx / sx);
        px.set(rgb(p), 4 * ((y0 + y) * width + x0 + xx));
      }
    }
  };
  const byte = (v: number) => Math.round(255 * Math.min(1, Math.max(0, v)));
  for (let r = 0; r < rows; r++) {
    const y0 = gap + r * (th + gap);
    const maps = [attributions, ...(opts.stressed ? [opts.stressed.attributions] : [])].map((a) => {
      const m = new Float64Array(H * W);
      for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) m[p]! += a[r * per + c * H * W + p]!;
      return m;
    });
    const signed = maps.some((m) => m.some((v) => v < 0));
    const mags = maps.flatMap((m) => Array.from(m, Math.abs)).sort((a, b) => a - b);
    const scale = mags[Math.min(mags.length - 1, Math.floor(0.99 * (mags.length - 1)))]! || mags[mags.length - 1]! || 1;
    const inputs = [x, ...(opts.stressed ? [opts.stressed.x] : [])];
    inputs.forEach((xi, k) => {
      const x0 = gap + 2 * k * (tw + gap);
      const v = (c: number, p: number) => byte((xi[r * per + c * H * W + p]! - lo) / (hi - lo));
      put(x0, y0, (p) => (C === 3 ? [v(0, p), v(1, p), v(2, p)] : [v(0, p), v(0, p), v(0, p)]));
      const m = maps[k]!;
      put(x0 + tw + gap, y0, (p) => {
        const t = Math.max(-1, Math.min(1, m[p]! / scale));
        if (signed) return t >= 0 ? [255, byte(1 - t), byte(1 - t)] : [byte(1 + t), byte(1 + t), 255];
        return [byte(3 * t), byte(3 * t - 1), byte(3 * t - 2)];
      });
    });
  }
  return PNG.sync.write(png);
}

/** Writes the attribution PNG atomically (temporary file, then rename). */
export async function attributionPng(file: string, x: Float32Array, attributions: Float32Array, shape: readonly number[], opts: AttributionPngOptions = {}): Promise<void> {
  await writeFileAtomic(file, renderAttributionPng(x, attributions, shape, opts));
}
