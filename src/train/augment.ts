/**
 * Drift-aware augmentation: corruptions from the drift library (the same code as the campaign's
 * drift stress and `gauntlet corrupt`) applied to training images. Each step, every item of the
 * batch is corrupted with probability `fraction`, by a corruption drawn uniformly from
 * `corruptions`, at a severity drawn uniformly from `severity: [lo, hi]` (inclusive).
 *
 * ```yaml
 * augment: { corruptions: [gaussian_noise, contrast, fog], severity: [1, 3], fraction: 0.5 }
 * ```
 * A curriculum (`adversarial.curriculum.severity`) may ramp the upper severity over epochs. Draws
 * come from the step's generator, one sub-stream per item, so the same seed gives the same bytes.
 * Images only ([C, H, W] items with values in [0, 1]); corrupted values stay in [0, 1].
 */
import { UsageError } from '../errors.js';
import { fail, keyPath, opt, parseOptions, type OptionsOf, type ParseContext } from '../options/schema.js';
import type { Rng } from '../rng.js';
import { corruptionNames, getCorruption, type Severity } from '../stress/drift/index.js';

const severity = opt.integer({ min: 1, max: 5, doc: 'severity' });

export const AUGMENT_OPTIONS = {
  corruptions: opt.list(opt.string({ doc: 'corruption name' }), { minLength: 1, required: true, doc: 'corruptions to draw from (gauntlet list corruptions)', metavar: 'NAME,...' }),
  severity: opt.list(severity, { minLength: 2, maxLength: 2, default: [1, 3], doc: 'inclusive severity range [lo, hi], drawn uniformly' }),
  fraction: opt.number({ min: 0, max: 1, default: 0.5, doc: 'share of items corrupted each step' }),
};

export type AugmentSpec = OptionsOf<typeof AUGMENT_OPTIONS>;

function parseAugment(v: unknown, p: string, ctx: ParseContext): AugmentSpec | null {
  if (v === null) return null;
  const a = parseOptions(AUGMENT_OPTIONS, v, { ...ctx, where: p });
  a.corruptions.forEach((name, i) => {
    if (!corruptionNames.includes(name)) fail(keyPath(keyPath(p, 'corruptions'), i), { code: 'choice', value: name, expected: `one of ${corruptionNames.join(', ')}` });
  });
  const [lo, hi] = a.severity as [number, number];
  if (lo > hi) fail(keyPath(p, 'severity'), { code: 'range', value: a.severity, expected: '[lo, hi] with lo ≤ hi' });
  return a;
}

export const AUGMENT_OPTION = opt.custom<AugmentSpec | null, { default: null; doc: string; metavar: string; flag: false }>(
  'null or { corruptions: [NAME, ...], severity: [lo, hi], fraction }',
  parseAugment,
  { default: null, doc: 'corruption augmentation: a random corruption and severity for a fraction of the items', metavar: 'SPEC', flag: false },
);

/**
 * Corrupts a share of the batch's items in place (the batch is the trainer's own buffer, never
 * the dataset). `maxSeverity` caps the upper end of the range (curriculum). Returns how many items
 * were corrupted.
 */
export function augmentBatch(x: Float32Array, size: number, itemShape: readonly number[], spec: AugmentSpec, rng: Rng, maxSeverity = 5): number {
  if (itemShape.length !== 3) throw new UsageError(`augment: corruptions need image items [C, H, W], got [${itemShape.join(', ')}]`);
  const [c, h, w] = itemShape as [number, number, number];
  const per = c * h * w;
  const [lo, hiDeclared] = spec.severity as [number, number];
  const hi = Math.max(lo, Math.min(hiDeclared, maxSeverity));
  let done = 0;
  for (let i = 0; i < size; i++) {
    const r = rng.fork(`augment:${i}`);
    if (r.uniform() >= spec.fraction) continue;
    const corruption = getCorruption(spec.corruptions[r.int(spec.corruptions.length)]!);
    const sev = (lo + r.int(hi - lo + 1)) as Severity;
    const item = x.subarray(i * per, (i + 1) * per);
    item.set(corruption.apply(item, [1, c, h, w], sev, r.fork('corruption')));
    done++;
  }
  return done;
}
