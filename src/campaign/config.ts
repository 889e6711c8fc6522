import { readYamlFile } from '../yaml.js';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { opt, parseOptions, type OptionMap } from '../options/schema.js';
import { parseDataDeclaration, parseModelDeclaration, type DataRef, type ModelRef } from '../options/declarations.js';
import { METRIC_NAMES } from '../metrics/suite.js';
import { defaultAssets } from '../defaults.js';
import { parseAttackSpec, type AttackSpec } from '../stress/adversarial/index.js';
import { parseDriftSpec, type DriftSpec } from '../stress/drift/index.js';
import { parseAnnotationSpec, type AnnotationSpec } from '../stress/annotation/index.js';
import { parseExplainSpec, type ExplainSpec } from '../explain/index.js';
import { parseUncertaintySpec, type UncertaintySpec } from '../uncertainty/index.js';
import { parseVariants, type VariantSpec } from './variants.js';
import { parseRecipe } from '../train/recipe.js';

export const STAGES = ['baseline', 'isolated', 'pairwise', 'combined'] as const;
export type Stage = (typeof STAGES)[number] | 'factorial';
export const STRESS_KINDS = ['adversarial', 'drift', 'annotation'] as const;
export type StressKind = (typeof STRESS_KINDS)[number];

export interface Budget {
  metric: string;
  stage?: Stage;
  stress?: StressKind;
  min?: number;
  max?: number;
  max_drop?: number;
  /** Judge by the CI's pessimistic end instead of the point value. */
  pessimistic?: boolean;
  /** Judge the metric against observed (noisy) labels instead of true labels. */
  observed?: boolean;
  /** Judge this model variant's cells (default: the base model's). */
  variant?: string;
}

/** A campaign, validated and resolved (paths absolute, lists expanded into one setting each). */
export interface CampaignConfig {
  /** Where the config came from ('default' for the embedded campaign). */
  source: string;
  model: ModelRef;
  data: DataRef;
  seed: number;
  stages: Stage[];
  stresses: { adversarial: AttackSpec[]; drift: DriftSpec[]; annotation: CampaignAnnotationSpec[] };
  budgets: Budget[];
  batchSize: number;
  /** Bootstrap resamples for confidence intervals. */
  bootstrap: number;
  /** Confidence below which a prediction counts as an abstention. */
  abstainBelow: number;
  /** Explanation drift and layer sensitivity per input-changing cell (the `explain` section), or null. */
  explain: ExplainSpec | null;
  /** Calibration, conformal sets, selective prediction, ensembles, MC dropout per cell (the `uncertainty` section), or null. */
  uncertainty: UncertaintySpec | null;
  /** Model variants (`models:`) that run the same cells as the base model; empty without. */
  variants: VariantSpec[];
  /** Training data of trained variants (`train_data:`), or null when no variant is trained. */
  trainData: DataRef | null;
  /** Validation data of trained variants (`val_data:`: curves, PGD validation accuracy, early stopping), or null. */
  valData: DataRef | null;
  /** Where trained variants are cached (`variant_cache:`), or null for the default beside the run directory. */
  variantCache: string | null;
  /**
   * The recipe that trains a model given as a file (the base, `path:` variants) on the noisy labels
   * of a training-time annotation stress (`retrain:`; default `{}`: the default recipe, fine-tuning
   * from the model's own weights). Trained variants use their own recipe.
   */
  retrain: Record<string, unknown>;
}

/**
 * An annotation setting of a campaign: test-time (default) noise corrupts the labels the model is
 * measured against; `at: train` noise corrupts the labels a model learns from — every model of the
 * campaign is trained on them (its own recipe, or `retrain:` for a model given as a file) and that
 * model runs the cell, measured against the true labels.
 */
export type CampaignAnnotationSpec = AnnotationSpec & { at?: 'train' };

/** Whether an annotation setting acts on the training labels (`at: train`). */
export function isTrainTime(spec: unknown): boolean {
  return (spec as { at?: unknown } | null)?.at === 'train';
}

/** Parses a `stresses.annotation` entry: an annotation spec plus `at: test | train`. */
export function parseCampaignAnnotation(e: Record<string, unknown>, where: string): CampaignAnnotationSpec {
  const { at, ...rest } = e;
  if (at !== undefined && at !== 'test' && at !== 'train') throw new ConfigError(`'${where}.at' must be test (the labels the model is measured against) or train (the labels models learn from), got ${show(at)}`);
  const spec = parseAnnotationSpec(rest, where);
  return at === 'train' ? { ...spec, at: 'train' } : spec;
}

/** The stresses a config gets when it names none: all three kinds, sized to run in about a minute. */
export const DEFAULT_STRESSES = {
  adversarial: [{ attack: 'pgd', norm: 'linf', eps: [0.02, 0.05], steps: 10 }],
  drift: [{ corruption: 'gaussian_noise', severity: [2, 4] }, { corruption: 'contrast', severity: 3 }],
  annotation: [{ model: 'symmetric', rate: 0.2 }],
};

