/**
 * One entry point for every data source: `loadDataset('test.npz')` or
 * `loadDataset({ kind: 'csv', path: 'iris.csv', labelColumn: 'species' })`.
 *
 * Without `kind`, the kind comes from the path: a directory → `images`; `.npz`, `.npy`, `.csv`
 * (`.tsv` → csv with tabs), `.jsonl`; `.idx*`, `*-ubyte` and other `.gz` names → `idx`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkRange, DataError, UsageError } from '../errors.js';
import { makeDataset, type Dataset, type ExtraArray } from './dataset.js';
import { featureIndices, withFeatureNames, type FeatureRef } from './features.js';
import { loadCsv } from './csv.js';
import { idxLabelsPathFor, loadIdx } from './idx.js';
import { loadImageFolder } from './images.js';
import { loadJsonl } from './jsonl.js';
import { loadNpy, loadNpz } from './npz.js';
import { fileError } from './util.js';

/** The data source kinds `loadDataset` understands. */
export const DATA_KINDS = ['npz', 'npy', 'idx', 'csv', 'images', 'jsonl'] as const;
/** One of DATA_KINDS. */
export type DataKind = (typeof DATA_KINDS)[number];

/** Where and how to load a dataset. Options that do not apply to the kind are a UsageError. */
export interface DataSpec {
  /** Default: detected from the path (see the module comment). */
  readonly kind?: DataKind;
  readonly path: string;
  /**
   * idx and npy: a separate labels file (idx default: the `…-labels-idx1-ubyte[.gz]` beside the
   * images, when present). `false`: load no labels (csv: the label column becomes optional).
   */
  readonly labels?: string | false;
  /** Keep only the first `limit` items (a positive integer). */
  readonly limit?: number;
  /** csv: label column (default `label`). */
  readonly labelColumn?: string;
  /** csv: a column of item ids. */
  readonly idColumn?: string;
  /** images and jsonl: output channels (default: 1 if every image is grayscale, else 3). */
  readonly channels?: 1 | 3;
  /** csv and jsonl: class names in label order, for string labels. */
  readonly classNames?: readonly string[];
  /** csv: field separator (default `,`, or tab for `.tsv`). */
  readonly delimiter?: string;
  /** Tabular: feature names in column order (for sources without them; replaces CSV header names). */
  readonly featureNames?: readonly string[];
  /**
   * Tabular: features no stress may change (names or 0-based indices): attacks never perturb them
   * and value-changing shifts leave them alone. Checked against the data when it is loaded.
   */
  readonly immutable?: readonly FeatureRef[];
  /** Tabular: integer-valued features that attacks may move continuously (others stay frozen). */
  readonly continuous?: readonly FeatureRef[];
}

const APPLIES: Readonly<Record<string, readonly DataKind[]>> = {
  labelColumn: ['csv'],
  idColumn: ['csv'],
  delimiter: ['csv'],
  channels: ['images', 'jsonl'],
  classNames: ['csv', 'jsonl'],
};

/** Loads a dataset from a path or spec. Throws DataError for missing or bad data, UsageError for bad options. */
export async function loadDataset(spec: string | DataSpec): Promise<Dataset> {
  const s: DataSpec = typeof spec === 'string' ? { path: spec } : spec;
  if (typeof s.path !== 'string' || s.path === '') throw new UsageError("'path' must be a non-empty string");
  if (s.kind !== undefined && !DATA_KINDS.includes(s.kind)) throw new UsageError(`'kind' must be one of ${DATA_KINDS.join(', ')}, got '${s.kind}'`);
  if (s.limit !== undefined) checkRange('limit', s.limit, { min: 1, integer: true });
  if (s.channels !== undefined && s.channels !== 1 && s.channels !== 3) throw new UsageError(`'channels' must be 1 or 3, got ${s.channels}`);

  let isDir: boolean;
  try {
    isDir = (await fs.stat(s.path)).isDirectory();
  } catch (err) {
    throw fileError(s.path, err);
  }
  const kind = s.kind ?? detectKind(s.path, isDir);
  if (isDir !== (kind === 'images')) {
    throw new DataError(isDir ? `${s.path}: is a directory, but ${kind} data is a file` : `${s.path}: is a file, but images data is a folder of class folders`);
  }
  for (const [option, kinds] of Object.entries(APPLIES)) {
    if (s[option as keyof DataSpec] !== undefined && !kinds.includes(kind)) {
      throw new UsageError(`'${option}' applies to ${kinds.join(' and ')} data, not ${kind}`);
    }
  }
  if (typeof s.labels === 'string' && kind !== 'idx' && kind !== 'npy') {
    throw new UsageError(`'labels' as a file applies to idx and npy data, not ${kind} (${kind} files carry their labels)`);
  }
  const ds = await loadKind(s, kind);
  const named = s.featureNames ? withFeatureNames(ds, s.featureNames) : ds;
  // Unknown names are caught here, before anything runs.
  if (s.immutable) featureIndices(named, s.immutable, 'immutable');
  if (s.continuous) featureIndices(named, s.continuous, 'continuous');
  return named;
}

