/**
 * prior: label (prior) shift — resample to given class proportions. Target counts are
 * proportions·size rounded by largest remainder, so each class is within one item of its exact
 * share and the counts sum to `size` (default: the dataset's size). A class is drawn without
 * replacement while it has enough items; beyond that every item is taken ⌊t/n⌋ times and the rest
 * drawn without replacement (copies get ids `<id>#2`, …). Needs labels.
 * Example: `{ shift: 'prior', proportions: [0.5, 0.1, 0.1, 0.3] }`.
 */
import { DataError } from '../../../errors.js';
import { requireLabels } from '../../../data/dataset.js';
import { fail, keyPath, opt } from '../../../options/schema.js';
import { defineShift, fmtNum, resampleStream, sampleWithoutReplacement } from './common.js';

export interface PriorShiftSpec {
  readonly shift: 'prior';
  /** One non-negative weight per class, in label order (normalised to sum 1). */
  readonly proportions: readonly number[];
  /** Number of items to draw (default: the dataset's size). */
  readonly size?: number;
}

/** Largest-remainder rounding of proportions·total: integers within 1 of the exact shares, summing to total. */
export function targetCounts(proportions: readonly number[], total: number): number[] {
  const sum = proportions.reduce((a, b) => a + b, 0);
  const exact = proportions.map((p) => (p / sum) * total);
  const counts = exact.map((e) => Math.floor(e));
  let left = total - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, k) => ({ k, frac: e - Math.floor(e) })).sort((a, b) => b.frac - a.frac || a.k - b.k);
  for (let i = 0; left > 0; i++, left--) counts[order[i % order.length]!.k]!++;
  return counts;
}

export const PRIOR_OPTIONS = {
  proportions: opt.list(opt.number({ doc: 'proportion', min: 0 }), { doc: 'one weight per class in label order (normalised to sum 1)', required: true, minLength: 1, metavar: 'P,...' }),
  size: opt.integer({ doc: 'items to draw', min: 1, defaultText: 'the dataset size' }),
};

export const priorShift = defineShift<PriorShiftSpec, typeof PRIOR_OPTIONS>({
  name: 'prior',
  summary: 'label shift: resample to the given class proportions (within one item per class)',
  options: PRIOR_OPTIONS,
  example: { shift: 'prior', proportions: [0.5, 0.5] },
  check(o, ctx) {
    if (!(o.proportions.reduce((a, b) => a + b, 0) > 0)) fail(keyPath(ctx.where, 'proportions'), { code: 'range', value: o.proportions, expected: 'a list of class proportions with a positive sum' });
  },
  stream(ds, spec) {
    return {
      needsInputs: false,
      update() {},
      finish(rng) {
        const labels = requireLabels(ds, "a 'prior' shift");
        let maxLabel = -1;
        for (let i = 0; i < labels.length; i++) maxLabel = Math.max(maxLabel, labels[i]!);
        const K = ds.classNames?.length ?? maxLabel + 1;
        if (spec.proportions.length !== K) {
          throw new DataError(`${ds.name}: 'proportions' has ${spec.proportions.length} entries but the data have ${K} classes (labels 0 to ${K - 1})`);
        }
        const byClass: number[][] = Array.from({ length: K }, () => []);
        for (let i = 0; i < labels.length; i++) byClass[labels[i]!]!.push(i);
        const total = spec.size ?? ds.size;
        const counts = targetCounts(spec.proportions, total);
        const picked: number[] = [];
        let copies = 0;
        counts.forEach((t, k) => {
          const pool = byClass[k]!;
          if (t > 0 && pool.length === 0) throw new DataError(`${ds.name}: class ${ds.classNames?.[k] ?? k} has no items but proportion ${fmtNum(spec.proportions[k]!)} asks for ${t}`);
          if (t === 0) return;
          const full = Math.floor(t / pool.length);
          for (let r = 0; r < full; r++) picked.push(...pool);
          picked.push(...sampleWithoutReplacement(pool, t - full * pool.length, rng));
          copies += Math.max(0, t - pool.length);
        });
        const indices = Int32Array.from(picked).sort();
        return resampleStream(ds, indices, () => `label shift to class counts [${counts.join(', ')}] (${total} items${copies ? `, ${copies} drawn again` : ''})`);
      },
    };
  },
});
