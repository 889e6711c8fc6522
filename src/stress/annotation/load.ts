/**
 * Real multi-annotator labels from rows `(item, annotator, label)`:
 * - CSV with a header naming the columns `item`, `annotator` and `label` (any order, any case;
 *   other columns such as a timestamp are ignored; RFC 4180 quoting);
 * - JSONL, one object per line with keys `item`, `annotator`, `label`.
 * Labels are integers, or class names when `classNames` is given. The result is an N×A matrix
 * (−1 = unlabelled): items in the order of `itemIds` when given (every row must name one of them),
 * else in order of first appearance; annotators in order of first appearance.
 *
 * Example (CSV): `item,annotator,label\nimg-1,alice,3\nimg-1,bob,5\n`.
 */
import path from 'node:path';
import { DataError } from '../../errors.js';
import { readDataFile } from '../../data/util.js';
import { csvRecords } from '../../data/csv.js';
import type { AnnotationMatrix } from './types.js';

export type AnnotationFormat = 'csv' | 'jsonl';

export interface AnnotationRowsOptions {
  /** Ids of the dataset's items; rows must name one of them. */
  itemIds?: readonly string[] | null;
  /** Class names, so that labels may be given by name. */
  classNames?: readonly string[] | null;
  /** Number of classes (default: the class names' count, else the largest label + 1, at least 2). */
  numClasses?: number;
  /** Name for error messages (the file name). */
  name?: string;
}

interface Row {
  item: string;
  annotator: string;
  label: unknown;
  line: number;
}

function csvRows(text: string, name: string): Row[] {
  const table = Array.from(csvRecords(text, name), (r) => ({ fields: r.fields, line: r.lines[0]! }));
  if (table.length === 0) throw new DataError(`${name}: empty; expected a header row 'item,annotator,label'`);
  const header = table[0]!.fields.map((h) => h.trim().toLowerCase());
  const col = (k: string) => {
    const j = header.indexOf(k);
    if (j < 0) throw new DataError(`${name}: header has no '${k}' column (columns: ${header.join(', ')}); expected item, annotator, label`);
    return j;
  };
  const [ci, ca, cl] = [col('item'), col('annotator'), col('label')];
  return table.slice(1).map(({ fields, line }) => {
    if (fields.length !== header.length) throw new DataError(`${name}: line ${line} has ${fields.length} fields, the header has ${header.length}`);
    return { item: fields[ci]!.trim(), annotator: fields[ca]!.trim(), label: fields[cl]!.trim(), line };
  });
}

function jsonlRows(text: string, name: string): Row[] {
  const rows: Row[] = [];
  text.split(/\r?\n/).forEach((raw, k) => {
    const line = k + 1;
    if (raw.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw new DataError(`${name}: line ${line} is not valid JSON (${(e as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new DataError(`${name}: line ${line} must be an object with keys item, annotator, label`);
    const o = obj as Record<string, unknown>;
    for (const key of ['item', 'annotator', 'label']) {
      if (o[key] === undefined || o[key] === null) throw new DataError(`${name}: line ${line} has no '${key}'; each line needs item, annotator, label`);
    }
    for (const key of ['item', 'annotator']) {
      if (typeof o[key] !== 'string' && typeof o[key] !== 'number') throw new DataError(`${name}: line ${line}: '${key}' must be a string or number, got ${JSON.stringify(o[key])}`);
    }
    rows.push({ item: String(o.item), annotator: String(o.annotator), label: o.label, line });
  });
  return rows;
}

/** Builds the annotation matrix from rows of text in the given format. */
export function parseAnnotationRows(text: string, format: AnnotationFormat, opts: AnnotationRowsOptions = {}): AnnotationMatrix {
  const name = opts.name ?? `annotations (${format})`;
  const rows = format === 'csv' ? csvRows(text, name) : jsonlRows(text, name);
  if (rows.length === 0) throw new DataError(`${name}: no labels; expected rows of (item, annotator, label)`);
  const names = opts.classNames ?? null;
  const labelOf = (r: Row): number => {
    const v = r.label;
    let y: number;
    if (typeof v === 'number') y = v;
    else if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) y = Number(v);
    else if (typeof v === 'string' && names && names.includes(v)) y = names.indexOf(v);
    else throw new DataError(`${name}: line ${r.line}: label ${JSON.stringify(v)} is not a class index${names ? ' or class name' : ' (give class names to use names)'}`);
    if (!Number.isInteger(y) || y < 0) throw new DataError(`${name}: line ${r.line}: label ${JSON.stringify(v)} must be a non-negative integer class`);
    return y;
  };
  const itemIndex = new Map<string, number>();
  const itemIds: string[] = [];
  if (opts.itemIds) opts.itemIds.forEach((id, i) => (itemIndex.has(id) ? undefined : itemIndex.set(id, i)));
  const annIndex = new Map<string, number>();
  const annIds: string[] = [];
  const parsed = rows.map((r) => {
    if (r.item === '') throw new DataError(`${name}: line ${r.line}: empty item id`);
    if (r.annotator === '') throw new DataError(`${name}: line ${r.line}: empty annotator id`);
    let i = itemIndex.get(r.item);
    if (i === undefined) {
      if (opts.itemIds) throw new DataError(`${name}: line ${r.line}: item '${r.item}' is not in the dataset`);
      i = itemIds.length;
      itemIds.push(r.item);
      itemIndex.set(r.item, i);
    }
    let a = annIndex.get(r.annotator);
    if (a === undefined) {
      a = annIds.length;
      annIds.push(r.annotator);
      annIndex.set(r.annotator, a);
    }
    return { i, a, y: labelOf(r), line: r.line };
  });
  const maxLabel = parsed.reduce((m, p) => Math.max(m, p.y), 0);
  const K = opts.numClasses ?? (names ? names.length : Math.max(2, maxLabel + 1));
  const N = opts.itemIds ? opts.itemIds.length : itemIds.length;
  const A = annIds.length;
  const labels = new Int32Array(N * A).fill(-1);
  const firstLine = new Map<number, number>();
  for (const p of parsed) {
    if (p.y >= K) throw new DataError(`${name}: line ${p.line}: label ${p.y} is outside [0, ${K - 1}]`);
    const at = p.i * A + p.a;
    if (labels[at] !== -1) throw new DataError(`${name}: line ${p.line}: annotator '${annIds[p.a]}' labels item '${opts.itemIds ? opts.itemIds[p.i] : itemIds[p.i]}' a second time (first on line ${firstLine.get(at)})`);
    labels[at] = p.y;
    firstLine.set(at, p.line);
  }
  return { numItems: N, numAnnotators: A, numClasses: K, labels, annotatorIds: annIds, itemIds: opts.itemIds ? [...opts.itemIds] : itemIds };
}

/** Loads a `.csv` or `.jsonl`/`.ndjson` file of `(item, annotator, label)` rows. */
export async function loadAnnotations(file: string, opts: AnnotationRowsOptions = {}): Promise<AnnotationMatrix> {
  const ext = path.extname(file).toLowerCase();
  const format: AnnotationFormat | null = ext === '.csv' ? 'csv' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : null;
  if (!format) throw new DataError(`${file}: annotation files must be .csv or .jsonl (rows of item, annotator, label), got '${ext || 'no extension'}'`);
  const text = (await readDataFile(file)).toString('utf8');
  return parseAnnotationRows(text, format, { ...opts, name: opts.name ?? file });
}
