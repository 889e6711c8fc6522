/**
 * Training on noisy labels: a recipe's `labels:` draws the labels the model learns from out of the
 * true ones with the annotation library — the same noise models and simulated annotators as the
 * campaign's test-time annotation stress (`applyAnnotation`), so a training stress and a test
 * stress with the same spec and seed flip the same items.
 *
 * ```yaml
 * labels: { noise: { model: symmetric, rate: 0.4 } }          # any noise model: symmetric, pairflip, matrix, instance
 * labels: { annotators: 5, annotator_accuracy: 0.7, aggregate: dawid_skene }   # majority | dawid_skene | soft
 * ```
 * `aggregate: soft` learns from the Dawid–Skene posterior of every item (soft targets) instead of
 * its consensus label. Instance-dependent noise needs predicted probabilities: those of the model
 * as given (before `init: reinit`). Every training label keeps its provenance (item, annotator,
 * spec, seed); metrics are always against the true labels. Draws use `Rng(seed).fork('labels')`.
 */
import { ConfigError } from '../errors.js';
import { applyAnnotation, parseAnnotationSpec, type AnnotationResult, type AnnotationSpec } from '../stress/annotation/index.js';
import { fail, opt, type ParseContext } from '../options/schema.js';
import { Rng } from '../rng.js';

/** A parsed `labels:` entry: the annotation spec, and whether to learn from Dawid–Skene posteriors. */
export interface TrainingLabelsSpec {
  noise: AnnotationSpec;
  soft: boolean;
}

const EXPECTED = "null, { noise: { model: symmetric, rate: 0.4 } } or { annotators: 5, annotator_accuracy: 0.7, aggregate: majority | dawid_skene | soft }";

/** Checks a `labels:` value. */
export function parseTrainingLabels(v: unknown, p: string, ctx: ParseContext): TrainingLabelsSpec | null {
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) fail(p, { code: 'type', value: v, expected: EXPECTED });
  const o = v as Record<string, unknown>;
  if (o.noise !== undefined) {
    const extra = Object.keys(o).filter((k) => k !== 'noise' && k !== 'soft');
    if (extra.length) fail(`${p}.${extra[0]}`, { code: 'unknown_key', value: extra[0], expected: 'noise (and soft)' }, `'${p}' has unknown key '${extra[0]}'; with 'noise' the only other key is 'soft'`);
    const noise = parseAnnotationSpec(o.noise, `${p}.noise`, { camelCase: ctx.camelCase });
    const soft = o.soft === undefined ? false : opt.boolean({ doc: '' }).check(o.soft, `${p}.soft`, ctx);
    if (soft && noise.model !== 'annotators') throw new ConfigError(`'${p}.soft' needs simulated annotators (soft targets are their Dawid–Skene posteriors), not noise model '${noise.model}'`);
    if (soft && noise.model === 'annotators' && noise.aggregate !== 'dawid-skene') throw new ConfigError(`'${p}.soft' needs aggregate: dawid-skene`);
    return { noise, soft };
  }
  if (o.annotators === undefined) fail(p, { code: 'type', value: v, expected: EXPECTED });
  const agg = o.aggregate;
  const soft = agg === 'soft';
  const aggregate = agg === 'soft' || agg === 'dawid_skene' ? 'dawid-skene' : agg;
  const noise = parseAnnotationSpec({ ...o, ...(agg === undefined ? {} : { aggregate }) }, p, { camelCase: ctx.camelCase });
  return { noise, soft };
}

export const TRAINING_LABELS_OPTION = opt.custom<TrainingLabelsSpec | null, { default: null; doc: string; metavar: string; flag: false }>(
  EXPECTED,
  parseTrainingLabels,
  { default: null, doc: 'train on noisy labels: a noise model or simulated annotators (metrics stay against the true labels)', metavar: 'SPEC', flag: false },
);

/** The labels a model learns from. */
export interface TrainingLabels {
  /** Hard training labels (observed; consensus labels for annotators). */
  observed: Int32Array;
  /** Soft targets [n, K] (Dawid–Skene posteriors) with `soft`, else null. */
  soft: Float32Array | null;
  /** The annotation draw: realised rate, flips, provenance of every label. */
  annotation: AnnotationResult;
}

/** Draws the training labels from the true ones (see the file comment). */
export function drawTrainingLabels(spec: TrainingLabelsSpec, trueLabels: Int32Array, numClasses: number, seed: number, ctx: { ids?: readonly string[] | null; probs?: Float64Array | null } = {}): TrainingLabels {
  const annotation = applyAnnotation(trueLabels, numClasses, spec.noise, new Rng(seed).fork('labels'), ctx);
  let soft: Float32Array | null = null;
  if (spec.soft) {
    const agg = annotation.annotators!.aggregation;
    soft = Float32Array.from(agg.posterior);
  }
  const observed = Int32Array.from(annotation.observed);
  // An item nobody labelled (coverage < 1 cannot happen, but an aggregation may leave −1) keeps no label to learn from.
  for (let i = 0; i < observed.length; i++) if (observed[i]! < 0) throw new ConfigError(`labels: item ${i} got no training label from the simulated annotators`);
  return { observed, soft, annotation };
}
