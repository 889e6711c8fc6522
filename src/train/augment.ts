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
  fraction: opt.number({ min: 0, max: 1, default: 0.5, doc: 'share of items corrupted each step (all items with jsd)' }),
  augmix: opt.boolean({ default: false, doc: 'AugMix-style mixing: m·x + (1 − m)·Σ w_i·chain_i(x) over chains of corruptions' }),
  mixture_width: opt.integer({ min: 1, max: 10, default: 3, doc: 'AugMix chains per item' }),
  mixture_depth: opt.integer({ min: 0, max: 5, default: 0, doc: 'corruptions per chain (0: 1 to 3 at random)' }),
  alpha: opt.number({ min: 0, minExclusive: true, default: 1, doc: 'Dirichlet(α) chain weights and Beta(α, α) mix' }),
  jsd: opt.boolean({ default: false, doc: 'Jensen–Shannon consistency: train on (x, augmix(x), augmix(x)) with CE(x) + λ·JS (needs augmix)' }),
  jsd_lambda: opt.number({ min: 0, default: 12, doc: 'weight of the JS consistency term (AugMix: 12)' }),
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
  if (a.jsd && !a.augmix) fail(keyPath(p, 'jsd'), { code: 'conflict', value: true, expected: 'augmix: true' }, `'${keyPath(p, 'jsd')}' needs 'augmix: true' (the consistency loss compares AugMix views)`);
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
  const [c, h, w] = imageShape(itemShape);
  const per = c * h * w;
  let done = 0;
  for (let i = 0; i < size; i++) {
    const r = rng.fork(`augment:${i}`);
    if (r.uniform() >= spec.fraction) continue;
    const item = x.subarray(i * per, (i + 1) * per);
    item.set(spec.augmix ? augmix(item, [c, h, w], spec, r.fork('augmix'), maxSeverity) : corrupt(item, [c, h, w], spec, r, maxSeverity));
    done++;
  }
  return done;
}

function imageShape(itemShape: readonly number[]): [number, number, number] {
  if (itemShape.length !== 3) throw new UsageError(`augment: corruptions need image items [C, H, W], got [${itemShape.join(', ')}]`);
  return itemShape as [number, number, number];
}

/** One corruption of the spec's list at a severity of its range (capped by the curriculum). */
function corrupt(item: Float32Array, [c, h, w]: [number, number, number], spec: AugmentSpec, r: Rng, maxSeverity: number): Float32Array {
  const [lo, hiDeclared] = spec.severity as [number, number];
  const hi = Math.max(lo, Math.min(hiDeclared, maxSeverity));
  const corruption = getCorruption(spec.corruptions[r.int(spec.corruptions.length)]!);
  const sev = (lo + r.int(hi - lo + 1)) as Severity;
  return corruption.apply(item, [1, c, h, w], sev, r.fork('corruption'));
}

/**
 * AugMix (Hendrycks et al. 2020) with the drift library's corruptions as its operations:
 * `mixture_width` chains of `mixture_depth` (or 1–3) random corruptions, mixed with Dirichlet(α)
 * weights, then m·x + (1 − m)·mix with m ~ Beta(α, α). A new array in [0, 1].
 */
export function augmix(item: Float32Array, shape: [number, number, number], spec: AugmentSpec, r: Rng, maxSeverity = 5): Float32Array {
  const ws = r.dirichlet(spec.alpha, spec.mixtureWidth);
  const m = r.beta(spec.alpha, spec.alpha);
  const mix = new Float32Array(item.length);
  ws.forEach((wi, chain) => {
    const cr = r.fork(`chain:${chain}`);
    const depth = spec.mixtureDepth > 0 ? spec.mixtureDepth : 1 + cr.int(3);
    let v: Float32Array = item;
    for (let d = 0; d < depth; d++) v = corrupt(v, shape, spec, cr.fork(`op:${d}`), maxSeverity);
    for (let j = 0; j < mix.length; j++) mix[j]! += wi * v[j]!;
  });
  return Float32Array.from(item, (v, j) => Math.min(1, Math.max(0, m * v + (1 - m) * mix[j]!)));
}

/** The JSD batch: clean items, then two AugMix views of each ([3·size, ...item]). */
export function jsdBatch(x: Float32Array, size: number, itemShape: readonly number[], spec: AugmentSpec, rng: Rng, maxSeverity = 5): Float32Array {
  const shape = imageShape(itemShape);
  const per = shape[0] * shape[1] * shape[2];
  const out = new Float32Array(3 * size * per);
  out.set(x.subarray(0, size * per));
  for (let i = 0; i < size; i++) {
    const item = x.subarray(i * per, (i + 1) * per);
    for (const v of [1, 2]) out.set(augmix(item, shape, spec, rng.fork(`augmix:${i}:${v}`), maxSeverity), (v * size + i) * per);
  }
  return out;
}
