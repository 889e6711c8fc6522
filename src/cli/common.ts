import { loadDataset } from '../data/load.js';
import type { Dataset } from '../data/dataset.js';
import { defaultChunkItems, openChunked, type ChunkedData } from '../data/chunked.js';
import { defaultAssets, defaultMeta } from '../defaults.js';
import { Model } from '../engine/model.js';
import type { EndpointModel } from '../endpoint/model.js';
import { openClassifier as openClassifierRef } from '../endpoint/open.js';
import { isEndpointUrl } from '../endpoint/options.js';
import { UsageError } from '../errors.js';
import { dataFlagSpec, dataFromFlags, dataHelp, modelFlagSpec, modelFromFlags, modelHelp, type DataRef, type ModelRef } from '../options/declarations.js';
import { numberOpt } from './args.js';

/** parseArgs entries of the model declaration (`--model`, `--layout`, `--bounds`, `--scale`, `--mean`, `--std`, `--input`, `--output`, `--output-kind`, `--model-spec`). */
export const modelFlags = modelFlagSpec();
/** parseArgs entries of the data declaration (`--data`, `--data-kind`, `--limit`, `--labels`, `--label-column`, `--id-column`, `--channels`, `--class-names`, `--delimiter`, `--data-spec`). */
export const dataFlags = dataFlagSpec();

/** `--help` lines for the two declarations, for a verb's help text. */
export function declarationHelp(which: { model?: boolean; data?: boolean } = { model: true, data: true }): string {
  return [which.model ? `Model declaration:\n${modelHelp()}` : '', which.data ? `Data declaration:\n${dataHelp()}` : ''].filter(Boolean).join('\n\n');
}

/** The model a verb's flags declare (or the embedded default). */
export function modelRef(values: Record<string, unknown>, dflt: string | undefined = defaultAssets.model): ModelRef {
  return modelFromFlags(values, dflt);
}

/** The data a verb's flags declare (or the embedded default slice). */
export function dataRef(values: Record<string, unknown>, dflt: string | undefined = defaultAssets.data): DataRef {
  return dataFromFlags(values, dflt);
}

/**
 * Opens the declared model (flags, `--model-spec`, or the embedded default) with --threads, for a
 * verb that needs the ONNX graph (gradients, training, writing a model). An endpoint URL is refused
 * in one line naming `blackBox`, what the verb's user can run on an endpoint instead.
 */
export async function openModel(values: Record<string, unknown> | string | undefined, threadsRaw?: unknown, refuse?: { verb: string; blackBox: string }): Promise<Model> {
  const threads = numberOpt('threads', threadsRaw as string | undefined, 0, { min: 0, max: 256, integer: true });
  const ref = typeof values === 'object' ? modelRef(values) : { path: values ?? defaultAssets.model };
  const { path, endpoint, ...decl } = ref as ModelRef;
  if (endpoint || isEndpointUrl(path)) throw endpointRefusal(refuse?.verb ?? 'this verb', path, refuse?.blackBox ?? "'gauntlet eval', 'gauntlet attack --attack square'");
  return Model.open(path, { ...decl, threads });
}

/** The one-line refusal of a white-box verb given an endpoint. */
export function endpointRefusal(verb: string, url: string, blackBox: string): UsageError {
  return new UsageError(`${verb}: ${url} is an endpoint, a black-box model with no gradients or graph; ${verb} needs the ONNX file. On an endpoint use ${blackBox}`);
}

/**
 * Opens the declared model for a black-box verb (predictions only): a local ONNX file in ONNX
 * Runtime, or a deployed model's URL (`--model http://HOST/v2/models/NAME`) as an EndpointModel.
 */
export async function openClassifier(values: Record<string, unknown> | string | undefined, threadsRaw?: unknown): Promise<Model | EndpointModel> {
  const threads = numberOpt('threads', threadsRaw as string | undefined, 0, { min: 0, max: 256, integer: true });
  const ref: ModelRef = typeof values === 'object' ? modelRef(values) : values !== undefined && isEndpointUrl(values) ? { path: values, endpoint: { url: values } } : { path: values ?? defaultAssets.model };
  return openClassifierRef(ref, { threads });
}

/** Loads the declared data (flags, `--data-spec`, a path, or the embedded default slice, with its class names). */
export async function openData(values: Record<string, unknown> | string | undefined, limitRaw?: string): Promise<Dataset> {
  const ref: DataRef = typeof values === 'object' ? dataRef(values) : { path: values ?? defaultAssets.data };
  const limit = limitRaw === undefined ? ref.limit : numberOpt('limit', limitRaw, 0, { min: 1, integer: true });
  const spec = limit === undefined ? ref : { ...ref, limit };
  const ds = await loadDataset(spec);
  if (ds.classNames || ref.path !== defaultAssets.data) return ds;
  return { ...ds, classNames: defaultMeta().class_names };
}

/** `openData` for chunked reading (data/chunked.ts): the same declaration, limit and default class names. */
export async function openDataChunked(values: Record<string, unknown> | string | undefined, limitRaw?: string): Promise<ChunkedData> {
  const ref: DataRef = typeof values === 'object' ? dataRef(values) : { path: values ?? defaultAssets.data };
  const limit = limitRaw === undefined ? ref.limit : numberOpt('limit', limitRaw, 0, { min: 1, integer: true });
  const spec = limit === undefined ? ref : { ...ref, limit };
  const d = await openChunked(spec);
  if (d.classNames || ref.path !== defaultAssets.data) return d;
  return { ...d, classNames: defaultMeta().class_names };
}

/** The `--chunk-items` flag of the verbs that read and write data in chunks. */
export const chunkFlags = { 'chunk-items': { type: 'string' } } as const;

/** `--help` line of `--chunk-items`. */
export const chunkHelp = '  --chunk-items N    items read (and written) at a time (default: about 4 MB of float32 inputs)';

/** Parses `--chunk-items` (default: about 4 MB of float32 inputs, see data/chunked.ts). */
export function chunkItemsOpt(raw: string | undefined, itemShape: readonly number[]): number {
  return numberOpt('chunk-items', raw, defaultChunkItems(itemShape), { min: 1, max: 1 << 30, integer: true });
}

/** Formats a number for people: 4 significant decimals. */
export function fmt(v: number, digits = 4): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}