/** The list-valued key of each stress kind that expands into one setting per value (a sweep). */
const SWEEP_KEY: Record<StressKind, string[]> = { adversarial: ['eps'], drift: ['severity'], annotation: ['rate'] };

/** Config sections parsed by their own schemas. */
const SECTION_KEYS = ['model', 'data', 'stages', 'stresses', 'budgets', 'explain', 'uncertainty', 'models', 'train_data', 'val_data', 'retrain'] as const;

/** Reads and validates a YAML (or JSON) campaign file. */
export function loadConfig(file: string): CampaignConfig {
  const raw = readYamlFile(file);
  return resolveConfig(raw, file, path.dirname(path.resolve(file)));
}

/** Validates a config object; relative paths resolve against `baseDir`. */
export function resolveConfig(raw: unknown, source: string, baseDir: string): CampaignConfig {
  const o = asObject(raw, 'config');
  const top = parseOptions(CAMPAIGN_OPTIONS, o, { where: '', baseDir }, { extraKeys: SECTION_KEYS });
  const model = parseModelDeclaration(o.model, { where: 'model', baseDir }, defaultAssets.model);
  const data = parseDataDeclaration(o.data, { where: 'data', baseDir }, defaultAssets.data);
  const { seed, factorial } = top;
  let stages: Stage[];
  if (factorial) {
    if (o.stages !== undefined) throw new ConfigError(`'stages' and 'factorial: true' exclude each other; give one`);
    stages = ['factorial'];
  } else if (o.stages === undefined) stages = [...STAGES];
  else {
    if (!Array.isArray(o.stages) || o.stages.length === 0) throw new ConfigError(`'stages' must be a non-empty list of ${STAGES.join(', ')}`);
    stages = o.stages.map((s, i) => {
      if (!STAGES.includes(s as (typeof STAGES)[number])) throw new ConfigError(`'stages[${i}]' must be one of ${STAGES.join(', ')}, got ${show(s)}`);
      return s as Stage;
    });
  }
  const rawStresses = o.stresses === undefined ? DEFAULT_STRESSES : asObject(o.stresses, 'stresses');
  checkKeys(rawStresses, STRESS_KINDS, 'stresses');
  const list = (kind: StressKind): Record<string, unknown>[] => {
    const v = (rawStresses as Record<string, unknown>)[kind];
    if (v === undefined || v === null) return [];
    const arr = Array.isArray(v) ? v : [v];
    return arr.flatMap((entry, i) => expandSweep(asObject(entry, `stresses.${kind}[${i}]`), SWEEP_KEY[kind], `stresses.${kind}[${i}]`));
  };
  const stresses = {
    adversarial: list('adversarial').map((e, i) => parseAttackSpec(e, `stresses.adversarial[${i}]`)),
    drift: list('drift').map((e, i) => parseDriftSpec(e, `stresses.drift[${i}]`)),
    annotation: list('annotation').map((e, i) => parseCampaignAnnotation(e, `stresses.annotation[${i}]`)),
  };
  const variants = parseVariants(o.models, { where: 'models', baseDir });
  const budgets = o.budgets === undefined ? [] : asArray(o.budgets, 'budgets').map((b, i) => resolveBudget(b, `budgets[${i}]`, variants));
  const trainTime = stresses.annotation.some(isTrainTime);
  const trained = variants.some((v) => v.train) || trainTime;
  for (const key of ['train_data', 'val_data'] as const) if (o[key] !== undefined && !trained) throw new ConfigError(`'${key}' is given but no variant in 'models' has 'train' and no annotation stress is 'at: train'`);
  if (o.retrain !== undefined && !trainTime) throw new ConfigError(`'retrain' is given but no annotation stress is 'at: train' (it is the recipe that trains a model given as a file on noisy labels)`);
  const retrain = o.retrain === undefined || o.retrain === null ? {} : parseRetrain(o.retrain);
  if (trainTime) checkTrainTimeVariants(variants, stresses.annotation.filter(isTrainTime));
  return {
    source,
    model,
    data,
    seed,
    stages,
    stresses,
    budgets,
    batchSize: top.batchSize,
    bootstrap: top.bootstrap,
    abstainBelow: top.abstainBelow,
    explain: o.explain === undefined || o.explain === null ? null : parseExplainSpec(o.explain, 'explain'),
    uncertainty: o.uncertainty === undefined || o.uncertainty === null ? null : parseUncertaintySpec(o.uncertainty, 'uncertainty', baseDir),
    variants,
    trainData: trained ? parseDataDeclaration(o.train_data, { where: 'train_data', baseDir }, defaultAssets.trainData) : null,
    valData: trained && o.val_data !== undefined && o.val_data !== null ? parseDataDeclaration(o.val_data, { where: 'val_data', baseDir }) : null,
    variantCache: top.variantCache ?? null,
    retrain,
  };
}

