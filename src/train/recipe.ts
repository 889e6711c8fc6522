/**
 * The training recipe, declared once: YAML keys (snake_case), command-line flags (kebab-case),
 * `--help` lines and `gauntlet list` rows all come from `RECIPE_OPTIONS` and the per-name maps
 * of its nested `optimizer`, `schedule` and `loss` objects.
 *
 * ```yaml
 * init: keep                  # or reinit: PyTorch's default initialisation, drawn from the seed
 * epochs: 2
 * batch_size: 128
 * shuffle: true
 * optimizer: { name: sgd, lr: 0.05, momentum: 0.9, nesterov: false, weight_decay: 0 }  # or adamw { lr, betas, weight_decay, eps }
 * schedule: { name: constant }  # step { every, gamma } | cosine | onecycle { max_lr }; warmup_epochs
 * clip_grad_norm: null
 * loss: { name: ce }            # ce | label_smoothing { eps } | gce { q } | sce { alpha, beta } | bootstrap { beta, mode } | elr { lambda, beta }
 * labels: null                  # { noise: { model: symmetric, rate: 0.4 } } | { annotators: 5, annotator_accuracy: 0.7, aggregate: majority | dawid_skene | soft }
 * adversarial: null             # { method: pgd | fgsm_rs, eps, steps, step_size, random_start, norm, curriculum: { eps: [a, b], steps: [a, b], epochs } }
 * augment: null                 # { corruptions: [gaussian_noise, contrast], severity: [1, 3], fraction: 0.5 }
 * early_stop: null              # { on: val_accuracy | pgd_val_accuracy, patience: 2 }
 * ensemble: null                # { members: 3 }: K members from seeds seed, seed+1, …, one combined model
 * clean_labels: null            # { folds: 4, then: retrain }: cross-fitted confident-learning audit, retrain on kept items
 * coteaching: null              # { forget_rate: 0.4 | audit, warmup_epochs: 10 }: two networks teach each other
 * freeze_bn: false
 * freeze: []                    # parameter name globs that do not train
 * train_only: []                # only these train
 * seed: 0
 * ```
 */
import { fail, flagValues, helpLines, opt, parseOptions, type OptionMap, type OptionsOf, type ParseContext } from '../options/schema.js';
import { ADVERSARIAL_TRAINING_OPTION, EARLY_STOP_OPTION } from './adversarial.js';
import { AUGMENT_OPTION } from './augment.js';
import { ENSEMBLE_OPTION } from './ensemble.js';
import { CLEAN_LABELS_OPTION } from './clean.js';
import { GRADIENT_OPTIONS } from '../autodiff/options.js';
import { COTEACHING_OPTION } from './coteaching.js';
import { TRAINING_LABELS_OPTION } from './labels.js';
import type { OptimizerSpec } from './optim.js';
import type { ScheduleSpec } from './schedule.js';

const lr = (dflt: number) => opt.number({ min: 0, minExclusive: true, default: dflt, doc: 'learning rate', metavar: 'LR' });

/** Optimizer options by name (defaults: SGD as the recipe, AdamW as torch.optim.AdamW). */
export const OPTIMIZERS = {
  sgd: {
    name: opt.choice(['sgd'] as const, { doc: 'torch.optim.SGD', required: true }),
    lr: lr(0.05),
    momentum: opt.number({ min: 0, max: 1, maxExclusive: true, default: 0.9, doc: 'momentum (dampening 0)' }),
    nesterov: opt.boolean({ default: false, doc: 'Nesterov momentum' }),
    weight_decay: opt.number({ min: 0, default: 0, doc: 'L2 penalty added to the gradient' }),
  },
  adamw: {
    name: opt.choice(['adamw'] as const, { doc: 'torch.optim.AdamW', required: true }),
    lr: lr(1e-3),
    betas: opt.list(opt.number({ min: 0, max: 1, maxExclusive: true, doc: 'beta' }), { minLength: 2, maxLength: 2, default: [0.9, 0.999], doc: 'moment decay rates' }),
    weight_decay: opt.number({ min: 0, default: 0.01, doc: 'decoupled weight decay' }),
    eps: opt.number({ min: 0, minExclusive: true, default: 1e-8, doc: 'added to the root of the second moment' }),
  },
} satisfies Record<string, OptionMap>;

