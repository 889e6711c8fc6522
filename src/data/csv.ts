/**
 * Tabular data from CSV (RFC 4180: quoted fields with `""` escapes, commas and line breaks inside
 * quotes, LF or CRLF line ends, optional UTF-8 BOM; blank lines are skipped).
 *
 * The first row is the header. One column holds the label (`labelColumn`, default `label`), one
 * may hold item ids (`idColumn`); every other column is a numeric feature, so items have shape
 * `[d]` and `featureNames` are those columns' names, in order.
 *
 * Labels:
 * - if every label cell is an integer literal (`0`, `7`, `-1`), the labels are those integers
 *   (negative ones are rejected) and `classNames` is null;
 * - otherwise every label is a class name: `classNames` is the sorted (by code point) list of the
 *   distinct label strings and each label is its name's index in that list (`cat`, `dog`, `cat` →
 *   classNames `['cat', 'dog']`, labels `[0, 1, 0]`);
 * - with the `classNames` option, names index into the given list instead (and integer literals
 *   that are not names are taken as indices into it).
 *
 * Every feature cell must be a finite decimal number that fits float32; an empty or non-numeric
 * cell is a DataError naming the file, line and column.
 */
import path from 'node:path';
import { DataError } from '../errors.js';
import { makeDataset, type Dataset } from './dataset.js';
import { resolveLabels } from './labels.js';
import { checkUniqueIds, FLOAT32_MAX, readDataFile } from './util.js';

/** Options for `loadCsv`. */
export interface CsvOptions {
  /** Name of the label column (default `label`). */
  readonly labelColumn?: string;
  /**
   * Set false for unlabelled data: the label column is then optional (and ignored when present,
   * never used as a feature). Default true: a missing label column is a DataError.
   */
  readonly labels?: boolean;
  /** Name of a column of unique item ids. */
  readonly idColumn?: string;
  /** Class names in label order, for string labels (default: sorted distinct label strings). */
  readonly classNames?: readonly string[];
  /** Field separator (default `,`; `\t` for TSV). */
  readonly delimiter?: string;
  /** Keep only the first `limit` rows. */
  readonly limit?: number;
}

/** One CSV record: its fields and the line each field starts on (1-based). */
export interface CsvRecord {
  readonly fields: string[];
  readonly lines: number[];
}

/**
 * Splits CSV text into records (RFC 4180). `name` starts every error message. Throws DataError on
 * an unterminated quote, text after a closing quote, or a quote inside an unquoted field.
 */
