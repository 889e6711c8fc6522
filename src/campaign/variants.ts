/**
 * Model variants of a campaign (`models:`): the config's own model is the base; each variant is a
 * model brought by the user (`{ name, path }`, declared like the base: same layout, bounds and
 * preprocessing) or trained by Gauntlet from the base model with a training recipe (`{ name,
 * train: RECIPE }`, on the config's `train_data:`, default the shipped Fashion-MNIST training
 * slice; `val_data:` adds validation curves, PGD validation accuracy for adversarial training and
 * early stopping). Every variant runs the same cells as the base, so the report can put mitigations side
 * by side on one stress matrix.
 *
 * ```yaml
 * train_data: ./train.npz
 * models:
 *   - { name: pgd_at, train: { epochs: 2, adversarial: { method: pgd, eps: 0.1, steps: 5 } } }
 *   - { name: gce_noisy, train: { labels: { noise: { model: symmetric, rate: 0.4 } }, loss: { name: gce } } }
 *   - { name: theirs, path: ./hardened.onnx }
 * ```
 *
 * Trained variants are content-addressed artifacts: the key is the hash of (base model sha256, the
 * resolved recipe, the training data sha256, the base declaration), the model is cached as
 * `<cache>/<key>.onnx` with its training record beside it, and training checkpoints every epoch
 * into the cache — so a killed campaign never retrains a finished variant (and resumes an
 * unfinished one from its last epoch), and another campaign with the same variant reuses it.
 * The cache is `.gauntlet/variants/` in the run directory's parent (or `variant_cache:`, or
 * `GAUNTLET_VARIANT_CACHE`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { datasetHash, type Dataset } from '../data/dataset.js';
import { writeFileAtomic } from '../data/util.js';
import { Model } from '../engine/model.js';
import { ConfigError } from '../errors.js';
import type { ModelRef } from '../options/declarations.js';
import { fail, keyPath, opt, parseOptions, type ParseContext } from '../options/schema.js';
import { parseRecipe, recipeToYaml } from '../train/recipe.js';
import { modelBytes, train, type EpochRecord, type TrainProgress } from '../train/trainer.js';
import { canonical } from './canonical.js';
import type { AnnotationSpec } from '../stress/annotation/index.js';
import { parseTrainingLabels } from '../train/labels.js';

/** A variant as the config gives it. */
export interface VariantSpec {
  name: string;
  /** A model file (declared like the base model), or null for a trained variant. */
  path: string | null;
  /** The training recipe (YAML-shaped, validated), or null for a model file. */
  train: Record<string, unknown> | null;
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;

export const VARIANT_OPTIONS = {
  name: opt.string({ required: true, doc: 'the variant\u2019s name in reports and budgets (letters, digits, _ and -; not "base")' }),
  path: opt.path({ doc: 'a model file, declared like the base model' }),
  train: opt.custom<Record<string, unknown>, { doc: string }>('a training recipe (gauntlet list training)', (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, { code: 'type', value: v, expected: 'a training recipe mapping' });
    parseRecipe(v, { where: p });
    return v as Record<string, unknown>;
  }, { doc: 'a training recipe: Gauntlet trains the variant from the base model' }),
};

/** Validates `models:`. */
export function parseVariants(raw: unknown, ctx: ParseContext): VariantSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) fail(ctx, { code: 'type', value: raw, expected: 'a list of { name, path } or { name, train } entries' });
  const seen = new Set<string>();
  return raw.map((entry, i) => {
    const where = keyPath(ctx.where, i);
    const o = parseOptions(VARIANT_OPTIONS, entry, { ...ctx, where });
    if (!NAME.test(o.name) || o.name === 'base') throw new ConfigError(`'${where}.name' must be letters, digits, _ and - (starting with a letter, at most 40) and not 'base', got '${o.name}'`);
    if (seen.has(o.name)) throw new ConfigError(`'${where}.name' '${o.name}' is used twice; variant names must differ`);
    seen.add(o.name);
    if ((o.path === undefined) === (o.train === undefined)) throw new ConfigError(`'${where}' must give exactly one of 'path' (a model file) or 'train' (a recipe)`);
    return { name: o.name, path: o.path ?? null, train: o.train ?? null };
  });
}

/** How Gauntlet trained a variant (results.json and the report's model cards). */
export interface TrainingRecord {
  recipe: Record<string, unknown>;
  parent_sha256: string;
  data: { path: string; sha256: string; samples: number };
  seed: number;
  seconds: number;
  history: EpochRecord[];
  kept_epoch: number;
  stopped: string | null;
  /** The cached model file, and whether this campaign found it there instead of training. */
  cache_path: string;
  cached: boolean;
}

/** A variant ready for cells. */
export interface PreparedVariant {
  name: string;
  source: 'path' | 'train';
  path: string;
  model: Model;
  training: TrainingRecord | null;
}

export interface PrepareOptions {
  cacheDir: string;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (name: string, p: TrainProgress) => void;
}

/** The cache key of a trained variant (`base`: the model it is trained from, by sha256). */
export function variantKey(base: { sha256: string }, decl: ModelRef, recipe: Record<string, unknown>, dataSha: string): string {
  const resolved = recipeToYaml(parseRecipe(recipe));
  const { path: _p, ...declaration } = decl;
  void _p;
  return createHash('sha256').update(canonical({ base: base.sha256, recipe: resolved, data: dataSha, declaration })).digest('hex').slice(0, 24);
}

