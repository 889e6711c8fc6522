/**
 * The shapes shared by annotation-noise components: a noise model (one per file under `noise/`,
 * registered in `registry.ts`), what applying one returns, and the per-label provenance record.
 */
import type { Rng } from '../../rng.js';
import { parseOptions, type OptionMap, type OptionsOf, type ParseContext } from '../../options/schema.js';
import { realisedMatrix, type RealisedMatrix } from './util.js';

export type { RealisedMatrix } from './util.js';

/** What a noise model may use besides the labels. */
export interface NoiseContext {
  /** Model-predicted probabilities, row-major [n, K], float64 (needed by `instance`). */
  readonly probs?: Float64Array | null;
}

/** What every noise model returns. Inputs are never mutated. */
export interface NoiseResult<S = unknown> {
  /** The noisy (observed) label of each item. */
  readonly observed: Int32Array;
  /** 1 where observed ≠ true label. */
  readonly flipped: Uint8Array;
  /** Share of items whose observed label differs from the true one. */
  readonly realisedRate: number;
  /** Realised (true, observed) counts and row-normalised transition matrix, K×K. */
  readonly realisedMatrix: RealisedMatrix;
  /**
   * The transition matrix P(observed | true) the draws follow in expectation, K×K (for
   * class-conditional models), or null when flips depend on the item (instance noise).
   */
  readonly expectedMatrix: number[][] | null;
  /** Rate the draws follow in expectation (the target rate, or 1 − trace/K, or Σ prior·(1 − P_ii)). */
  readonly expectedRate: number;
  readonly spec: S;
  /** Seed of the generator the draws came from (reproduces them when that generator was fresh). */
  readonly seed: number | string;
}

/**
 * A label-noise model. Its keys besides `model` are declared once in `options` (YAML validation,
 * the `noise` verb's flags, `gauntlet list noise`); `parse` validates a config entry against them
 * and returns the normalised spec; `apply` draws the observed labels.
 */
export interface NoiseModel<S extends { readonly model: string } = { readonly model: string }> {
  readonly name: S['model'];
  /** One line for `gauntlet list` and help text. */
  readonly summary: string;
  /** Every key besides `model`, with its range and default. */
  readonly options: OptionMap;
  /** A valid spec (used by docs and the conformance tests). */
  readonly example: S;
  /** True when `apply` needs `ctx.probs`. */
  readonly needsProbs: boolean;
  parse(obj: unknown, ctx: ParseContext): S;
  apply(labels: Int32Array, numClasses: number, spec: S, rng: Rng, ctx: NoiseContext): NoiseResult<S>;
}

/** A NoiseModel from its declaration: `parse` checks `options` (plus `model`), then `check` for constraints between keys. */
export function defineNoiseModel<S extends { readonly model: string }, M extends OptionMap>(def: {
  name: S['model'];
  summary: string;
  options: M;
  example: S;
  needsProbs: boolean;
  check?: (o: OptionsOf<M>, ctx: ParseContext) => void;
  apply(labels: Int32Array, numClasses: number, spec: S, rng: Rng, ctx: NoiseContext): NoiseResult<S>;
}): NoiseModel<S> {
  const { check, ...rest } = def;
  return {
    ...rest,
    parse(obj, ctx) {
      const o = parseOptions(def.options, obj, ctx, { extraKeys: ['model'] });
      check?.(o, ctx);
      return { model: def.name, ...o } as unknown as S;
    },
  };
}

/** Provenance of one observed label. */
export interface LabelProvenance {
  /** Item id (the dataset's id, or the decimal index). */
  readonly item: string;
  /** Annotator id (`noise:<model>` for a noise model, `a0`, `a1`, … for simulated annotators). */
  readonly annotator: string;
  readonly label: number;
  /** Simulated ISO-8601 time of the label (annotators), or null for a noise model. */
  readonly timestamp: string | null;
  /** The annotation spec that produced the label. */
  readonly spec: unknown;
  readonly seed: number | string;
}

/** Assembles a NoiseResult from true and observed labels. */
export function noiseResult<S>(
  trueLabels: Int32Array,
  observed: Int32Array,
  numClasses: number,
  spec: S,
  seed: number | string,
  expectedMatrix: number[][] | null,
  expectedRate: number,
): NoiseResult<S> {
  const n = trueLabels.length;
  const flipped = new Uint8Array(n);
  let flips = 0;
  for (let i = 0; i < n; i++) {
    if (observed[i] !== trueLabels[i]) {
      flipped[i] = 1;
      flips++;
    }
  }
  return {
    observed,
    flipped,
    realisedRate: n ? flips / n : 0,
    realisedMatrix: realisedMatrix(trueLabels, observed, numClasses),
    expectedMatrix,
    expectedRate,
    spec,
    seed,
  };
}

/** Rate in expectation of a class-conditional matrix under the labels' class frequencies. */
export function expectedRateOf(trueLabels: Int32Array, matrix: readonly (readonly number[])[]): number {
  if (trueLabels.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < trueLabels.length; i++) s += 1 - matrix[trueLabels[i]!]![trueLabels[i]!]!;
  return s / trueLabels.length;
}

/**
 * Labels from several annotators: an N×A int matrix (row-major, item-major), −1 where the
 * annotator did not label the item.
 */
export interface AnnotationMatrix {
  readonly numItems: number;
  readonly numAnnotators: number;
  readonly numClasses: number;
  /** labels[i * numAnnotators + a]: annotator a's label for item i, or −1. */
  readonly labels: Int32Array;
  readonly annotatorIds: readonly string[];
  /** Item ids, or null for the decimal indices. */
  readonly itemIds: readonly string[] | null;
}
