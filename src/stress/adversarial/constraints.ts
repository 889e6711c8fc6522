/**
 * Domain constraints for tabular data: per-feature bounds and a mask of immutable features.
 * Integer-valued (count or categorical) features are frozen unless declared continuous, since a
 * gradient step would give them values the data never takes.
 *
 * Example:
 *   const c = tabularConstraints(ds, { immutable: ['age'], continuous: ['income'] });
 *   await runAttack(model, ds.x, ds.size, ds.labels!, spec, rng, { constraints: c });
 */
import type { Dataset } from '../../data/dataset.js';
import { featureIndices } from '../../data/features.js';
import { UsageError } from '../../errors.js';
import type { Constraints } from './types.js';

export interface TabularConstraintOptions {
  /** Features never perturbed (by name, or column index; an unknown one is a ConfigError listing the features). */
  immutable?: readonly (string | number)[];
  /** Integer-valued features that may nevertheless move continuously. */
  continuous?: readonly (string | number)[];
  /** Per-feature bounds; default: each feature's observed [min, max] in the data. */
  lower?: ArrayLike<number>;
  upper?: ArrayLike<number>;
  /** Use the observed per-feature range as bounds when none are given (default true). */
  boundsFromData?: boolean;
}

/** Builds constraints for flat items (`itemShape` [d]). */
export function tabularConstraints(ds: Pick<Dataset, 'x' | 'size' | 'itemShape' | 'featureNames'> & { name?: string }, opts: TabularConstraintOptions = {}): Constraints {
  if (ds.itemShape.length !== 1) throw new UsageError(`tabular constraints need flat items [d]; got item shape [${ds.itemShape.join(', ')}]`);
  const d = ds.itemShape[0]!;
  const named = { name: 'the data', ...ds };
  const mask = new Uint8Array(d).fill(1);
  const lower = new Float32Array(d).fill(Infinity);
  const upper = new Float32Array(d).fill(-Infinity);
  const integer = new Uint8Array(d).fill(1);
  for (let i = 0; i < ds.size; i++) {
    for (let j = 0; j < d; j++) {
      const v = ds.x[i * d + j]!;
      if (v < lower[j]!) lower[j] = v;
      if (v > upper[j]!) upper[j] = v;
      if (!Number.isInteger(v)) integer[j] = 0;
    }
  }
  const continuous = new Set(featureIndices(named, opts.continuous ?? [], 'continuous'));
  for (let j = 0; j < d; j++) if (integer[j] && !continuous.has(j)) mask[j] = 0;
  for (const j of featureIndices(named, opts.immutable ?? [], 'immutable')) mask[j] = 0;
  const out: Constraints = { mask };
  if (opts.lower || opts.upper || opts.boundsFromData !== false) {
    const lo = opts.lower ? Float32Array.from(opts.lower) : opts.boundsFromData !== false ? lower : new Float32Array(d).fill(-Infinity);
    const hi = opts.upper ? Float32Array.from(opts.upper) : opts.boundsFromData !== false ? upper : new Float32Array(d).fill(Infinity);
    if (lo.length !== d || hi.length !== d) throw new UsageError(`'lower'/'upper' must have ${d} values (one per feature)`);
    out.lower = lo;
    out.upper = hi;
  }
  return out;
}