const warmup = opt.integer({ min: 0, default: 0, doc: 'epochs of linear warm-up (multiplied in, torch ChainedScheduler + LinearLR)' });
/** Schedule options by name. */
export const SCHEDULES = {
  constant: { name: opt.choice(['constant'] as const, { doc: 'constant lr', required: true }), warmup_epochs: warmup },
  step: {
    name: opt.choice(['step'] as const, { doc: 'StepLR per epoch', required: true }),
    every: opt.integer({ min: 1, default: 1, doc: 'epochs between decays' }),
    gamma: opt.number({ min: 0, minExclusive: true, default: 0.1, doc: 'decay factor' }),
    warmup_epochs: warmup,
  },
  cosine: { name: opt.choice(['cosine'] as const, { doc: 'CosineAnnealingLR to 0 over the run, per step', required: true }), warmup_epochs: warmup },
  onecycle: {
    name: opt.choice(['onecycle'] as const, { doc: 'OneCycleLR (torch defaults), per step', required: true }),
    max_lr: opt.number({ min: 0, minExclusive: true, doc: "peak lr (default: the optimizer's lr)" }),
  },
} satisfies Record<string, OptionMap>;

/** Loss options by name. */
export const LOSSES = {
  ce: { name: opt.choice(['ce'] as const, { doc: 'cross-entropy, batch mean', required: true }) },
  label_smoothing: {
    name: opt.choice(['label_smoothing'] as const, { doc: "cross-entropy on (1 − eps)·one-hot + eps/K (F.cross_entropy's label_smoothing)", required: true }),
    eps: opt.number({ min: 0, max: 1, maxExclusive: true, default: 0.1, doc: 'smoothing' }),
  },
  gce: {
    name: opt.choice(['gce'] as const, { doc: 'generalized cross-entropy (1 − p_y^q)/q (Zhang & Sabuncu 2018)', required: true }),
    q: opt.number({ min: 0, max: 1, minExclusive: true, default: 0.7, doc: 'q: CE as q → 0, MAE at 1' }),
  },
  sce: {
    name: opt.choice(['sce'] as const, { doc: 'symmetric cross-entropy α·CE + β·RCE (Wang et al. 2019)', required: true }),
    alpha: opt.number({ min: 0, default: 0.1, doc: 'weight of CE' }),
    beta: opt.number({ min: 0, default: 1, doc: 'weight of reverse CE' }),
  },
  bootstrap: {
    name: opt.choice(['bootstrap'] as const, { doc: "CE against β·label + (1 − β)·prediction (Reed et al. 2015)", required: true }),
    beta: opt.number({ min: 0, max: 1, default: 0.95, doc: 'weight of the given label (paper: 0.95 soft, 0.8 hard)' }),
    mode: opt.choice(['soft', 'hard'] as const, { default: 'soft', doc: 'soft: the predicted distribution; hard: its one-hot argmax' }),
  },
  elr: {
    name: opt.choice(['elr'] as const, { doc: 'CE + λ·log(1 − ⟨running target, p⟩), early-learning regularisation (Liu et al. 2020)', required: true }),
    lambda: opt.number({ min: 0, default: 3, doc: 'weight of the regulariser' }),
    beta: opt.number({ min: 0, max: 1, maxExclusive: true, default: 0.7, doc: 'running-target momentum' }),
  },
} satisfies Record<string, OptionMap>;

type ByName<T extends Record<string, OptionMap>> = { [K in keyof T]: OptionsOf<T[K]> }[keyof T];