async function loadKind(s: DataSpec, kind: DataKind): Promise<Dataset> {
  const { limit, channels, classNames } = s;
  switch (kind) {
    case 'npz':
      return dropLabels(takeFirst(await loadNpz(s.path), limit), s.labels === false);
    case 'npy':
      return takeFirst(await loadNpy(s.path, { labels: typeof s.labels === 'string' ? s.labels : undefined }), limit);
    case 'idx': {
      const labels = s.labels === false ? undefined : (s.labels ?? idxLabelsPathFor(s.path) ?? undefined);
      return loadIdx(s.path, labels, { limit });
    }
    case 'csv': {
      const delimiter = s.delimiter ?? (/\.tsv$/i.test(s.path) ? '\t' : ',');
      return loadCsv(s.path, { labelColumn: s.labelColumn, idColumn: s.idColumn, classNames, limit, labels: s.labels !== false, delimiter });
    }
    case 'images':
      return dropLabels(await loadImageFolder(s.path, { channels, limit }), s.labels === false);
    case 'jsonl':
      return dropLabels(await loadJsonl(s.path, { channels, classNames, limit }), s.labels === false);
  }
}

/** The data kind a path's name implies; throws DataError when the name says nothing. */
export function detectKind(file: string, isDirectory: boolean): DataKind {
  if (isDirectory) return 'images';
  const name = path.basename(file).toLowerCase();
  const inner = name.replace(/\.gz$/, '');
  if (name.endsWith('.gz') && /\.(npz|npy|csv|tsv|jsonl)$/.test(inner)) {
    throw new DataError(`${file}: gzipped ${inner.split('.').pop()} files are not supported; decompress it first`);
  }
  if (name.endsWith('.npz')) return 'npz';
  if (name.endsWith('.npy')) return 'npy';
  if (name.endsWith('.csv') || name.endsWith('.tsv')) return 'csv';
  if (name.endsWith('.jsonl')) return 'jsonl';
  if (/\.idx\d?$/.test(inner) || inner.endsWith('-ubyte') || /idx\d/.test(inner) || name.endsWith('.gz')) return 'idx';
  throw new DataError(`${file}: cannot tell the data kind from the name; give kind (${DATA_KINDS.join(', ')})`);
}

/**
 * The first `n` items of a dataset (the dataset itself when it has no more; `undefined` keeps all).
 * Extras whose first dimension equals the dataset size are cut to match; other extras are kept.
 */
export function takeFirst(ds: Dataset, n: number | undefined): Dataset {
  if (n === undefined || n >= ds.size) return ds;
  const per = ds.itemShape.reduce((a, b) => a * b, 1);
  const extras: Record<string, ExtraArray> = {};
  for (const [key, e] of Object.entries(ds.extras)) {
    if (e.shape.length === 0 || e.shape[0] !== ds.size) {
      extras[key] = e;
      continue;
    }
    const rest = e.shape.slice(1).reduce((a, b) => a * b, 1);
    const data = e.data as ArrayLike<number | bigint | string> & { slice(start: number, end: number): ArrayLike<number | bigint | string> };
    extras[key] = { dtype: e.dtype, shape: [n, ...e.shape.slice(1)], data: data.slice(0, n * rest) };
  }
  return makeDataset({
    name: ds.name,
    itemShape: ds.itemShape,
    x: ds.x.slice(0, n * per),
    labels: ds.labels?.slice(0, n) ?? null,
    classNames: ds.classNames,
    ids: ds.ids?.slice(0, n) ?? null,
    metadata: ds.metadata?.slice(0, n) ?? null,
    extras,
    featureNames: ds.featureNames,
  });
}

function dropLabels(ds: Dataset, drop: boolean): Dataset {
  return drop && ds.labels ? { ...ds, labels: null } : ds;
}
