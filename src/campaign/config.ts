import { readYamlFile } from '../yaml.js';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { METRIC_NAMES } from '../metrics/suite.js';
import type { ModelDeclaration } from '../engine/declaration.js';
import type { DataSpec } from '../data/load.js';
import { defaultAssets } from '../defaults.js';
import { parseAttackSpec, type AttackSpec } from '../stress/adversarial/index.js';
import { parseDriftSpec, type DriftSpec } from '../stress/drift/index.js';
import { parseAnnotationSpec, type AnnotationSpec } from '../stress/annotation/index.js';
import { parseExplainSpec, type ExplainSpec } from '../explain/index.js';
import { parseUncertaintySpec, type UncertaintySpec } from '../uncertainty/index.js';

export const STAGES = ['baseline', 'isolated', 'pairwise', 'combined'] as const;
export type Stage = (typeof STAGES)[number] | 'factorial';
export const STRESS_KINDS = ['adversarial', 'drift', 'annotation'] as const;
export type StressKind = (typeof STRESS_KINDS)[number];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

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
}

/** A campaign, validated and resolved (paths absolute, lists expanded into one setting each). */
export interface CampaignConfig {
  /** Where the config came from ('default' for the embedded campaign). */
  source: string;
  model: { path: string } & ModelDeclaration;
  data: Mutable<DataSpec> & { path: string };
  seed: number;
  stages: Stage[];
  stresses: { adversarial: AttackSpec[]; drift: DriftSpec[]; annotation: AnnotationSpec[] };
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
}

/** The stresses a config gets when it names none: all three kinds, sized to run in about a minute. */
export const DEFAULT_STRESSES = {
  adversarial: [{ attack: 'pgd', norm: 'linf', eps: [0.02, 0.05], steps: 10 }],
  drift: [{ corruption: 'gaussian_noise', severity: [2, 4] }, { corruption: 'contrast', severity: 3 }],
  annotation: [{ model: 'symmetric', rate: 0.2 }],
};

/** The list-valued key of each stress kind that expands into one setting per value (a sweep). */
const SWEEP_KEY: Record<StressKind, string[]> = { adversarial: ['eps'], drift: ['severity'], annotation: ['rate'] };

const TOP_KEYS = ['model', 'data', 'seed', 'stages', 'factorial', 'stresses', 'budgets', 'batch_size', 'bootstrap', 'abstain_below', 'explain', 'uncertainty'] as const;
const MODEL_KEYS = ['path', 'layout', 'bounds', 'preprocess', 'output', 'input', 'output_name'] as const;
const DATA_KEYS = ['kind', 'path', 'limit', 'labels', 'label_column', 'id_column', 'channels', 'class_names'] as const;
const BUDGET_KEYS = ['metric', 'stage', 'stress', 'min', 'max', 'max_drop', 'pessimistic', 'observed'] as const;

/** Reads and validates a YAML (or JSON) campaign file. */
export function loadConfig(file: string): CampaignConfig {
  const raw = readYamlFile(file);
  return resolveConfig(raw, file, path.dirname(path.resolve(file)));
}

/** Validates a config object; relative paths resolve against `baseDir`. */
export function resolveConfig(raw: unknown, source: string, baseDir: string): CampaignConfig {
  const o = asObject(raw, 'config');
  checkKeys(o, TOP_KEYS, 'config');
  const model = resolveModel(o.model, baseDir);
  const data = resolveData(o.data, baseDir);
  const seed = o.seed === undefined ? 0 : int(o.seed, 'seed', 0, Number.MAX_SAFE_INTEGER);
  const factorial = o.factorial === undefined ? false : bool(o.factorial, 'factorial');
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
    annotation: list('annotation').map((e, i) => parseAnnotationSpec(e, `stresses.annotation[${i}]`)),
  };
  const budgets = o.budgets === undefined ? [] : asArray(o.budgets, 'budgets').map((b, i) => resolveBudget(b, `budgets[${i}]`));
  return {
    source,
    model,
    data,
    seed,
    stages,
    stresses,
    budgets,
    batchSize: o.batch_size === undefined ? 256 : int(o.batch_size, 'batch_size', 1, 65536),
    bootstrap: o.bootstrap === undefined ? 1000 : int(o.bootstrap, 'bootstrap', 0, 100000),
    abstainBelow: o.abstain_below === undefined ? 0.5 : num(o.abstain_below, 'abstain_below', 0, 1),
    explain: o.explain === undefined || o.explain === null ? null : parseExplainSpec(o.explain, 'explain'),
    uncertainty: o.uncertainty === undefined || o.uncertainty === null ? null : parseUncertaintySpec(o.uncertainty, 'uncertainty', baseDir),
  };
}

/** The embedded default campaign (default model and data, all three stress kinds). */
export function defaultConfig(): CampaignConfig {
  return resolveConfig({ model: defaultAssets.model, data: defaultAssets.data }, 'default', process.cwd());
}