/** A `{ name: …, ... }` object checked against the map its name selects. */
function named<T extends Record<string, OptionMap>>(what: string, maps: T, dflt: Record<string, unknown>, doc: string) {
  const names = Object.keys(maps);
  return opt.custom<ByName<T>, { default: ByName<T>; doc: string; metavar: string }>(
    `a mapping with name: ${names.join(' | ')}`,
    (v, p, ctx: ParseContext) => {
      const o = typeof v === 'string' ? { name: v } : v;
      if (typeof o !== 'object' || o === null || Array.isArray(o)) fail(p, { code: 'type', value: v, expected: `a mapping with name: ${names.join(' | ')}` });
      const name = (o as Record<string, unknown>).name;
      const map = typeof name === 'string' ? maps[name] : undefined;
      if (!map) fail(`${p}.name`, { code: 'choice', value: name, expected: `one of ${names.join(', ')}` });
      return parseOptions(map, o, { ...ctx, where: p }) as ByName<T>;
    },
    { default: parseOptions(maps[dflt.name as string]!, dflt, { where: what }) as ByName<T>, doc, metavar: names.join('|') },
    (s) => ({ name: s }),
  );
}

/** Every recipe key. */
export const RECIPE_OPTIONS = {
  init: opt.choice(['keep', 'reinit'] as const, { default: 'keep', doc: "keep: train from the model's weights; reinit: PyTorch's default initialisation from the seed" }),
  epochs: opt.integer({ min: 1, max: 100000, default: 2, doc: 'passes over the training data' }),
  batch_size: opt.integer({ min: 1, max: 65536, default: 128, doc: 'items per step (the last batch of an epoch may be smaller, as DataLoader drop_last=False)', metavar: 'B' }),
  shuffle: opt.boolean({ default: true, doc: 'reshuffle every epoch (seeded); --no-shuffle keeps data order', flag: 'no-shuffle' }),
  optimizer: named('optimizer', OPTIMIZERS, { name: 'sgd' }, 'sgd { lr, momentum, nesterov, weight_decay } | adamw { lr, betas, weight_decay, eps }; --optimizer NAME takes its defaults'),
  schedule: named('schedule', SCHEDULES, { name: 'constant' }, 'constant | step { every, gamma } | cosine | onecycle { max_lr }; warmup_epochs'),
  clip_grad_norm: opt.custom<number | null, { default: null; doc: string; metavar: string }>(
    'null or a number in (0, inf)',
    (v, p) => (v === null ? null : typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fail(p, { code: 'range', value: v, expected: 'null or a number in (0, inf)' })),
    { default: null, doc: 'clip the total gradient L2 norm (clip_grad_norm_)', metavar: 'X' },
    (s) => (s === 'null' ? null : Number(s)),
  ),
  loss: named('loss', LOSSES, { name: 'ce' }, 'ce | label_smoothing { eps } | gce { q } | sce { alpha, beta } | bootstrap { beta, mode } | elr { lambda, beta }'),
  labels: TRAINING_LABELS_OPTION,
  adversarial: ADVERSARIAL_TRAINING_OPTION,
  augment: AUGMENT_OPTION,
  early_stop: EARLY_STOP_OPTION,
  ensemble: ENSEMBLE_OPTION,
  clean_labels: CLEAN_LABELS_OPTION,
  coteaching: COTEACHING_OPTION,
  freeze_bn: opt.boolean({ default: false, doc: 'BatchNorm keeps its inference statistics (scale and bias still train)' }),
  maxpool_ties: GRADIENT_OPTIONS.maxpool_ties,
  freeze: opt.list(opt.string({ doc: 'glob' }), { default: [], doc: 'parameter name globs that do not train', metavar: 'GLOB,...' }),
  train_only: opt.list(opt.string({ doc: 'glob' }), { default: [], doc: 'only parameters matching these globs train', metavar: 'GLOB,...' }),
  seed: opt.integer({ min: 0, default: 0, doc: 'seed of initialisation, shuffling and dropout' }),
} satisfies OptionMap;

export type Recipe = Omit<OptionsOf<typeof RECIPE_OPTIONS>, 'clipGradNorm'> & { clipGradNorm: number | null };