/**
 * Opens a variant: a model file with the base declaration, or a trained variant from the cache
 * (training it first, with an epoch checkpoint in the cache, when it is not there).
 */
export async function prepareVariant(v: VariantSpec, base: Model, decl: ModelRef, trainData: Dataset | null, o: PrepareOptions & { val?: Dataset | null }): Promise<PreparedVariant> {
  if (v.path) return { name: v.name, source: 'path', path: v.path, model: await Model.open(v.path, { ...decl, threads: o.threads }), training: null };
  if (!trainData) throw new ConfigError(`variant '${v.name}' is trained, but no training data was loaded`);
  const dataSha = datasetHash(trainData);
  const key = variantKey(base, decl, v.train!, trainingDataKey(dataSha, o.val ?? null));
  const { file, recordFile } = variantFiles(o.cacheDir, key);
  let record: TrainingRecord | null = null;
  if (fs.existsSync(file) && fs.existsSync(recordFile)) {
    record = { ...(JSON.parse(fs.readFileSync(recordFile, 'utf8')) as TrainingRecord), cached: true };
  } else {
    fs.mkdirSync(o.cacheDir, { recursive: true });
    const recipe = parseRecipe(v.train!);
    const r = await train(base, trainData, v.train!, { val: o.val ?? undefined, threads: o.threads, signal: o.signal, checkpoint: path.join(o.cacheDir, `${key}.ckpt.npz`), resume: true, onProgress: o.onProgress && ((p) => o.onProgress!(v.name, p)) });
    record = {
      recipe: recipeToYaml(recipe), parent_sha256: base.sha256, data: { path: trainData.name, sha256: dataSha, samples: trainData.size }, seed: recipe.seed,
      seconds: r.seconds, history: r.history, kept_epoch: r.keptEpoch, stopped: r.stopped, cache_path: file, cached: false,
    };
    await writeFileAtomic(file, modelBytes(r.model));
    await writeFileAtomic(recordFile, new TextEncoder().encode(JSON.stringify({ ...record, cached: undefined }, null, 1)));
    fs.rmSync(path.join(o.cacheDir, `${key}.ckpt.npz`), { force: true });
  }
  return { name: v.name, source: 'train', path: file, model: await Model.open(file, { ...decl, threads: o.threads }), training: { ...record, cache_path: file } };
}

/** The training data's part of a variant's key: the training data's hash, and the validation data's when there is one. */
export function trainingDataKey(trainSha: string, val: Dataset | null): string {
  return val ? `${trainSha}|val:${datasetHash(val)}` : trainSha;
}

/** A trained variant's files in the cache: the model and its training record (both there: the variant is cached). */
export function variantFiles(cacheDir: string, key: string): { file: string; recordFile: string; cached: boolean } {
  const file = path.join(cacheDir, `${key}.onnx`);
  const recordFile = path.join(cacheDir, `${key}.json`);
  return { file, recordFile, cached: fs.existsSync(file) && fs.existsSync(recordFile) };
}

/**
 * Puts a variant trained elsewhere (a queue worker) into the cache: the model file (already
 * written at `tmpModel`, its sha256 verified by the caller, renamed into place) and its training
 * record, the record last, so that the cache never holds a record without its model.
 */
export async function storeTrainedVariant(cacheDir: string, key: string, tmpModel: string, record: Omit<TrainingRecord, 'cache_path' | 'cached'>): Promise<void> {
  const { file, recordFile } = variantFiles(cacheDir, key);
  fs.renameSync(tmpModel, file);
  await writeFileAtomic(recordFile, new TextEncoder().encode(JSON.stringify({ ...record, cache_path: file }, null, 1)));
}

/** An annotation spec's keys as a recipe's YAML spells them (annotatorAccuracy → annotator_accuracy), nested. */
function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`), snakeKeys(x)]));
}

/**
 * The recipe that trains a model on the labels of a training-time annotation setting: `recipe`
 * (a trained variant's own, or the config's `retrain:` for a model given as a file) with
 * `labels: { noise: <the setting's spec> }` — the same spec, seed and draws as the recipe key
 * `labels:` would give.
 */
export function trainTimeRecipe(recipe: Record<string, unknown>, spec: AnnotationSpec & { at?: 'train' }): Record<string, unknown> {
  const { at: _at, ...noise } = spec;
  void _at;
  const labels = { noise: snakeKeys(noise) };
  // The spec must come back unchanged through the recipe's parser: a silently different noise would be the worst bug.
  const back = parseTrainingLabels(labels, 'labels', { where: 'labels' });
  if (canonical(back?.noise) !== canonical(noise)) throw new Error(`internal: training-time annotation spec ${canonical(noise)} reads back as ${canonical(back?.noise)}`);
  return { ...recipe, labels };
}

/** The variant cache a run uses: `variant_cache`, `GAUNTLET_VARIANT_CACHE`, or `.gauntlet/variants` beside the run directory. */
export function variantCacheDir(outDir: string, configured: string | null): string {
  return configured ?? process.env.GAUNTLET_VARIANT_CACHE ?? path.join(path.dirname(path.resolve(outDir)), '.gauntlet', 'variants');
}
