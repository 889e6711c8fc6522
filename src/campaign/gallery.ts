/**
 * A cell's gallery: a few items as small base64 PNGs — the item as the model saw it (clean, drifted
 * or adversarial), and the perturbation (stressed − clean) magnified so that its largest component
 * spans half the intensity range around mid-grey (lighter = increased, darker = decreased; no
 * colour needed to read it) — with their labels and predictions. The runner stores it as
 * `CellResult.gallery` (types in ./types.ts); the report renders it. Images are in the data domain:
 * float32, NCHW without N ([C, H, W], C = 1 or 3, or [H, W]), values in `bounds` (default [0, 1]).
 * Tabular items have no picture: the functions return null for them.
 *
 * Size per cell: 6 items × three PNGs (~0.3–1 KB each for 28×28 greyscale; noisy images compress
 * less) — a few KB to ~20 KB.
 *
 * Example:
 *   const png = itemPng(ds.x, 0, ds.itemShape);                      // base64, 28×28 greyscale
 *   const g = galleryImage(advX, ds.x, 5, ds.itemShape);              // item 5: clean/stressed/perturbation
 *   const items = galleryItems({ probs, numClasses: K, labels, inputs: advX, clean: ds.x, itemShape: ds.itemShape });
 */
import { PNG } from 'pngjs';
import { DataError } from '../errors.js';
import { argmaxAt } from '../metrics/classification.js';
import type { GalleryImage, GalleryItem } from './types.js';

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

export interface GalleryInput {
  /** The cell's predicted probabilities, [n, K] row-major. */
  probs: ArrayLike<number>;
  numClasses: number;
  /** True labels of the cell's n items. */
  labels: ArrayLike<number>;
  /** Observed (noisy) labels, when the cell has annotation noise. */
  observed?: ArrayLike<number> | null;
  /** The cell's inputs as the model saw them (drifted and/or adversarial), [n, ...itemShape] (or only the items `inputsAt`). */
  inputs: ArrayLike<number>;
  /** The clean inputs of the same items (for the perturbation picture); default: `inputs`. */
  clean?: ArrayLike<number> | null;
  /**
   * When given, `inputs` and `clean` hold only these items, in this order (a streamed cell keeps
   * just the gallery's items): they must include every position the gallery shows.
   */
  inputsAt?: readonly number[] | null;
  itemShape: readonly number[];
  /** Data-domain bounds of input values (default [0, 1]). */
  bounds?: readonly [number, number];
  /** Clean-input probabilities of the same items, [n, K] (for "clean prediction"). */
  cleanProbs?: ArrayLike<number> | null;
  ids?: readonly string[] | null;
  /** Items to show (default 6): the first item of each class, see galleryPositions. */
  count?: number;
}

function argmax(p: ArrayLike<number>, i: number, K: number): [number, number] {
  const best = argmaxAt(p, i * K, K);
  return [best, p[i * K + best]!];
}

/** A cell's gallery: a few items with clean/stressed/perturbation PNGs, labels and predictions; null for non-image items. */
export function galleryItems(a: GalleryInput): GalleryItem[] | null {
  const K = a.numClasses;
  const n = a.labels.length;
  const per = a.itemShape.reduce((x, y) => x * y, 1);
  if (a.probs.length !== n * K) throw new DataError(`galleryItems: ${a.probs.length} probabilities for ${n} items of ${K} classes (expected ${n * K})`);
  if (a.observed && a.observed.length !== n) throw new DataError(`galleryItems: ${a.observed.length} observed labels for ${n} items`);
  if (a.cleanProbs && a.cleanProbs.length !== n * K) throw new DataError(`galleryItems: ${a.cleanProbs.length} clean probabilities for ${n} items of ${K} classes`);
  const held = a.inputsAt ? a.inputsAt.length : n;
  if (a.inputs.length !== held * per) throw new DataError(`galleryItems: ${a.inputs.length} input values for ${held} items of shape [${a.itemShape.join(', ')}]`);
  if (a.clean && a.clean.length !== a.inputs.length) throw new DataError(`galleryItems: clean inputs (${a.clean.length} values) and cell inputs (${a.inputs.length}) differ in size`);
  const items: GalleryItem[] = [];
  for (const i of galleryPositions(a.labels, a.count ?? 6)) {
    const at = a.inputsAt ? a.inputsAt.indexOf(i) : i;
    if (at < 0) throw new DataError(`galleryItems: item ${i} is not among the items held (inputsAt)`);
    const img = galleryImage(a.inputs, a.clean ?? a.inputs, at, a.itemShape, a.bounds ?? [0, 1]);
    if (!img) return null;
    const [predicted, confidence] = argmax(a.probs, i, K);
    const cleanTop = a.cleanProbs ? argmax(a.cleanProbs, i, K) : null;
    items.push({
      index: i,
      id: a.ids?.[i] ?? null,
      true_label: a.labels[i]!,
      observed_label: a.observed ? a.observed[i]! : null,
      predicted,
      confidence,
      clean_predicted: cleanTop ? cleanTop[0] : null,
      clean_confidence: cleanTop ? cleanTop[1] : null,
      ...img,
    });
  }
  return items;
}