/** Flags lifted from nested keys: `--lr` is optimizer.lr. */
const LR_FLAG = { lr: { ...OPTIMIZERS.sgd.lr, default: undefined, defaultText: '0.05 (sgd), 0.001 (adamw)' } } as OptionMap;

/** Checks a YAML-shaped recipe (snake_case; camelCase from TypeScript with `camelCase: true`). */
export function parseRecipe(raw: unknown = {}, ctx: Partial<ParseContext> = {}): Recipe {
  const r = parseOptions(RECIPE_OPTIONS, raw ?? {}, { where: ctx.where ?? '', ...ctx }) as Recipe;
  return r;
}

/** The recipe flags' parseArgs entries. */
export function recipeFlagSpec(): Record<string, { type: 'string' | 'boolean' }> {
  const out: Record<string, { type: 'string' | 'boolean' }> = { lr: { type: 'string' } };
  for (const [key, def] of Object.entries(RECIPE_OPTIONS)) {
    if (def.flag === false) continue;
    out[typeof def.flag === 'string' ? def.flag : key.replace(/_/g, '-')] = { type: def.isBoolean ? 'boolean' : 'string' };
  }
  return out;
}

/**
 * Merges the recipe flags over a YAML recipe (raw, snake_case) into a raw recipe: a flag wins;
 * `--optimizer NAME` replaces the optimizer object (its defaults), `--lr` sets its lr;
 * `--no-shuffle` sets shuffle: false.
 */
export function mergeRecipeFlags(yaml: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  const { shuffle: _s, ...rest } = RECIPE_OPTIONS;
  void _s;
  const fromFlags = flagValues(rest as OptionMap, values);
  const out: Record<string, unknown> = { ...yaml };
  for (const [k, v] of Object.entries(fromFlags)) if (k !== 'optimizer') out[k] = v;
  if (values['no-shuffle']) out.shuffle = false;
  if (fromFlags.optimizer !== undefined) out.optimizer = fromFlags.optimizer;
  if (values.lr !== undefined) {
    const v = LR_FLAG.lr!.fromText(values.lr as string, '--lr');
    LR_FLAG.lr!.check(v, '--lr', { where: '--' });
    const o = out.optimizer;
    out.optimizer = { ...(typeof o === 'string' ? { name: o } : typeof o === 'object' && o ? o : { name: 'sgd' }), lr: v };
  }
  return out;
}

/** `--help` lines for the recipe flags. */
export function recipeHelp(): string {
  return helpLines({ ...RECIPE_OPTIONS, ...LR_FLAG } as OptionMap, 22);
}

/** The recipe as YAML would write it (snake_case keys, every default filled in): what metadata records. */
export function recipeToYaml(r: Recipe): Record<string, unknown> {
  const snake = (o: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v && typeof v === 'object' && !Array.isArray(v) ? snake(v as Record<string, unknown>) : v]));
  return snake(r as unknown as Record<string, unknown>);
}

/** The optimizer spec of a recipe. */
export function optimizerSpec(r: Recipe): OptimizerSpec {
  const o = r.optimizer as Record<string, unknown>;
  return o.name === 'sgd'
    ? { name: 'sgd', lr: o.lr as number, momentum: o.momentum as number, nesterov: o.nesterov as boolean, weightDecay: o.weightDecay as number }
    : { name: 'adamw', lr: o.lr as number, betas: o.betas as [number, number], weightDecay: o.weightDecay as number, eps: o.eps as number };
}

/** The schedule spec of a recipe, and its warm-up. */
export function scheduleSpec(r: Recipe): { spec: ScheduleSpec; warmupEpochs: number } {
  const s = r.schedule as Record<string, unknown>;
  return { spec: { name: s.name as ScheduleSpec['name'], every: s.every as number | undefined, gamma: s.gamma as number | undefined, maxLr: s.maxLr as number | undefined }, warmupEpochs: (s.warmupEpochs as number | undefined) ?? 0 };
}

