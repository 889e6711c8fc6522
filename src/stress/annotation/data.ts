/**
 * Reading the arrays annotation noise adds to a dataset file: `y_true` (true labels, [N]) and
 * `annotations` (N×A labels, −1 unlabelled), kept by the loaders in `Dataset.extras`.
 */
import { DataError } from '../../errors.js';
import type { Dataset } from '../../data/dataset.js';

/** An integer extra of `ds` with `ndim` dimensions and N rows, as Int32Array; null when absent. */
export function intExtra(ds: Dataset, key: string, ndim: 1 | 2): { data: Int32Array; shape: number[] } | null {
  const e = ds.extras[key];
  if (!e) return null;
  if (!/^[<>|=]?[iub]/.test(e.dtype) || Array.isArray(e.data)) throw new DataError(`${ds.name}: '${key}' has dtype ${e.dtype}; expected integers`);
  if (e.shape.length !== ndim || e.shape[0] !== ds.size) {
    throw new DataError(`${ds.name}: '${key}' has shape [${e.shape.join(', ')}]; expected ${ndim === 1 ? `[${ds.size}]` : `[${ds.size}, annotators]`}`);
  }
  const src = e.data as ArrayLike<number | bigint>;
  const data = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]!);
    if (!Number.isSafeInteger(v) || v < -2147483648 || v > 2147483647) throw new DataError(`${ds.name}: '${key}' value ${src[i]} at index ${i} is not an int32`);
    data[i] = v;
  }
  return { data, shape: [...e.shape] };
}

/** The true labels `y_true` of a noisy dataset, or null; checked to lie in [0, K) when K is given. */
export function trueLabelsOf(ds: Dataset, numClasses?: number): Int32Array | null {
  const t = intExtra(ds, 'y_true', 1);
  if (!t) return null;
  for (let i = 0; i < t.data.length; i++) {
    const y = t.data[i]!;
    if (y < 0 || (numClasses !== undefined && y >= numClasses)) {
      throw new DataError(`${ds.name}: y_true of item ${i} is ${y}, outside [0, ${(numClasses ?? Infinity) - 1}]`);
    }
  }
  return t.data;
}
