import { loadDataset } from '../data/load.js';
import type { Dataset } from '../data/dataset.js';
import { defaultAssets, defaultMeta } from '../defaults.js';
import { Model } from '../engine/model.js';
import { numberOpt } from './args.js';

/** Opens --model (or the embedded default) with --threads. */
export async function openModel(modelPath: string | undefined, threadsRaw: string | undefined): Promise<Model> {
  const threads = numberOpt('threads', threadsRaw, 0, { min: 0, max: 256, integer: true });
  return Model.open(modelPath ?? defaultAssets.model, { threads });
}

/** Loads --data (or the embedded default slice, with its class names). */
export async function openData(dataPath: string | undefined, limitRaw?: string): Promise<Dataset> {
  const limit = limitRaw === undefined ? undefined : numberOpt('limit', limitRaw, 0, { min: 1, integer: true });
  if (dataPath !== undefined) return loadDataset({ path: dataPath, limit });
  const ds = await loadDataset({ path: defaultAssets.data, limit });
  return ds.classNames ? ds : { ...ds, classNames: defaultMeta().class_names };
}

/** Formats a number for people: 4 significant decimals. */
export function fmt(v: number, digits = 4): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}
