import type { EndpointServing } from '../endpoint/model.js';
import type { TextSummary } from './text.js';
/**
 * The result types of a campaign: what results.json and each cells/<id>.json hold. Types only (no
 * code), so the campaign that writes them and the report that reads them both depend on this module
 * and not on each other: src/report imports src/campaign (these types, the store's JSON helpers and
 * the gallery/annotation-quality builders it re-exports), src/campaign never imports src/report
 * (test/architecture.test.ts checks it).
 */
import type { FloorReason, InteractionVerdict } from '../metrics/interaction.js';
import type { Budget, StressKind } from './config.js';
import type { MetricName, MetricWithCi, ReliabilityBin } from '../metrics/suite.js';
import type { ExplainCellSummary } from '../explain/index.js';
import type { UncertaintyCellSummary } from '../uncertainty/index.js';
import type { TrainingRecord } from './variants.js';
export type { TrainingRecord } from './variants.js';

export interface CellResult {
  id: string;
  stage: string;
  hash: string;
  /** Resolved spec of each stress kind present. */
  stresses: Partial<Record<StressKind, unknown>>;
  labels: Partial<Record<StressKind, string>>;
  samples: number;
  /** Metrics against the true labels, each with a 95 % bootstrap CI. */
  metrics: Record<MetricName, MetricWithCi>;
  /** Metrics against the observed (noisy) labels, where annotation noise is present. */
  observed_metrics: Record<MetricName, MetricWithCi> | null;
  /** Observed-label accuracy minus true-label accuracy: how wrong the team's own measurement is. */
  measurement_gap: number | null;
  /** Paired comparison with the baseline (same items only). */
  vs_baseline: { accuracy_drop: MetricWithCi; mcnemar: { b: number; c: number; p_value: number } } | null;
  /** Reliability-diagram bins (15, top-label confidence) against the true labels. */
  reliability: ReliabilityBin[];
  /** Risk–coverage curve (≤ 50 points) against the true labels. */
  risk_coverage: { coverage: number; risk: number; threshold: number }[];
  /** Explanation drift and layer sensitivity (clean vs this cell's inputs), when the config asks for them. */
  explanations: ExplainCellSummary | null;
  /** Calibration, conformal coverage, selective risk (and ensemble / MC-dropout figures) on this cell, when configured. */
  uncertainty: UncertaintyCellSummary | null;
  /** A few sample items (clean, stressed, perturbation as small PNGs, labels and predictions) for the report. */
  gallery: GalleryItem[] | null;
  /** Per-annotator quality and the label audit, on cells with annotation noise. */
  annotation_quality: AnnotationQuality | null;
  /** Stress details: realised noise rate, attack summary, drift description, flags. */
  details: Record<string, unknown>;
  /** Wall-clock figures (not part of the reproducible results). */
  performance: { seconds: number; latency_ms_p50: number; latency_ms_p95: number; latency_ms_p99: number; throughput_per_s: number };
  /** Per-item correctness ('0'/'1' per item) against true and observed labels; item order of `item_indices`. */
  correct: string;
  correct_observed: string | null;
  /** Indices into the dataset when the cell's items are a resample (prior/subpopulation shift). */
  item_indices: number[] | null;
}

export interface Interaction {
  cell: string;
  stage: string;
  kinds: StressKind[];
  metric: 'accuracy' | 'measured_accuracy';
  observed_drop: MetricWithCi;
  additive_drop: MetricWithCi;
  /** observed − additive: > 0 the stresses compound (super-additive), < 0 they overlap. */
  interaction: MetricWithCi;
  /** See metrics/interaction.ts: 'floor' when accuracy's floor at zero, not the stresses, decides Δ. */
  verdict: InteractionVerdict;
  /** Why the verdict is 'floor' (null otherwise). */
  floor: FloorReason | null;
}

export interface CampaignResults {
  gauntlet: string;
  seed: number;
  model: { path: string; sha256: string; output_kind: string };
  data: { path: string; sha256: string; samples: number; classes: number; class_names: string[] | null };
  config: unknown;
  cells: CellResult[];
  interactions: Interaction[];
  budgets: BudgetResult[];
  /** What the uncertainty section fitted on clean data (temperature, conformal quantile, threshold, split), when configured. */
  uncertainty: unknown;
  /** The model variants (`models:`): each ran every cell of the plan; null without variants. */
  variants: VariantResult[] | null;
  /** Variants against the base model, cell by cell; null without variants. */
  mitigation: MitigationTable | null;
  /**
   * The models trained on the noisy labels of each training-time annotation setting (`at: train`),
   * one per (model, setting): they run that setting's cells. Absent (or empty) without such settings.
   */
  train_time?: TrainTimeModel[];
  /**
   * A text classifier (token-id input): the ids' type, where its attacks ran (the embedding
   * lookup) and the token-to-token scale an ε in embedding space is read against. Absent otherwise.
   */
  text?: TextSummary;
  performance: {
    wall_seconds: number; floor_seconds: number; floor_ratio: number; forward_ms_per_batch: number; forward_grad_ms_per_batch: number; forward_batches: number; gradient_batches: number;
    /**
     * Models given as endpoints (the base, or variants): the requests this run sent each one, with
     * their latency, throughput and error counts. A resumed run counts only its own requests.
     */
    endpoints?: (EndpointServing & { model: string })[];
  };
}

