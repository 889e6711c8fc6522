/**
 * Checks a campaign's inputs before anything runs (and in `--dry-run`): the model opens with its
 * declaration, the data loads and fits the model's input, every value lies inside the declared
 * bounds, every label names one of the model's classes, and every ε fits the bounds. Each failure
 * is one typed error that says what to change; nothing is written.
 */
import { loadDataset } from '../data/load.js';
import { DatasetHasher, datasetHash, itemSize, type Dataset } from '../data/dataset.js';
import { openChunked, type ChunkedData } from '../data/chunked.js';
import { Model, valueRange } from '../engine/model.js';
import { openClassifier } from '../endpoint/open.js';
import { checkEndpointCampaign } from './endpoint.js';
import { ConfigError } from '../errors.js';
import { maxEps } from '../stress/adversarial/index.js';
import type { CampaignConfig } from './config.js';
import { checkTextCampaign, openCellEmbedding } from './text.js';

/** What the checks saw, for the plan printout. */
export interface InputCheck {
  model: { path: string; sha256: string; outputKind: string; outputKindReason: string; inputName: string; outputName: string; layout: string; bounds: [number, number] };
  data: { name: string; sha256: string; items: number; itemShape: number[]; range: [number, number] | null; labelled: boolean };
  classes: number;
  /** Class names by label when the data names them (image folders: the folder names in label order). */
  classNames: readonly string[] | null;
  /** A text model: its token ids and, with wrt: embedding, where it is attacked and the token scale (one line). */
  text?: string;
}

/** Opens the model and data of `config` and checks them against each other. Throws the first problem. */
export async function checkCampaignInputs(config: CampaignConfig, threads = 0): Promise<InputCheck> {
  const { path: modelPath, ...decl } = config.model;
  const d = await openChunked(config.data);
  const model = await openClassifier(config.model, { threads });
  try {
    const { ds, sha256 } = await scanData(d, !!model.decl.ids);
    checkEndpointCampaign(config, model);
    checkTextCampaign(config, model);
    model.checkData(ds);
    const probeN = Math.min(ds.size, 4);
    const per = ds.itemShape.reduce((a, b) => a * b, 1);
    const probe = await model.predictItems(ds.x.subarray(0, probeN * per), probeN, { batchSize: probeN });
    const K = probe.numClasses;
    model.checkData(ds, K);
    // A text model (wrt: embedding) is attacked in embedding space: ε is bounded by the box that
    // holds the embedding table's values, over T positions of D values.
    const emb = config.stresses.adversarial.length ? await openCellEmbedding(model, config.seed, threads) : null;
    let text: string | undefined;
    if (model instanceof Model && model.decl.ids) text = `token ids (${model.decl.ids})${emb ? `; attacked in embedding space at ${emb.view.lookup.output} (table ${emb.view.lookup.table} [${emb.view.vocab}, ${emb.view.dim}]), projected to the nearest tokens; ε is a distance between embeddings: a token to its nearest other token is L2 ${+emb.scale.l2.toPrecision(4)}, L∞ ${+emb.scale.linf.toPrecision(4)}` : ''}`;
    if (emb) {
      try {
        config.stresses.adversarial.forEach((a, i) => {
          const top = maxEps(emb.view.tail, a.norm, per * emb.view.dim);
          const bad = (Array.isArray(a.eps) ? a.eps : [a.eps]).find((e) => e > top + 1e-12);
          if (bad !== undefined) throw new ConfigError(`'stresses.adversarial[${i}].eps' must be in [0, ${+top.toPrecision(6)}] for ${a.norm} in embedding space (the diameter of the box holding the embedding table's values; a token to its nearest other token is L2 ${+emb.scale.l2.toPrecision(4)}, L∞ ${+emb.scale.linf.toPrecision(4)}), got ${bad}`);
        });
      } finally {
        await emb.view.close();
      }
    }
    if (!emb) config.stresses.adversarial.forEach((a, i) => {
      const top = maxEps(model, a.norm, per);
      const list = Array.isArray(a.eps) ? a.eps : [a.eps];
      const bad = list.find((e) => e > top + 1e-12);
      if (bad !== undefined) {
        throw new ConfigError(
          `'stresses.adversarial[${i}].eps' must be in [0, ${+top.toPrecision(6)}] for ${a.norm} on the data bounds [${model.decl.bounds.join(', ')}], got ${bad}` +
            (model.decl.bounds[1] - model.decl.bounds[0] > 2 ? ' (ε is in data-domain units: with bounds [0, 255] write 8, not 8/255)' : ''),
        );
      }
    });
    // Variants: model files open with the base declaration and fit the data with the same classes;
    // the training data of trained variants fits the model; every recipe ε fits the bounds.
    for (const [i, v] of config.variants.entries()) {
      if (v.path) {
        const vm = await Model.open(v.path, { ...decl, threads });
        try {
          vm.checkData(ds);
          const vp = await vm.predictItems(ds.x.subarray(0, probeN * per), probeN, { batchSize: probeN });
          if (vp.numClasses !== K) throw new ConfigError(`'models[${i}]' (${v.name}): ${v.path} has ${vp.numClasses} classes, the base model ${K}`);
        } finally {
          await vm.close();
        }
      } else {
        const adv = (v.train!.adversarial ?? null) as { eps?: number } | null;
        const range = model.decl.bounds[1] - model.decl.bounds[0];
        if (v.train!.early_stop && !config.valData) throw new ConfigError(`'models[${i}].train.early_stop' needs validation data: add val_data: to the config`);
        if (adv && typeof adv.eps === 'number' && adv.eps > range) throw new ConfigError(`'models[${i}].train.adversarial.eps' ${adv.eps} is larger than the data bounds' range [${model.decl.bounds.join(', ')}]`);
      }
    }
    if (config.trainData) {
      const td = await loadDataset(config.trainData);
      if (!td.labels) throw new ConfigError(`'train_data' ${td.name} has no labels; trained variants need labelled training data`);
      model.checkData(td, K);
    }
    if (config.valData) {
      const vd = await loadDataset(config.valData);
      if (!vd.labels) throw new ConfigError(`'val_data' ${vd.name} has no labels`);
      model.checkData(vd, K);
    }
    const r = valueRange(ds.x);
    return {
      model: {
        path: modelPath,
        sha256: model.sha256,
        outputKind: model.outputKind ?? 'unknown',
        outputKindReason: model.outputKindReason,
        inputName: model.decl.inputName,
        outputName: model instanceof Model ? model.sourceOutput : model.decl.outputName,
        ...(model instanceof Model && model.binaryHead ? { binaryHead: model.binaryHead } : {}),
        layout: model.decl.layout,
        bounds: model.decl.bounds,
      },
      data: { name: ds.name, sha256, items: ds.size, itemShape: [...ds.itemShape], range: r ? [r.min, r.max] : null, labelled: ds.labels !== null },
      classes: K,
      classNames: ds.classNames,
      ...(text ? { text } : {}),
    };
  } finally {
    await model.close();
  }
}