function parseRetrain(v: unknown): Record<string, unknown> {
  const o = asObject(v, 'retrain');
  parseRecipe(o, { where: 'retrain' });
  if (o.labels !== undefined && o.labels !== null) throw new ConfigError(`'retrain.labels' must not be given: the training-time annotation stress supplies the labels`);
  return o;
}

/** A trained variant that already learns from noisy labels cannot also take a stress's: say so before anything runs. */
function checkTrainTimeVariants(variants: readonly VariantSpec[], specs: readonly CampaignAnnotationSpec[]): void {
  for (const v of variants) {
    const labels = v.train?.labels;
    if (labels !== undefined && labels !== null) throw new ConfigError(`variant '${v.name}' trains on noisy labels of its own ('labels:' in its recipe), so the training-time annotation stress (${specs.map((s) => s.model).join(', ')}, at: train) would replace them; remove one of the two`);
  }
}

/** The embedded default campaign (default model and data, all three stress kinds). */
export function defaultConfig(): CampaignConfig {
  return resolveConfig({ model: defaultAssets.model, data: defaultAssets.data }, 'default', process.cwd());
}


/** A budget entry: a metric and its limit in some cells. */
export const BUDGET_OPTIONS = {
  metric: opt.choice(METRIC_NAMES, { doc: 'the metric judged', required: true }),
  stage: opt.choice([...STAGES, 'factorial'] as const, { doc: 'only cells of this stage' }),
  stress: opt.choice(STRESS_KINDS, { doc: 'only cells that include this stress kind' }),
  min: opt.number({ doc: 'the metric must be at least this' }),
  max: opt.number({ doc: 'the metric must be at most this' }),
  max_drop: opt.number({ doc: 'the drop from the baseline must be at most this' }),
  pessimistic: opt.boolean({ doc: "judge by the CI's pessimistic end instead of the point value" }),
  observed: opt.boolean({ doc: 'judge against observed (noisy) labels instead of true labels' }),
  variant: opt.string({ doc: "judge this model variant's cells (a name from models:; default the base model)" }),
} satisfies OptionMap;

/** The top-level keys of a campaign config (the sections with their own schemas are listed as extra keys). */
export const CAMPAIGN_OPTIONS = {
  seed: opt.integer({ doc: 'the campaign seed: every random draw derives from it', min: 0, max: Number.MAX_SAFE_INTEGER, default: 0 }),
  factorial: opt.boolean({ doc: 'every combination of stress settings instead of stages', default: false }),
  batch_size: opt.integer({ doc: 'items per ONNX Runtime run', min: 1, max: 65536, default: 256 }),
  bootstrap: opt.integer({ doc: 'bootstrap resamples for confidence intervals', min: 0, max: 100000, default: 1000 }),
  abstain_below: opt.number({ doc: 'confidence below which a prediction counts as an abstention', min: 0, max: 1, default: 0.5 }),
  variant_cache: opt.path({ doc: 'folder of trained variants (default: .gauntlet/variants beside the run directory)' }),
} satisfies OptionMap;

function resolveBudget(v: unknown, where: string, variants: readonly VariantSpec[]): Budget {
  const o = parseOptions(BUDGET_OPTIONS, v, { where });
  const b: Budget = { metric: o.metric };
  if (o.stage !== undefined) b.stage = o.stage;
  if (o.stress !== undefined) b.stress = o.stress;
  if (o.min !== undefined) b.min = o.min;
  if (o.max !== undefined) b.max = o.max;
  if (o.maxDrop !== undefined) b.max_drop = o.maxDrop;
  if (o.pessimistic !== undefined) b.pessimistic = o.pessimistic;
  if (o.observed !== undefined) b.observed = o.observed;
  if (o.variant !== undefined && o.variant !== 'base') {
    if (!variants.some((x) => x.name === o.variant)) throw new ConfigError(`'${where}.variant' '${o.variant}' is not a variant in 'models'; known: base${variants.map((x) => `, ${x.name}`).join('')}`);
    b.variant = o.variant;
  }
  if (b.min === undefined && b.max === undefined && b.max_drop === undefined) throw new ConfigError(`'${where}' must set at least one of min, max, max_drop`);
  return b;
}

/** Expands a list-valued sweep key (e.g. eps: [0.01, 0.03]) into one entry per value. */
function expandSweep(entry: Record<string, unknown>, keys: string[], where: string): Record<string, unknown>[] {
  for (const k of keys) {
    const v = entry[k];
    if (Array.isArray(v)) {
      if (v.length === 0) throw new ConfigError(`'${where}.${k}' must not be an empty list`);
      return v.map((x) => ({ ...entry, [k]: x }));
    }
  }
  return [entry];
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`'${where}' must be a mapping (key: value), got ${show(v)}`);
  return v as Record<string, unknown>;
}
function asArray(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new ConfigError(`'${where}' must be a list, got ${show(v)}`);
  return v;
}
function checkKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ConfigError(`unknown key '${k}' in ${where}; allowed: ${allowed.join(', ')}`);
  }
}
function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}
