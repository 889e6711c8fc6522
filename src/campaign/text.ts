/**
 * Campaigns on text classifiers: a model whose data input holds integer token ids. With `wrt:
 * embedding` in its declaration, its adversarial cells run in embedding space with the attack code
 * of `gauntlet attack --model-wrt embedding` (stress/adversarial/embedding.ts): the attack moves
 * the embeddings of the (drifted) token ids, each result is projected to the nearest tokens, and
 * the cell's accuracy is the whole model's on those token ids; ε is a distance between embeddings,
 * to be read against the typical distance between a token and its nearest other token (the scale,
 * in results.json `text.scale`). Its annotation-noise cells run as for any model.
 *
 * Stresses that make no sense for token ids are refused before anything runs, one line each:
 * image corruptions and the shifts that change values (mean, scale, noise, missing, quantize)
 * would turn ids into numbers that name no token. The shifts that only choose items (prior: by
 * label; subpopulation: by a token position's id) keep every id whole and run.
 */
import { EmbeddingView, type EmbeddingScale } from '../engine/embedding.js';
import type { Classifier } from '../engine/classifier.js';
import { Model } from '../engine/model.js';
import { ConfigError } from '../errors.js';
import { Rng } from '../rng.js';
import { isTrainTime, type CampaignConfig } from './config.js';

/** Shifts that only choose (or weigh) items, leaving every value — every token id — as it is. */
export const TEXT_SHIFTS: readonly string[] = ['prior', 'subpopulation'];

/** What results.json says of a text model's campaign (`text`). */
export interface TextSummary {
  /** The data input holds integer token ids of this type. */
  ids: 'int64' | 'int32';
  /** Where the adversarial cells attack: 'embedding' (the lookup's output), or null when not declared. */
  wrt: 'embedding' | null;
  /** The embedding lookup: its output, table, vocabulary size and dimension (null without wrt: embedding). */
  embedding: { output: string; table: string; vocab: number; dim: number } | null;
  /** A token to its nearest other token (medians): what an ε in embedding space is relative to. */
  scale: EmbeddingScale | null;
  eps_units: string;
}

/** The embedding view of a text model and its scale, shared by a model's cells (CellContext.embedding). */
export interface CellEmbedding {
  view: EmbeddingView;
  scale: EmbeddingScale;
}

/** A model whose data input holds token ids (an ONNX model; an endpoint is never one). */
export function tokenModel(model: Classifier): Model | null {
  return model instanceof Model && model.decl.ids ? model : null;
}

/** The generator the scale's sample of rows draws from (vocabularies over 1,024 rows): the same for every cell and for results.json. */
export function scaleRng(seed: number): Rng {
  return new Rng(seed).fork('text|embedding-scale');
}

/** Opens the embedding view of a `wrt: embedding` model and measures its scale; null for any other model. */
export async function openCellEmbedding(model: Classifier, seed: number, threads?: number): Promise<CellEmbedding | null> {
  const m = tokenModel(model);
  if (!m || !m.embedding) return null;
  const view = await EmbeddingView.open(m, { threads });
  try {
    return { view, scale: await view.scale(scaleRng(seed)) };
  } catch (e) {
    await view.close();
    throw e;
  }
}

/**
 * Refuses, before anything runs, what a campaign cannot do on a token-id model: attacks without
 * `wrt: embedding`, corruptions and value-changing shifts, explanations, and training.
 */
export function checkTextCampaign(config: CampaignConfig, model: Classifier): void {
  const m = tokenModel(model);
  if (!m) return;
  const what = `${m.label} reads integer token ids (input ${m.decl.inputName}, ${m.decl.ids})`;
  if (m.decl.wrt !== 'embedding') {
    const a = config.stresses.adversarial[0];
    if (a) throw new ConfigError(`'stresses.adversarial[0]' (${a.attack}): ${what}, which cannot be perturbed continuously; declare 'wrt: embedding' under 'model:' to attack in embedding space, projected back to tokens`);
  }
  config.stresses.drift.forEach((d, i) => {
    if ('corruption' in d) throw new ConfigError(`'stresses.drift[${i}]' (corruption ${d.corruption}): ${what}; image corruptions act on pixel values in [0, 1], not on token ids (the shifts ${TEXT_SHIFTS.join(' and ')} choose items and run on text)`);
    if (!TEXT_SHIFTS.includes(d.shift)) throw new ConfigError(`'stresses.drift[${i}]' (shift ${d.shift}): ${what}; the ${d.shift} shift changes values, which would turn token ids into numbers that name no token (the shifts ${TEXT_SHIFTS.join(' and ')} choose items and run on text)`);
  });
  if (config.explain) throw new ConfigError(`'explain': ${what}; explanations in a campaign attribute to input values, which token ids are not (remove 'explain' for a text model)`);
  if (config.stresses.annotation.some(isTrainTime)) throw new ConfigError(`'stresses.annotation' (at: train): ${what}; training-time label noise retrains the model, and training does not take token-id models (test-time annotation noise runs)`);
  const trained = config.variants.find((v) => v.train);
  if (trained) throw new ConfigError(`'models' (${trained.name}): ${what}; trained variants are not made for token-id models (variants given as files run)`);
}

/**
 * The `text` entry of results.json for a token-id model (null for any other model); `e` is its
 * embedding view with its scale (`openCellEmbedding`), null without `wrt: embedding`.
 */
export function textSummary(model: Classifier, e: CellEmbedding | null): TextSummary | null {
  const m = tokenModel(model);
  if (!m) return null;
  return {
    ids: m.decl.ids!,
    wrt: m.embedding ? 'embedding' : null,
    embedding: e ? { output: e.view.lookup.output, table: e.view.lookup.table, vocab: e.view.vocab, dim: e.view.dim } : null,
    scale: e?.scale ?? null,
    eps_units: e ? 'distance in embedding space (L∞: per coordinate; L2: over the whole sequence), read against scale' : 'no adversarial cells (token ids without wrt: embedding)',
  };
}