function resolveModel(v: unknown, baseDir: string): CampaignConfig['model'] {
  if (v === undefined) return { path: defaultAssets.model };
  if (typeof v === 'string') return { path: path.resolve(baseDir, v) };
  const o = asObject(v, 'model');
  checkKeys(o, MODEL_KEYS, 'model');
  if (typeof o.path !== 'string') throw new ConfigError(`'model.path' must be a file path`);
  const m: CampaignConfig['model'] = { path: path.resolve(baseDir, o.path) };
  if (o.layout !== undefined) m.layout = oneOf(o.layout, 'model.layout', ['NCHW', 'NHWC'] as const);
  if (o.output !== undefined) m.output = oneOf(o.output, 'model.output', ['logits', 'probabilities', 'auto'] as const);
  if (o.bounds !== undefined) {
    const b = asArray(o.bounds, 'model.bounds');
    if (b.length !== 2) throw new ConfigError(`'model.bounds' must be [low, high]`);
    m.bounds = [num(b[0], 'model.bounds[0]'), num(b[1], 'model.bounds[1]')];
  }
  if (o.preprocess !== undefined) {
    const p = asObject(o.preprocess, 'model.preprocess');
    checkKeys(p, ['scale', 'mean', 'std'], 'model.preprocess');
    m.preprocess = {
      scale: p.scale === undefined ? undefined : num(p.scale, 'model.preprocess.scale'),
      mean: p.mean === undefined ? undefined : asArray(p.mean, 'model.preprocess.mean').map((x, i) => num(x, `model.preprocess.mean[${i}]`)),
      std: p.std === undefined ? undefined : asArray(p.std, 'model.preprocess.std').map((x, i) => num(x, `model.preprocess.std[${i}]`)),
    };
  }
  if (o.input !== undefined) m.inputName = str(o.input, 'model.input');
  if (o.output_name !== undefined) m.outputName = str(o.output_name, 'model.output_name');
  return m;
}

function resolveData(v: unknown, baseDir: string): CampaignConfig['data'] {
  if (v === undefined) return { path: defaultAssets.data };
  if (typeof v === 'string') return { path: path.resolve(baseDir, v) };
  const o = asObject(v, 'data');
  checkKeys(o, DATA_KEYS, 'data');
  if (typeof o.path !== 'string') throw new ConfigError(`'data.path' must be a file or folder path`);
  const d: CampaignConfig['data'] = { path: path.resolve(baseDir, o.path) };
  if (o.kind !== undefined) d.kind = oneOf(o.kind, 'data.kind', ['npz', 'npy', 'idx', 'csv', 'images', 'jsonl'] as const);
  if (o.limit !== undefined) d.limit = int(o.limit, 'data.limit', 1, Number.MAX_SAFE_INTEGER);
  if (o.labels !== undefined) d.labels = o.labels === false ? false : path.resolve(baseDir, str(o.labels, 'data.labels'));
  if (o.label_column !== undefined) d.labelColumn = str(o.label_column, 'data.label_column');
  if (o.id_column !== undefined) d.idColumn = str(o.id_column, 'data.id_column');
  if (o.channels !== undefined) d.channels = oneOf(o.channels, 'data.channels', [1, 3] as const);
  if (o.class_names !== undefined) d.classNames = asArray(o.class_names, 'data.class_names').map((x, i) => str(x, `data.class_names[${i}]`));
  return d;
}

function resolveBudget(v: unknown, where: string): Budget {
  const o = asObject(v, where);
  checkKeys(o, BUDGET_KEYS, where);
  const b: Budget = { metric: str(o.metric, `${where}.metric`) };
  const metrics: readonly string[] = METRIC_NAMES;
  if (!metrics.includes(b.metric)) throw new ConfigError(`'${where}.metric' must be one of ${metrics.join(', ')}, got ${show(o.metric)}`);
  if (o.stage !== undefined) b.stage = oneOf(o.stage, `${where}.stage`, [...STAGES, 'factorial'] as const);
  if (o.stress !== undefined) b.stress = oneOf(o.stress, `${where}.stress`, STRESS_KINDS);
  if (o.min !== undefined) b.min = num(o.min, `${where}.min`);
  if (o.max !== undefined) b.max = num(o.max, `${where}.max`);
  if (o.max_drop !== undefined) b.max_drop = num(o.max_drop, `${where}.max_drop`);
  if (o.pessimistic !== undefined) b.pessimistic = bool(o.pessimistic, `${where}.pessimistic`);
  if (o.observed !== undefined) b.observed = bool(o.observed, `${where}.observed`);
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
function num(v: unknown, where: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`'${where}' must be a number, got ${show(v)}`);
  if (v < min || v > max) throw new ConfigError(`'${where}' must be in [${min}, ${max}], got ${v}`);
  return v;
}
function int(v: unknown, where: string, min: number, max: number): number {
  const n = num(v, where, min, max);
  if (!Number.isInteger(n)) throw new ConfigError(`'${where}' must be an integer in [${min}, ${max}], got ${v}`);
  return n;
}
function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(`'${where}' must be true or false, got ${show(v)}`);
  return v;
}
function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`'${where}' must be a non-empty string, got ${show(v)}`);
  return v;
}
function oneOf<T extends string | number>(v: unknown, where: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new ConfigError(`'${where}' must be one of ${allowed.join(', ')}, got ${show(v)}`);
  return v as T;
}
function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}
