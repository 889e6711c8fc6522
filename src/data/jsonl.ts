/**
 * A JSONL manifest of images: one JSON object per line,
 *
 *     {"path": "img/0001.png", "label": "Coat", "id": "a1", "annotator": 7}
 *
 * - `path` (required): the image, relative to the manifest's folder (absolute paths are used as
 *   they are). Decoded as the image-folder loader does: NCHW in [0, 1], one shared size.
 * - `label`: an integer index or a class-name string; either every line has one or none does.
 *   String labels become `classNames` sorted by code point unless the `classNames` option gives
 *   the order; a number is always an index, `"3"` is a name (see `resolveLabels`).
 * - `id`: a unique string or number; either every line has one or none does (then ids are the
 *   item indices).
 * - Any other fields become that item's `metadata` (null for items with none).
 *
 * Blank lines are skipped. Errors name the manifest and the line.
 */
import path from 'node:path';
import { DataError } from '../errors.js';
import { makeDataset, type Dataset } from './dataset.js';
import { decodeImageFiles, type ImageFile } from './decode.js';
import { resolveLabels } from './labels.js';
import { checkUniqueIds, readDataFile } from './util.js';

/** Options for `loadJsonl`. */
export interface JsonlOptions {
  /** Output channels: 1 (gray) or 3 (RGB). Default: 1 when every image is grayscale, else 3. */
  readonly channels?: 1 | 3;
  /** Class names in label order (default: sorted distinct string labels). */
  readonly classNames?: readonly string[];
  /** Keep only the first `limit` items. */
  readonly limit?: number;
}

/** Loads a JSONL image manifest as a Dataset (see the module comment). */
export async function loadJsonl(manifest: string, options: JsonlOptions = {}): Promise<Dataset> {
  const text = (await readDataFile(manifest)).toString('utf-8').replace(/^\uFEFF/, '');
  const dir = path.dirname(manifest);
  const limit = options.limit ?? Infinity;
  const files: ImageFile[] = [];
  const lineNos: number[] = [];
  const rawLabels: (string | number | undefined)[] = [];
  const rawIds: (string | undefined)[] = [];
  const metadata: (Record<string, unknown> | null)[] = [];
  const lines = text.split('\n');
  for (let k = 0; k < lines.length && files.length < limit; k++) {
    const line = lines[k]!.trim();
    if (line === '') continue;
    const at = `${manifest}: line ${k + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new DataError(`${at}: bad JSON (${(err as Error).message})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new DataError(`${at}: expected a JSON object`);
    const { path: rel, label, id, ...rest } = obj as Record<string, unknown>;
    if (typeof rel !== 'string' || rel === '') throw new DataError(`${at}: missing 'path' (a non-empty string)`);
    if (label !== undefined && typeof label !== 'string' && typeof label !== 'number') {
      throw new DataError(`${at}: 'label' must be an integer or a class name, got ${JSON.stringify(label)}`);
    }
    if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') throw new DataError(`${at}: 'id' must be a string or number`);
    files.push({ path: path.resolve(dir, rel), label: `${at}: image '${rel}'` });
    lineNos.push(k + 1);
    rawLabels.push(label);
    rawIds.push(id === undefined ? undefined : String(id));
    metadata.push(Object.keys(rest).length > 0 ? rest : null);
  }
  if (files.length === 0) throw new DataError(`${manifest}: no items (the manifest has no non-blank lines)`);

  const where = (i: number): string => `${manifest}: line ${lineNos[i]}`;
  const allOrNone = <T>(values: readonly (T | undefined)[], field: string): T[] | null => {
    const missing = values.indexOf(undefined);
    if (missing < 0) return values as T[];
    const present = values.findIndex((v) => v !== undefined);
    if (present >= 0) throw new DataError(`${where(missing)}: no '${field}', though line ${lineNos[present]} has one`);
    return null;
  };
  const raw = allOrNone(rawLabels, 'label');
  const resolved = raw ? resolveLabels(raw, options.classNames ?? null, (i) => `${where(i)}: 'label'`, true) : null;
  const ids = allOrNone(rawIds, 'id');
  if (ids) checkUniqueIds(ids, manifest, 'id');

  const { x, itemShape } = await decodeImageFiles(files, { channels: options.channels });
  return makeDataset({
    name: path.basename(manifest),
    itemShape,
    x,
    labels: resolved?.labels ?? null,
    classNames: resolved?.classNames ?? options.classNames ?? null,
    ids,
    metadata: metadata.some((m) => m !== null) ? metadata : null,
  });
}
