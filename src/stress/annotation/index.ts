/**
 * Annotation noise: the one entry point the campaign, stream segments and the CLI share.
 *
 * `parseAnnotationSpec` validates a config entry — a noise model (`{model: 'symmetric', rate: 0.2}`,
 * `{model: 'pairflip', rate: 0.3}`, `{model: 'matrix', matrix: [[...]]}` or `{model: 'matrix',
 * trace: 7}`, `{model: 'instance', rate: 0.2}`) or simulated annotators (`{annotators: 5,
 * annotator_accuracy: 0.7, coverage: 3, aggregate: 'dawid-skene'}`) — into a normalised spec
 * that round-trips through JSON. `applyAnnotation` draws the observed labels from the true ones
 * with the sub-stream `rng.fork('annotation')`, so the result depends only on (labels, K, spec,
 * rng.seed, ctx) and never on draws made before; inputs are never mutated.
 *
 * Example:
 *   const spec = parseAnnotationSpec({ model: 'symmetric', rate: 0.3 }, 'stresses[0]');
 *   const r = applyAnnotation(ds.labels, 10, spec, new Rng(0), { ids: ds.ids });
 *   r.realisedRate; // ≈ 0.3
 */
import { ConfigError, DataError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import { aggregate, type AggregationResult } from './aggregate.js';
import { ANNOTATORS_OPTIONS, parseAnnotatorsSpec, simulateAnnotators, type AnnotatorsSpec, type SimulatedAnnotator } from './annotators.js';
import { applyNoise, getNoiseModel, noiseModelNames, type NoiseSpec } from './registry.js';
import { noiseResult, type AnnotationMatrix, type LabelProvenance, type RealisedMatrix } from './types.js';
import { fail, keyPath, type OptionMap, type ParseContext } from '../../options/schema.js';
import { checkLabels } from './util.js';

export * from './types.js';
export * from './registry.js';
export * from './annotators.js';
export * from './aggregate.js';
export * from './audit.js';
export * from './metrics.js';
export * from './load.js';
export * from './data.js';
export { realisedMatrix, pickWeighted } from './util.js';
export { SYMMETRIC_OPTIONS, RATE } from './noise/symmetric.js';
export { PAIRFLIP_OPTIONS } from './noise/pairflip.js';
export { MATRIX_OPTIONS } from './noise/matrix.js';
export { INSTANCE_OPTIONS } from './noise/instance.js';
export { matrixFromTrace, isDiagonalDominant } from './noise/matrix.js';
export { flipProbabilities, uncertaintyScores, FLIP_TO, UNCERTAINTIES, type FlipTo, type Uncertainty } from './noise/instance.js';

/** A label-noise model spec or a simulated-annotators spec. */
export type AnnotationSpec = NoiseSpec | AnnotatorsSpec;

/** Every `model` an annotation spec may name. */
export const annotationModelNames: readonly AnnotationSpec['model'][] = [...noiseModelNames, 'annotators'];

/**
 * Validates an annotation config entry; errors are OptionErrors naming the key path under `where`.
 * With `camelCase` (objects from TypeScript), camelCase keys are the canonical spelling.
 */
export function parseAnnotationSpec(obj: unknown, where: string, ctx: Omit<ParseContext, 'where'> = {}): AnnotationSpec {
  const c: ParseContext = { ...ctx, where };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) fail(c, { code: 'type', value: obj, expected: "a mapping like {model: 'symmetric', rate: 0.2} or {annotators: 5, annotator_accuracy: 0.7}" });
  const o = obj as Record<string, unknown>;
  if (o.annotators !== undefined || o.model === 'annotators') return parseAnnotatorsSpec(o, where, ctx);
  if (o.model === undefined) throw new ConfigError(`'${where}' must name a 'model' (one of ${noiseModelNames.join(', ')}) or give 'annotators'`);
  const m = typeof o.model === 'string' ? getNoiseModel(o.model) : undefined;
  if (!m) fail(keyPath(where, 'model'), { code: 'choice', value: o.model, expected: `one of ${annotationModelNames.join(', ')}` });
  try {
    return m.parse(o, c);
  } catch (e) {
    // Say which noise model a key is unknown for.
    if (e instanceof ConfigError && /unknown key/.test(e.message)) throw new ConfigError(e.message.replace(/; allowed keys are/, ` for noise model '${m.name}'; allowed keys are`));
    throw e;
  }
}

