/**
 * Raw labels (integers or class-name strings, as CSV cells or JSONL values) → label indices and
 * class names, with one set of rules for every text format.
 */
import { DataError } from '../errors.js';
import { sortedUnique } from './util.js';

const INTEGER = /^[+-]?\d+$/;

/**
 * Turns raw labels into label indices and class names.
 *
 * - Without `classNames`: if every label is an integer, labels are those integers and class names
 *   are unknown (null); otherwise every label is a class name, the class names are the distinct
 *   labels sorted by code point, and each label is its name's index.
 * - With `classNames`: a label equal to a name gets that name's index; an integer label is an
 *   index into `classNames`; anything else is a DataError.
 *
 * What counts as an integer: with `typed` (JSONL) only JSON numbers, so `"3"` is a class name;
 * without it (CSV, where every cell is text) integer literals such as `3` or `-1` too.
 * Negative, fractional and out-of-range integers are DataErrors; `where(i)` names label i's source
 * (file, line, column) in every message.
 */
export function resolveLabels(
  raw: readonly (string | number)[],
  classNames: readonly string[] | null,
  where: (i: number) => string,
  typed = false,
): { labels: Int32Array; classNames: readonly string[] | null } {
  const labels = new Int32Array(raw.length);
  const isIndex = (v: string | number): boolean => typeof v === 'number' || (!typed && INTEGER.test(v));
  const asIndex = (v: string | number, i: number): number => {
    const k = Number(v);
    if (!Number.isInteger(k)) throw new DataError(`${where(i)}: label ${v} is not an integer`);
    if (k < 0) throw new DataError(`${where(i)}: label ${v} is negative`);
    if (k > 2147483647) throw new DataError(`${where(i)}: label ${v} does not fit int32`);
    if (classNames && k >= classNames.length) throw new DataError(`${where(i)}: label ${v} is out of range for ${classNames.length} class names`);
    return k;
  };
  if (classNames) {
    const index = new Map(classNames.map((c, k) => [c, k]));
    raw.forEach((v, i) => {
      const k = typeof v === 'string' ? index.get(v) : undefined;
      if (k !== undefined) labels[i] = k;
      else if (isIndex(v)) labels[i] = asIndex(v, i);
      else throw new DataError(`${where(i)}: label '${v}' is not one of the ${classNames.length} class names`);
    });
    return { labels, classNames };
  }
  if (raw.every(isIndex)) {
    raw.forEach((v, i) => (labels[i] = asIndex(v, i)));
    return { labels, classNames: null };
  }
  if (typed) {
    const i = raw.findIndex((v) => typeof v === 'number');
    if (i >= 0) throw new DataError(`${where(i)}: label ${raw[i]} is a number but other labels are class names; give classNames to relate them`);
  }
  const names = sortedUnique(raw.map(String));
  const index = new Map(names.map((c, k) => [c, k]));
  raw.forEach((v, i) => (labels[i] = index.get(String(v))!));
  return { labels, classNames: names };
}
