import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { csvRecords, loadCsv, parseCsv } from '../src/data/csv.js';
import { DataError } from '../src/errors.js';
import { scratchDirs } from './helpers.js';

/** A fresh empty folder under this file's one temporary directory. */
const fresh = scratchDirs('gauntlet-data-');

const fields = (text: string): string[][] => [...csvRecords(text, 't.csv')].map((r) => r.fields);

test('RFC 4180: quoted fields, doubled quotes, embedded commas and line breaks, CRLF', () => {
  assert.deepEqual(fields('a,b\r\n1,"x, y"\r\n"he said ""hi""","two\r\nlines"\r\n'), [
    ['a', 'b'],
    ['1', 'x, y'],
    ['he said "hi"', 'two\r\nlines'],
  ]);
  assert.deepEqual(fields('a,b\n1,2'), [['a', 'b'], ['1', '2']]); // no final newline
  assert.deepEqual(fields('\uFEFFa,b\n\n1,\n'), [['a', 'b'], ['1', '']]); // BOM, blank line, empty last field
  assert.deepEqual(fields('a\n""\n'), [['a'], ['']]); // a quoted empty field is a record, not a blank line
});

test('records know the line each field starts on', () => {
  const recs = [...csvRecords('a,b\n"1\n2",x\ny,z\n', 't.csv')];
  assert.deepEqual(recs.map((r) => r.lines), [[1, 1], [2, 3], [4, 4]]);
});

test('malformed quoting is a DataError with the line', () => {
  assert.throws(() => fields('a\n"open\n\n'), (e: unknown) => e instanceof DataError && e.message === 't.csv: line 2: unterminated quoted field');
  assert.throws(() => fields('a,b\n"x"y,1\n'), (e: unknown) => e instanceof DataError && /^t\.csv: line 2: unexpected text after a closing quote/.test(e.message));
  assert.throws(() => fields('a,b\nx"y,1\n'), (e: unknown) => e instanceof DataError && /^t\.csv: line 2: a quote inside an unquoted field/.test(e.message));
});

test('numeric features, integer labels, feature names from the header', () => {
  const ds = parseCsv('f1,label,f2\n1.5,0,-2\n3e2,2, .25\n', 'num.csv');
  assert.equal(ds.name, 'num.csv');
  assert.deepEqual(ds.itemShape, [2]);
  assert.deepEqual([...ds.x], [1.5, -2, 300, 0.25]);
  assert.deepEqual([...ds.labels!], [0, 2]);
  assert.equal(ds.classNames, null);
  assert.deepEqual(ds.featureNames, ['f1', 'f2']);
});

test('string labels become sorted class names and labels index into them', () => {
  const ds = parseCsv('x,species\n1,virginica\n2,setosa\n3,versicolor\n4,setosa\n', 'iris.csv', { labelColumn: 'species' });
  assert.deepEqual(ds.classNames, ['setosa', 'versicolor', 'virginica']);
  assert.deepEqual([...ds.labels!], [2, 0, 1, 0]);
});

test('the classNames option gives the order; unknown names are errors', () => {
  const ds = parseCsv('x,label\n1,dog\n2,cat\n', 'a.csv', { classNames: ['dog', 'cat'] });
  assert.deepEqual([...ds.labels!], [0, 1]);
  assert.throws(
    () => parseCsv('x,label\n1,dog\n2,cow\n', 'a.csv', { classNames: ['dog', 'cat'] }),
    (e: unknown) => e instanceof DataError && e.message === "a.csv: line 3, column 2 ('label'): label 'cow' is not one of the 2 class names",
  );
});

test('idColumn gives ids; labels: false makes the label column optional and never a feature', () => {
  const ds = parseCsv('id,a,label,b\nr1,1,0,2\nr2,3,1,4\n', 'ids.csv', { idColumn: 'id', labels: false });
  assert.deepEqual(ds.ids, ['r1', 'r2']);
  assert.equal(ds.labels, null);
  assert.deepEqual(ds.featureNames, ['a', 'b']);
  assert.deepEqual([...ds.x], [1, 2, 3, 4]);
  assert.equal(parseCsv('a,b\n1,2\n', 'u.csv', { labels: false }).size, 1);
});

test('TSV via delimiter, and limit keeps the first rows', async () => {
  const file = path.join(fresh(), 'd.tsv');
  fs.writeFileSync(file, 'a\tlabel\n1\t0\n2\t1\n3\t0\n');
  const ds = await loadCsv(file, { delimiter: '\t', limit: 2 });
  assert.deepEqual([...ds.x], [1, 2]);
  assert.deepEqual([...ds.labels!], [0, 1]);
});

test('bad CSV content is a DataError naming file, line and column', () => {
  const cases: [string, RegExp, object?][] = [
    ['a,b,label\n1,2,0\n3,abc,1\n', /^bad\.csv: line 3, column 2 \('b'\): 'abc' is not a number$/],
    ['a,label\n"multi\nline",0\n', /^bad\.csv: line 2, column 1 \('a'\): 'multi\\nline' is not a number$/],
    ['a,b,label\n"1\n",1,0\n2,,1\n', /^bad\.csv: line 4, column 2 \('b'\): empty value/],
    ['a,label\nNaN,0\n', /^bad\.csv: line 2, column 1 \('a'\): 'NaN' is not a finite number$/],
    ['a,label\n1e39,0\n', /^bad\.csv: line 2, column 1 \('a'\): 1e39 does not fit float32$/],
    ['a,label\n0x10,0\n', /'0x10' is not a number/],
    ['a,label\n1,0\n2\n', /^bad\.csv: line 3: 1 fields, but the header has 2$/],
    ['a,label\n1,\n', /^bad\.csv: line 2, column 2 \('label'\): empty label$/],
    ['a,label\n1,-1\n', /^bad\.csv: line 2, column 2 \('label'\): label -1 is negative$/],
    ['a,b\n1,2\n', /^bad\.csv: no label column 'label' \(columns: a, b\); set label_column \(--label-column\), or labels: false/],
    ['a,b\n1,2\n', /^bad\.csv: no id column 'key' \(columns: a, b\)$/, { idColumn: 'key', labels: false }],
    ['id,a,label\nk,1,0\nk,2,0\n', /^bad\.csv: id \(column 'id'\) 'k' is used by items 0 and 1/, { idColumn: 'id' }],
    [',a,label\n0,1,0\n', /^bad\.csv: line 1: column 1 has no name \(a pandas index\?/],
    ['a,a,label\n', /^bad\.csv: line 1: column name 'a' appears twice$/],
    ['label\n0\n', /^bad\.csv: no feature columns/],
    ['', /^bad\.csv: empty file, expected a header row$/],
  ];
  for (const [text, message, options] of cases) {
    assert.throws(() => parseCsv(text, 'bad.csv', options), (e: unknown) => e instanceof DataError && message.test(e.message), text);
  }
});
