/**
 * The cell hook interface: a campaign cell is `runCell` folding its stress hooks over one
 * `CellState` — annotation (labels), drift (inputs), adversarial (inputs, aimed at the true labels),
 * then predict, then the optional explain and uncertainty sections. A hook says whether it acts on
 * a cell, reads the part of the state it needs and returns what it changes or adds (plus one entry
 * of the cell's `details`); it never mutates the state, and its random draws come from the run's
 * generator forked by the setting's key, so a cell's bytes never depend on which cells ran before.
 * The hooks are the other files of this folder, in the order ../cell.ts `CELL_HOOKS` runs them.
 */
import type { Dataset } from '../../data/dataset.js';
import type { Classifier } from '../../engine/classifier.js';
import type { ExplainCellSummary, ExplainSpec } from '../../explain/index.js';
import type { Rng } from '../../rng.js';
import type { AnnotationResult } from '../../stress/annotation/index.js';
import type { Constraints } from '../../stress/adversarial/index.js';
import type { UncertaintyCellSummary, UncertaintyContext } from '../../uncertainty/index.js';
import type { ResampleWeights } from '../../metrics/suite.js';
import type { CellPlan } from '../plan.js';
import type { CleanSource } from '../source.js';
import type { CellEmbedding } from '../text.js';
import type { AnnotationQuality } from '../types.js';

/** What every cell of a run shares: model, clean data and predictions, generator, options, caches. */
export interface CellContext {
  /** The model under test: a local ONNX model, or a deployed endpoint (black-box stresses only). */
  model: Classifier;
  /** The clean data; `labels` are its true labels. Its `x` is empty when `source` is set. */
  data: Dataset;
  /** The clean inputs read from the file chunk by chunk (../source.ts) instead of `data.x`; absent or null: `data.x` holds them. */
  source?: CleanSource | null;
  labels: Int32Array;
  numClasses: number;
  /** The model's clean predictions: probabilities [n, K] and the batch times. */
  clean: { probs: Float64Array; batchMs: readonly number[] };
  /** The run's root generator (seeded by the campaign seed); hooks fork it by setting key, never draw from it. */
  rng: Rng;
  /** Bootstrap item weights over the clean items, shared by every cell on them (paired comparisons). */
  weights: readonly ResampleWeights[];
  /**
   * `chunkItems`: items per chunk for cells whose inputs are streamed (../stream.ts); 0 computes
   * every input set whole (the same results, more memory).
   */
  options: { batchSize: number; bootstrap: number; abstainBelow: number; explain: ExplainSpec | null; chunkItems: number };
  /** What the uncertainty section fitted on clean data, or null when the config has none. */
  uncertainty: UncertaintyContext | null;
  caches: CellCaches;
  /** Model batches run so far (for the compute floor); hooks add theirs. */
  counters: { forwardBatches: number; gradientBatches: number };
  /**
   * Tabular data: immutable feature indices (drift leaves them alone), the attacks' per-feature
   * constraints, and the clean set's per-feature σ for ε in std units (undefined for images).
   */
  tabular: { immutable: number[]; constraints?: Constraints; std?: Float32Array };
  /**
   * A text model declared `wrt: embedding`: its embedding view (attacks run there, projected to
   * tokens) and the token-to-token scale ε is read against; null for any other model.
   */
  embedding?: CellEmbedding | null;
}

/** Stress outputs computed once per run and shared by every cell that uses the same setting. */
export interface CellCaches {
  /** By annotation key: the noisy labels and their quality (per-annotator accuracy, label audit). */
  annotation: Map<string, { result: AnnotationResult; quality: AnnotationQuality }>;
  /** By drift key: the drifted data (and, for resampling shifts, the clean item of each item). */
  drift: Map<string, { dataset: Dataset; indices: Int32Array | null; description: string }>;
  /** By input key (drift key | attack key): the attacked inputs and the attack's summary. */
  attacks: Map<string, { x: Float32Array; summary: unknown }>;
  /** By input key: the model's probabilities on those inputs and the batch times. */
  predictions: Map<string, { probs: Float64Array; batchMs: readonly number[] }>;
  /** By baseline cell id: the baseline's accuracy under each bootstrap resample (for paired drops). */
  baselineBoot: Map<string, Float64Array>;
  /** By input key, for streamed cells (../stream.ts): probabilities, details and the gallery's items, no whole input set. */
  streamed: Map<string, StreamedInputs>;
}

/** What a streamed input set (../stream.ts) leaves behind: probabilities, batch times, the stresses' details and the gallery's items. */
export interface StreamedInputs {
  probs: Float64Array;
  batchMs: readonly number[];
  /** The drift and adversarial entries of the cell's details, in that order (as the whole-set hooks write them). */
  details: Record<string, unknown>;
  /** Resampling shifts: the clean item of each cell item (ascending); else null. */
  indices: Int32Array | null;
  /** The gallery's items (positions, ascending) as the model saw them and clean, [positions.length, ...itemShape]. */
  kept: { positions: number[]; x: Float32Array; clean: Float32Array };
}

/** The cell as it flows through the hooks. */
export interface CellState {
  /** The cell's items: the clean data, or the drifted data (other items, for a resampling shift). */
  inputs: Dataset;
  /** The clean item of each cell item when the drift resamples, else null. */
  indices: Int32Array | null;
  /** True labels of the cell's items. */
  labels: Int32Array;
  /** Observed (noisy) labels of the cell's items, with annotation noise; else null. */
  observed: Int32Array | null;
  /**
   * The values the model sees: the drifted, then attacked, inputs. A streamed cell (../stream.ts)
   * has no whole set: `x` is then the clean inputs and `kept` holds the gallery's stressed items.
   */
  x: Float32Array;
  /** Streamed cells: the gallery's items (positions) as the model saw them; null otherwise. */
  kept: StreamedInputs['kept'] | null;
  /** The model's probabilities on `x`, [n, K] (null until the predict hook). */
  probs: Float64Array | null;
  batchMs: readonly number[];
  /** Stress details by hook name (realised noise rate, drift description, attack summary). */
  details: Record<string, unknown>;
  annotationQuality: AnnotationQuality | null;
  explanations: ExplainCellSummary | null;
  uncertainty: UncertaintyCellSummary | null;
}

export type HookName = 'annotation' | 'drift' | 'adversarial' | 'predict' | 'explain' | 'uncertainty';

/** What a hook returns: the state fields it changes or adds, and its entry of `details`, if any. */
export type HookOutput<Adds extends keyof CellState> = Pick<CellState, Adds> & { detail?: unknown };

/** One stage of a cell: what it needs of the state (`Needs`) and what it adds (`Adds`). */
export interface CellHook<Needs extends keyof CellState, Adds extends keyof CellState> {
  readonly name: HookName;
  /** Whether the hook acts on this cell (e.g. the cell has annotation noise; the config has an explain section). */
  applies(cell: CellPlan, ctx: CellContext): boolean;
  run(state: Pick<CellState, Needs>, cell: CellPlan, ctx: CellContext): Promise<HookOutput<Adds>>;
}

/** A hook of any needs and additions, as `runCell` holds them. */
export interface AnyCellHook {
  readonly name: HookName;
  applies(cell: CellPlan, ctx: CellContext): boolean;
  run(state: CellState, cell: CellPlan, ctx: CellContext): Promise<Partial<CellState> & { detail?: unknown }>;
}

/** The key of a cell's input set: drift key | attack key ('|' for the clean inputs). */
export function inputKey(cell: CellPlan): string {
  return `${cell.drift?.key ?? ''}|${cell.adversarial?.key ?? ''}`;
}
