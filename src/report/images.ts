/**
 * Small base64 PNGs for the report's gallery: an item as the model saw it (clean, drifted or
 * adversarial), and the perturbation (stressed − clean) magnified so that its largest component
 * spans half the intensity range around mid-grey (lighter = increased, darker = decreased; no
 * colour needed to read it). Images are in the data domain: float32, NCHW without N ([C, H, W],
 * C = 1 or 3, or [H, W]), values in `bounds` (default [0, 1]). Tabular items have no picture:
 * the functions return null for them.
 *
 * Example:
 *   const png = itemPng(ds.x, 0, ds.itemShape);                       // base64, 28×28 greyscale
 *   const g = galleryImages(advX, ds.x, ds.itemShape, [0, 5, 9]);      // clean/stressed/perturbation
 */
import { PNG } from 'pngjs';
import { DataError } from '../errors.js';

export interface ImageGeometry {
  channels: 1 | 3;
  height: number;
  width: number;
}

/** The picture geometry of an item shape, or null when items are not images. */
export function imageGeometry(itemShape: readonly number[]): ImageGeometry | null {
  if (itemShape.length === 3 && (itemShape[0] === 1 || itemShape[0] === 3) && itemShape[1]! >= 2 && itemShape[2]! >= 2) {
    return { channels: itemShape[0] as 1 | 3, height: itemShape[1]!, width: itemShape[2]! };
  }
  if (itemShape.length === 2 && itemShape[0]! >= 2 && itemShape[1]! >= 2) return { channels: 1, height: itemShape[0]!, width: itemShape[1]! };
  return null;
}

/** Encodes values in [0, 1] (planar, C×H×W) as a PNG; returns base64 (no data: prefix). */
function encode(values: ArrayLike<number>, g: ImageGeometry): string {
  const { channels: C, height: H, width: W } = g;
  const png = new PNG({ width: W, height: H });
  const plane = H * W;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = values[(C === 1 ? 0 : c) * plane + p]!;
      png.data[4 * p + c] = Math.round(255 * Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)));
    }
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: C === 1 ? 0 : 2 }).toString('base64');
}

function checkItem(x: ArrayLike<number>, item: number, itemShape: readonly number[], who: string): number {
  const per = itemShape.reduce((a, b) => a * b, 1);
  if (!(Number.isInteger(item) && item >= 0 && (item + 1) * per <= x.length)) {
    throw new DataError(`${who}: item ${item} is out of range for ${Math.floor(x.length / per)} items of shape [${itemShape.join(', ')}]`);
  }
  return per;
}

/** Item `item` of a batch `x` as a base64 PNG, or null for non-image items. */
export function itemPng(x: ArrayLike<number>, item: number, itemShape: readonly number[], bounds: readonly [number, number] = [0, 1]): string | null {
  const g = imageGeometry(itemShape);
  if (!g) return null;
  const per = checkItem(x, item, itemShape, 'itemPng');
  const [lo, hi] = bounds;
  const span = hi - lo || 1;
  const v = new Float64Array(per);
  for (let i = 0; i < per; i++) v[i] = (x[item * per + i]! - lo) / span;
  return encode(v, g);
}

export interface GalleryImage {
  /** Base64 PNG of the clean item. */
  clean: string;
  /** Base64 PNG of the item as this cell's model saw it; null when it equals the clean item. */
  stressed: string | null;
  /** Base64 PNG of (stressed − clean) × magnify + ½ (mid-grey = unchanged); null when unchanged. */
  perturbation: string | null;
  /** The magnification used for `perturbation` (null when unchanged). */
  magnify: number | null;
  /** Largest absolute change of any input value (L∞ of the perturbation, in data units). */
  linf: number;
}

/**
 * Clean, stressed and magnified-perturbation PNGs of one item, or null for non-image items.
 * `stressed` and `clean` are batches of the same items (same shape); `item` indexes both.
 */
export function galleryImage(stressed: ArrayLike<number>, clean: ArrayLike<number>, item: number, itemShape: readonly number[], bounds: readonly [number, number] = [0, 1]): GalleryImage | null {
  const g = imageGeometry(itemShape);
  if (!g) return null;
  const per = checkItem(stressed, item, itemShape, 'galleryImage');
  checkItem(clean, item, itemShape, 'galleryImage (clean)');
  let linf = 0;
  for (let i = 0; i < per; i++) linf = Math.max(linf, Math.abs(stressed[item * per + i]! - clean[item * per + i]!));
  const cleanPng = itemPng(clean, item, itemShape, bounds)!;
  if (!(linf > 1e-7)) return { clean: cleanPng, stressed: null, perturbation: null, magnify: null, linf: 0 };
  const span = bounds[1] - bounds[0] || 1;
  // Largest change → ±½ of the range; never shrink (magnify ≥ 1), cap at 1000×.
  const magnify = Math.min(1000, Math.max(1, (0.5 * span) / linf));
  const d = new Float64Array(per);
  for (let i = 0; i < per; i++) d[i] = 0.5 + ((stressed[item * per + i]! - clean[item * per + i]!) * magnify) / span;
  return { clean: cleanPng, stressed: itemPng(stressed, item, itemShape, bounds), perturbation: encode(d, g), magnify, linf };
}

/**
 * Which items a gallery shows: the first item of each class in class order (so every cell of a run
 * shows the same items and the pictures line up across cells), then the next items, up to `count`.
 */
export function galleryPositions(labels: ArrayLike<number>, count = 6): number[] {
  const first = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) if (!first.has(labels[i]!)) first.set(labels[i]!, i);
  const out = [...first.entries()].sort((a, b) => a[0] - b[0]).map(([, i]) => i).slice(0, count);
  for (let i = 0; out.length < Math.min(count, labels.length) && i < labels.length; i++) if (!out.includes(i)) out.push(i);
  return out.sort((a, b) => a - b);
}

/** True when `s` is plain base64 (safe to put in a data: URL attribute). */
export function isBase64(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length < 4_000_000 && /^[A-Za-z0-9+/]+={0,2}$/.test(s);
}