/** The check as lines for people (the plan printout). */
export function describeInputs(c: InputCheck): string[] {
  const range = c.data.range ? `values in [${+c.data.range[0].toPrecision(4)}, ${+c.data.range[1].toPrecision(4)}]` : 'no values';
  const lines = [
    `model: ${c.model.path}  sha256 ${c.model.sha256.slice(0, 12)}…  input ${c.model.inputName} (${c.model.layout}), output ${c.model.outputName} (${c.model.outputKind}${c.model.outputKindReason ? `: ${c.model.outputKindReason}` : ''}), ${c.classes} classes`,
    `data:  ${c.data.name}  sha256 ${c.data.sha256.slice(0, 12)}…  ${c.data.items} items of [${c.data.itemShape.join(', ')}], ${range}${c.text ? '' : ` (bounds [${c.model.bounds.join(', ')}])`}${c.data.labelled ? '' : ', unlabelled'}`,
  ];
  if (c.text) lines.push(`text:  ${c.text}`);
  if (c.classNames) {
    const shown = c.classNames.slice(0, 20).map((n, i) => `${i}=${n}`);
    lines.push(`classes: ${shown.join(', ')}${c.classNames.length > 20 ? `, … (${c.classNames.length} in all)` : ''}`);
  }
  return lines;
}

/**
 * The data as the checks see them, read in chunks when the file allows it (data/chunked.ts): the
 * first items (the probes), the values' range (all the bounds check looks at: `x` holds the first
 * items, then the minimum and maximum) and the hash, so a large set is not held whole before the
 * run. Token-id data (`ids` models check every id) and sources that are not streamed are held whole.
 */
async function scanData(d: ChunkedData, tokenIds: boolean): Promise<{ ds: Dataset; sha256: string }> {
  const per = itemSize(d);
  const meta = { name: d.name, size: d.size, itemShape: [...d.itemShape], labels: d.labels, classNames: d.classNames, ids: d.ids, metadata: null, extras: d.extras, featureNames: d.featureNames };
  if (!d.streamed || tokenIds) {
    // Held whole: one chunk of every item (a view of the loaded set when it was loaded whole).
    let x: Float32Array = new Float32Array(0);
    for await (const c of d.chunks(Math.max(1, d.size))) x = c.x;
    const ds: Dataset = { ...meta, x };
    return { ds, sha256: datasetHash(ds) };
  }
  const head = new Float32Array(Math.min(d.size, 4) * per);
  const h = new DatasetHasher(d.size, d.itemShape, d.labels !== null);
  let min = Infinity;
  let max = -Infinity;
  for await (const c of d.chunks(Math.max(4, Math.floor((1 << 20) / Math.max(1, per))))) {
    h.update(c.x);
    if (c.start === 0) head.set(c.x.subarray(0, head.length));
    const r = valueRange(c.x);
    if (r) (min = Math.min(min, r.min)), (max = Math.max(max, r.max));
  }
  const x = new Float32Array(head.length + (min <= max ? 2 : 0));
  x.set(head);
  if (min <= max) x.set([min, max], head.length);
  return { ds: { ...meta, x }, sha256: h.digest(d.labels) };
}