/** One model variant's campaign: the same cells as the base model (ids prefixed `<name>--`). */
export interface VariantResult {
  name: string;
  source: 'path' | 'train';
  path: string;
  sha256: string;
  /** How Gauntlet trained it (recipe, data, history, cache), or null for a model file. */
  training: TrainingRecord | null;
  cells: CellResult[];
  interactions: Interaction[];
  uncertainty: unknown;
}

/** A model trained on the labels of a training-time annotation setting (its cells' model). */
export interface TrainTimeModel {
  /** The model it stands in for: 'base' or a variant's name. */
  model: string;
  /** The setting's label (e.g. 'trained on symmetric 0.4') and key. */
  setting: string;
  key: string;
  sha256: string;
  path: string;
  /** The recipe's source: the variant's own recipe, or `retrain:` for a model given as a file. */
  recipe_from: 'variant' | 'retrain';
  training: TrainingRecord;
}

/** Variants side by side with the base model, per cell of the plan. */
export interface MitigationTable {
  variants: string[];
  rows: {
    cell: string;
    stage: string;
    labels: Partial<Record<StressKind, string>>;
    base: MetricWithCi;
    variants: { variant: string; accuracy: MetricWithCi; diff_vs_base: MetricWithCi | null }[];
    /** The most accurate model whose gain over the base is significant (CI above 0), else 'base'. */
    best: string;
  }[];
  /** Each variant's clean accuracy change (paired, with CI) and training time (null for model files). */
  price: { variant: string; clean_accuracy_change: MetricWithCi | null; training_seconds: number | null }[];
}

export interface BudgetResult {
  budget: Budget;
  /** Human-readable name, e.g. "accuracy ≥ 0.85 at stage baseline". */
  name: string;
  passed: boolean;
  /** Cells the budget applied to, with the value judged and whether each passed. */
  cells: { id: string; value: number; passed: boolean }[];
  message: string;
}

/** The pictures of one gallery item (base64 PNGs, no data: prefix). */
export interface GalleryImage {
  /** Base64 PNG of the clean item. */
  clean: string;
  /** Base64 PNG of the item as this cell's model saw it; null when it equals the clean item. */
  stressed: string | null;
  /** Base64 PNG of (stressed − clean) × magnify + ½ (mid-grey = unchanged); null when unchanged. */
  perturbation: string | null;
  /** The magnification used for `perturbation` (null when unchanged). */
  magnify: number | null;
  /** Largest absolute change of any input value (L∞ of the perturbation, in data units). */
  linf: number;
}

/** One gallery item of a cell: its pictures, labels and predictions. */
export interface GalleryItem extends GalleryImage {
  /** Position of the item among the cell's items (for resampled cells, an index into `item_indices`). */
  index: number;
  /** The dataset's item id, when it has ids. */
  id: string | null;
  true_label: number;
  /** The (noisy) label the team would see; null without annotation noise. */
  observed_label: number | null;
  /** This cell's prediction and its top-label confidence. */
  predicted: number;
  confidence: number;
  /** The clean input's prediction and confidence (null when not given). */
  clean_predicted: number | null;
  clean_confidence: number | null;
}

/** One annotator's quality: realised accuracy against the true labels, and the aggregator's estimate. */
export interface AnnotatorQuality {
  id: string;
  kind: string;
  /** Labels this annotator gave. */
  labels: number;
  /** Of those, equal to the true label. */
  correct: number;
  /** Accuracy the aggregation (e.g. Dawid–Skene) estimated without seeing true labels; null if none. */
  estimated_accuracy: number | null;
}

/** A label the audit (confident learning) flagged as likely wrong. */
export interface FlaggedLabel {
  index: number;
  id: string | null;
  observed: number;
  /** The model's arg-max class. */
  suggested: number;
  true_label: number;
  /** Self-confidence p(observed label): lower is more suspicious. */
  quality: number;
}

export interface AnnotationQuality {
  /** How consensus labels were formed ('majority', 'dawid-skene'), or null for noise models. */
  aggregation: string | null;
  annotators: AnnotatorQuality[] | null;
  audit: {
    method: string;
    estimated_noise_rate: number;
    flagged_count: number;
    /** Labels actually wrong (observed ≠ true), and flagged ∩ wrong. */
    flipped_count: number;
    true_positives: number;
    /** The most suspicious flagged labels, lowest quality first (at most `maxFlagged`). */
    flagged: FlaggedLabel[];
  } | null;
}