export function* csvRecords(text: string, name: string, delimiter = ','): Generator<CsvRecord> {
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const isEnd = (ch: string | undefined): boolean => ch === delimiter || ch === '\n' || ch === '\r';
  while (i < n) {
    const fields: string[] = [];
    const lines: number[] = [];
    let quoted = false;
    for (;;) {
      const fieldLine = line;
      let value: string;
      if (text[i] === '"') {
        quoted = true;
        i++;
        value = '';
        let from = i;
        for (;;) {
          if (i >= n) throw new DataError(`${name}: line ${fieldLine}: unterminated quoted field`);
          const ch = text[i];
          if (ch === '"') {
            value += text.slice(from, i);
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              from = i;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          i++;
        }
        if (i < n && !isEnd(text[i])) throw new DataError(`${name}: line ${line}: unexpected text after a closing quote`);
      } else {
        const start = i;
        while (i < n && !isEnd(text[i])) {
          if (text[i] === '"') {
            throw new DataError(`${name}: line ${line}: a quote inside an unquoted field (quote the whole field and double the inner quotes)`);
          }
          i++;
        }
        value = text.slice(start, i);
      }
      fields.push(value);
      lines.push(fieldLine);
      if (i < n && text[i] === delimiter) {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      line++;
      break;
    }
    if (fields.length === 1 && fields[0] === '' && !quoted) continue; // blank line
    yield { fields, lines };
  }
}

/** A cell as error messages show it: quoted, control characters escaped, long cells cut. */
function show(cell: string): string {
  const s = cell.length > 40 ? `${cell.slice(0, 37)}...` : cell;
  return `'${s.replace(/[\r\n\t]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'))}'`;
}

const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const NON_FINITE = /^\s*[+-]?(nan|inf|infinity)\s*$/i;

/** Loads a CSV file as a tabular Dataset (see the module comment). */
export async function loadCsv(file: string, options: CsvOptions = {}): Promise<Dataset> {
  const text = (await readDataFile(file)).toString('utf-8');
  return parseCsv(text, file, options);
}

/** Builds a tabular Dataset from CSV text; `file` names the source in errors and the dataset. */
export function parseCsv(text: string, file: string, options: CsvOptions = {}): Dataset {
  const labelColumn = options.labelColumn ?? 'label';
  const wantLabels = options.labels ?? true;
  const records = csvRecords(text, file, options.delimiter ?? ',');
  const first = records.next();
  if (first.done) throw new DataError(`${file}: empty file, expected a header row`);
  const header = first.value.fields.map((h) => h.trim());
  const seen = new Set<string>();
  header.forEach((h, c) => {
    if (h === '') throw new DataError(`${file}: line 1: column ${c + 1} has no name (a pandas index? save with index=False)`);
    if (seen.has(h)) throw new DataError(`${file}: line 1: column name '${h}' appears twice`);
    seen.add(h);
  });
  const columns = `columns: ${header.join(', ')}`;
  const labelIdx = header.indexOf(labelColumn);
  if (labelIdx < 0 && wantLabels) {
    throw new DataError(`${file}: no label column '${labelColumn}' (${columns}); set label_column (--label-column), or labels: false (--labels false) for unlabelled data`);
  }
  const idIdx = options.idColumn === undefined ? -1 : header.indexOf(options.idColumn);
  if (options.idColumn !== undefined && idIdx < 0) throw new DataError(`${file}: no id column '${options.idColumn}' (${columns})`);
  const featureCols = header.map((_, c) => c).filter((c) => c !== labelIdx && c !== idIdx);
  const d = featureCols.length;
  if (d === 0) throw new DataError(`${file}: no feature columns (${columns})`);

  const limit = options.limit ?? Infinity;
  let x = new Float32Array(1024 * d);
  let n = 0;
  const rawLabels: string[] = [];
  const labelLines: number[] = [];
  const ids: string[] = [];
  for (const { fields, lines } of records) {
    if (n >= limit) break;
    const where = (c: number): string => `${file}: line ${lines[c] ?? lines[0]}, column ${c + 1} ('${header[c]}')`;
    if (fields.length !== header.length) {
      throw new DataError(`${file}: line ${lines[0]}: ${fields.length} fields, but the header has ${header.length}`);
    }
    if (x.length < (n + 1) * d) {
      const grown = new Float32Array(x.length * 2);
      grown.set(x);
      x = grown;
    }
    for (let k = 0; k < d; k++) {
      const c = featureCols[k]!;
      const cell = fields[c]!;
      if (cell.trim() === '') throw new DataError(`${where(c)}: empty value (missing values are not supported)`);
      if (NON_FINITE.test(cell)) throw new DataError(`${where(c)}: ${show(cell)} is not a finite number`);
      if (!DECIMAL.test(cell)) throw new DataError(`${where(c)}: ${show(cell)} is not a number`);
      const v = Number(cell);
      if (Math.abs(v) > FLOAT32_MAX) throw new DataError(`${where(c)}: ${cell.trim()} does not fit float32`);
      x[n * d + k] = v;
    }
    if (labelIdx >= 0 && wantLabels) {
      const cell = fields[labelIdx]!.trim();
      if (cell === '') throw new DataError(`${where(labelIdx)}: empty label`);
      rawLabels.push(cell);
      labelLines.push(lines[labelIdx]!);
    }
    if (idIdx >= 0) {
      const cell = fields[idIdx]!.trim();
      if (cell === '') throw new DataError(`${where(idIdx)}: empty id`);
      ids.push(cell);
    }
    n++;
  }
  if (idIdx >= 0) checkUniqueIds(ids, file, `id (column '${header[idIdx]}')`);
  const resolved = wantLabels ? resolveLabels(rawLabels, options.classNames ?? null, (i) => `${file}: line ${labelLines[i]}, column ${labelIdx + 1} ('${labelColumn}')`) : null;
  return makeDataset({
    name: path.basename(file),
    itemShape: [d],
    x: x.slice(0, n * d),
    labels: resolved?.labels ?? null,
    classNames: resolved?.classNames ?? null,
    ids: idIdx >= 0 ? ids : null,
    featureNames: featureCols.map((c) => header[c]!),
  });
}