/** The option map of a noise model, or of simulated annotators for 'annotators'. */
export function annotationOptions(name: string): OptionMap {
  if (name === 'annotators') return ANNOTATORS_OPTIONS;
  const m = getNoiseModel(name);
  if (!m) throw new ConfigError(`unknown noise model '${name}'; known: ${annotationModelNames.join(', ')}`);
  return m.options;
}

export interface AnnotationContext {
  /** Item ids for provenance (default: decimal indices). */
  readonly ids?: readonly string[] | null;
  /** Predicted probabilities, [n, K] float64; needed by `instance`. */
  readonly probs?: Float64Array | null;
}

/** Simulated-annotator details of an AnnotationResult. */
export interface AnnotatorsOutcome {
  readonly annotators: readonly SimulatedAnnotator[];
  /** Each annotator's share of correct labels. */
  readonly realisedAccuracy: Float64Array;
  readonly labelCounts: Int32Array;
  /** How the consensus (observed) labels were formed. */
  readonly aggregation: AggregationResult;
}

export interface AnnotationResult {
  readonly spec: AnnotationSpec;
  /** Seed of the generator given to applyAnnotation (with the spec, reproduces the result). */
  readonly seed: number | string;
  readonly numClasses: number;
  /** A copy of the true labels. */
  readonly trueLabels: Int32Array;
  /** Observed labels (consensus labels for simulated annotators). */
  readonly observed: Int32Array;
  /** 1 where observed ≠ true. */
  readonly flipped: Uint8Array;
  readonly realisedRate: number;
  /** Rate in expectation (noise models), or null (annotators: depends on the aggregation). */
  readonly expectedRate: number | null;
  readonly realisedMatrix: RealisedMatrix;
  /** The transition matrix in expectation, or null (instance noise, annotators). */
  readonly expectedMatrix: number[][] | null;
  /** One record per label: one per item for noise models, one per (item, annotator) label for annotators. */
  readonly provenance: readonly LabelProvenance[];
  /** The N×K annotation matrix (−1 unlabelled) for simulated annotators, else null. */
  readonly annotations: AnnotationMatrix | null;
  readonly annotators: AnnotatorsOutcome | null;
}

/** Draws observed labels from `labels` under `spec` (see the file comment). */
export function applyAnnotation(labels: Int32Array, numClasses: number, spec: AnnotationSpec, rng: Rng, ctx: AnnotationContext = {}): AnnotationResult {
  checkLabels(labels, numClasses);
  const n = labels.length;
  const ids = ctx.ids ?? null;
  if (ids && ids.length !== n) throw new DataError(`${ids.length} item ids for ${n} labels`);
  const trueLabels = Int32Array.from(labels);
  const sub = rng.fork('annotation');
  const seed = rng.seed;
  const specCopy = JSON.parse(JSON.stringify(spec)) as AnnotationSpec;
  if (specCopy.model === 'annotators') {
    const sim = simulateAnnotators(trueLabels, numClasses, specCopy, sub, ids, specCopy);
    const provenance = sim.provenance.map((p) => ({ ...p, seed }));
    const agg = aggregate(sim.annotations, specCopy.aggregate, sub.fork('aggregate'));
    const observed = Int32Array.from(agg.labels);
    const r = noiseResult(trueLabels, observed, numClasses, specCopy, seed, null, NaN);
    return {
      spec: specCopy,
      seed,
      numClasses,
      trueLabels,
      observed,
      flipped: r.flipped,
      realisedRate: r.realisedRate,
      expectedRate: null,
      realisedMatrix: r.realisedMatrix,
      expectedMatrix: null,
      provenance,
      annotations: sim.annotations,
      annotators: { annotators: sim.annotators, realisedAccuracy: sim.realisedAccuracy, labelCounts: sim.labelCounts, aggregation: agg },
    };
  }
  const r = applyNoise(trueLabels, numClasses, specCopy, sub, { probs: ctx.probs ?? null });
  const annotator = `noise:${specCopy.model}`;
  const provenance: LabelProvenance[] = Array.from(r.observed, (label, i) => ({ item: ids ? ids[i]! : String(i), annotator, label, timestamp: null, spec: specCopy, seed }));
  return {
    spec: specCopy,
    seed,
    numClasses,
    trueLabels: Int32Array.from(labels),
    observed: r.observed,
    flipped: r.flipped,
    realisedRate: r.realisedRate,
    expectedRate: r.expectedRate,
    realisedMatrix: r.realisedMatrix,
    expectedMatrix: r.expectedMatrix,
    provenance,
    annotations: null,
    annotators: null,
  };
}
