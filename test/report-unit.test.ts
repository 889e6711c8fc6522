/**
 * Unit tests of the report module on hand-built results (no model runs): the per-cell report-data
 * functions agree with the metric suite, HTML/Markdown/JUnit escape user strings and say when data
 * is missing, compare flags exactly the metrics that moved beyond their CIs, and bad run
 * directories fail with clear errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import type { CampaignResults } from '../src/campaign/runner.js';
import { DataError } from '../src/errors.js';
import { itemStats, metricsFromStats, reliabilityBins, riskCoverage } from '../src/metrics/suite.js';
import { Rng } from '../src/rng.js';
import { adversarialCurves, annotationCurves, driftCurves, heatmaps, measurementGap } from '../src/report/analysis.js';
import { compareRuns, compareText } from '../src/report/compare.js';
import { galleryItems, type GalleryItem } from '../src/report/data.js';
import { wilson } from '../src/report/format.js';
import { galleryImage, galleryPositions, isBase64, itemPng } from '../src/report/images.js';
import { eceFromBins, htmlReport, junitXml, markdownReport, readResults, reliabilityOf, riskCoverageOf, writeReports } from '../src/report/index.js';
import { tmpDir } from './helpers.js';

import { N, cell, fakeResults } from './report-fixture.js';

/** Adds the runner's reliability bins and risk–coverage points (from random probabilities) to every cell, as results.json holds them. */
function withCurves(r: CampaignResults): CampaignResults {
  const rng = new Rng('curves');
  for (const c of r.cells) {
    const { probs, labels } = randomProbs(rng, N, 2);
    const st = itemStats(probs, 2, labels);
    Object.assign(c, JSON.parse(JSON.stringify({ reliability: reliabilityBins(st), risk_coverage: riskCoverage(st) }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))));
  }
  return r;
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function randomProbs(rng: Rng, n: number, K: number): { probs: Float64Array; labels: Int32Array } {
  const probs = new Float64Array(n * K);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += probs[i * K + k] = Math.exp(3 * rng.normal());
    for (let k = 0; k < K; k++) probs[i * K + k]! /= s;
    labels[i] = rng.int(K);
  }
  return { probs, labels };
}

// ---------------------------------------------------------------------------------------------

test('the runner’s reliability bins and risk–coverage points read back as counts: ECE, accuracy and error counts agree with the suite', () => {
  const { probs, labels } = randomProbs(new Rng(1), 1000, 5);
  const st = itemStats(probs, 5, labels);
  const suite = metricsFromStats(st, null, 0.5);
  // As results.json stores them: NaN (empty bins) → null.
  const cellJson = JSON.parse(JSON.stringify({ samples: 1000, metrics: { aurc: { value: suite.aurc } }, reliability: reliabilityBins(st), risk_coverage: riskCoverage(st) }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
  const rel = reliabilityOf(cellJson)!;
  assert.equal(rel.count.length, 15);
  assert.equal(rel.edges.length, 16);
  assert.equal(rel.count.reduce((a, b) => a + b, 0), 1000);
  assert.equal(rel.correct.reduce((a, b) => a + b, 0), Math.round(suite.accuracy * 1000));
  assert.ok(Math.abs(eceFromBins(rel) - suite.ece) < 1e-9, `${eceFromBins(rel)} vs ${suite.ece}`);
  const rc = riskCoverageOf(cellJson)!;
  assert.equal(rc.kept.at(-1), 1000);
  assert.equal(rc.errors.at(-1), Math.round((1 - suite.accuracy) * 1000));
  assert.equal(rc.aurc, suite.aurc);
  for (let i = 1; i < rc.kept.length; i++) assert.ok(rc.kept[i]! > rc.kept[i - 1]! && rc.threshold[i]! <= rc.threshold[i - 1]!);
  assert.equal(reliabilityOf({}), null);
  assert.equal(riskCoverageOf({ risk_coverage: [{ coverage: 'x' }], samples: 10 }), null, 'malformed data is ignored, not drawn');
});

test('gallery functions reject mismatched inputs with DataErrors naming the sizes', () => {
  const g = (o: Partial<Parameters<typeof galleryItems>[0]>) => () => galleryItems({ probs: new Float64Array(4), numClasses: 2, labels: new Int32Array(2), inputs: new Float32Array(8), itemShape: [2, 2], ...o });
  assert.throws(g({ probs: new Float64Array(10) }), (e: unknown) => e instanceof DataError && /10 probabilities for 2 items of 2 classes \(expected 4\)/.test((e as Error).message));
  assert.throws(g({ inputs: new Float32Array(7) }), /7 input values for 2 items of shape \[2, 2\]/);
  assert.throws(() => itemPng(new Float32Array(784), 1, [1, 28, 28]), /item 1 is out of range for 1 items of shape \[1, 28, 28\]/);
  assert.throws(g({ observed: new Int32Array(3) }), /3 observed labels for 2 items/);
});

test('gallery images: PNGs decode at the item size, the perturbation is magnified, unchanged items and tabular data have none', () => {
  const n = 3;
  const clean = new Float32Array(n * 3 * 8 * 6).map((_, i) => (i % 17) / 17);
  const stressed = clean.map((v, i) => Math.min(1, Math.max(0, v + (i % 2 ? 0.02 : -0.02))));
  const g = galleryImage(stressed, clean, 1, [3, 8, 6])!;
  for (const png of [g.clean, g.stressed!, g.perturbation!]) {
    assert.ok(isBase64(png));
    const img = PNG.sync.read(Buffer.from(png, 'base64'));
    assert.deepEqual([img.width, img.height], [6, 8]);
  }
  assert.ok(Math.abs(g.linf - 0.02) < 1e-6);
  assert.ok(Math.abs(g.magnify! - 25) < 1e-3, `magnify ${g.magnify}`);
  const same = galleryImage(clean, clean, 0, [3, 8, 6])!;
  assert.equal(same.stressed, null);
  assert.equal(same.perturbation, null);
  assert.equal(galleryImage(new Float32Array(20), new Float32Array(20), 0, [10]), null, 'tabular items have no picture');
  assert.equal(itemPng(new Float32Array(40), 0, [4, 10]) !== null, true, '[H, W] is a greyscale image');
  assert.equal(itemPng(new Float32Array(40), 0, [40]), null);
  assert.deepEqual(galleryPositions(Int32Array.from([2, 2, 0, 1, 0, 3]), 3), [0, 2, 3]);
  assert.deepEqual(galleryPositions(Int32Array.from([0, 0, 0, 0]), 3), [0, 1, 2]);
  assert.equal(isBase64('abc" onerror="x'), false);
});

test('galleryItems: six items (first of each class) with pictures, labels and predictions, a few KB of JSON', () => {
  const rng = new Rng(2);
  const n = 64;
  const { probs, labels } = randomProbs(rng, n, 4);
  const clean = new Float32Array(n * 28 * 28).map(() => rng.uniform());
  const inputs = clean.map((v) => Math.min(1, v + 0.05));
  const observed = labels.map((y, i) => (i % 5 === 0 ? (y + 1) % 4 : y));
  const items = galleryItems({ probs, numClasses: 4, labels, observed, inputs, clean, itemShape: [1, 28, 28], cleanProbs: probs, ids: Array.from({ length: n }, (_, i) => `item-${i}`) })!;
  assert.equal(items.length, 6);
  assert.equal(new Set(items.map((g) => g.true_label)).size, 4, 'the first item of every class is shown');
  const g = items[0]!;
  assert.equal(g.id, `item-${g.index}`);
  assert.equal(g.true_label, labels[g.index]);
  assert.equal(g.observed_label, observed[g.index]);
  assert.equal(g.clean_predicted, g.predicted);
  assert.ok(g.stressed && g.perturbation && g.magnify! >= 1);
  const json = JSON.stringify(items);
  assert.deepEqual(JSON.parse(json), items, 'round-trips through JSON');
  assert.ok(json.length < 60_000, `${json.length} bytes`);
  assert.equal(galleryItems({ probs, numClasses: 4, labels, inputs: new Float32Array(n * 3), itemShape: [3] }), null, 'tabular items: no gallery');
});

test('analysis: curves are anchored at the baseline, the heatmap places combined cells with their interaction', () => {
  const r = fakeResults();
  const adv = adversarialCurves(r);
  assert.deepEqual(adv.series.map((s) => s.name), ['fgsm linf']);
  assert.deepEqual(adv.series[0]!.points.map((p) => [p.x, p.cell]), [[0, 'c000-clean'], [0.01, 'c001-adv'], [0.03, 'c002-adv']]);
  assert.deepEqual(driftCurves(r).series[0]!.points.map((p) => p.x), [0, 2, 4]);
  const ann = annotationCurves(r).series;
  assert.deepEqual(ann.map((s) => s.name), ['symmetric, true labels', 'symmetric, observed labels']);
  assert.deepEqual(ann[1]!.points.map((p) => p.value), [r.cells[0]!.metrics.accuracy.value, 0.74]);
  const [h] = heatmaps(r);
  assert.equal(h!.rowKind, 'drift');
  assert.equal(h!.colKind, 'adversarial');
  assert.equal(h!.grid[0]![0]!.cell.id, 'c006-adv+drift');
  assert.equal(h!.grid[0]![0]!.interaction!.verdict, 'compounding');
  assert.equal(h!.rows[0]!.alone!.id, 'c003-drift');
  // Measurement gap: observed − true accuracy on the same items, with a paired bootstrap CI.
  const gapCell = { ...r.cells[0]!, correct: '1'.repeat(150) + '0'.repeat(50), correct_observed: '1'.repeat(120) + '0'.repeat(80) };
  const gap = measurementGap(gapCell)!;
  assert.ok(Math.abs(gap.value + 0.15) < 1e-12);
  assert.ok(gap.ci[0] < -0.15 && gap.ci[1] > -0.15 && gap.ci[1] < -0.09, JSON.stringify(gap));
  assert.deepEqual(measurementGap(gapCell), gap, 'deterministic');
  assert.equal(measurementGap(r.cells[1]!), null, 'no observed labels, no gap');
});

test('HTML: user strings are escaped, only the report’s own script exists, bad base64 is never embedded', () => {
  const r = fakeResults();
  r.model.path = '/m/<img src=x onerror=alert(1)>.onnx';
  (r.config as { data: { classNames: string[] } }).data.classNames = ['<script>alert(1)</script>', 'dog & "cat"'];
  r.cells[1]!.labels = { adversarial: '<svg onload=alert(2)>' };
  r.budgets[0]!.name = '<b>budget</b>';
  const gallery: GalleryItem[] = [{ index: 0, id: '<i>x</i>', true_label: 0, observed_label: 1, predicted: 1, confidence: 0.9, clean_predicted: 0, clean_confidence: 0.8, clean: 'AAAA', stressed: 'x" onerror="alert(3)', perturbation: null, magnify: 2, linf: 0.1 }];
  Object.assign(r.cells[1]!, { gallery });
  const html = htmlReport(r);
  assert.equal(html.match(/<script/g)?.length, 1);
  for (const bad of ['<img src=x', '<script>alert', '<svg onload', '<b>budget', '<i>x</i>', 'onerror="alert(3)']) assert.ok(!html.includes(bad), `raw '${bad}' in HTML`);
  for (const ok of ['&lt;img src=x onerror=alert(1)&gt;', '&lt;script&gt;alert(1)&lt;/script&gt;', 'dog &amp; &quot;cat&quot;', '&lt;svg onload=alert(2)&gt;', '&lt;b&gt;budget&lt;/b&gt;']) assert.ok(html.includes(ok), `'${ok}' missing`);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; img-src data:;[^"]*script-src &#39;sha256-[A-Za-z0-9+/=]+&#39;/);
  assert.ok(html.includes('src="data:image/png;base64,AAAA"'));
  assert.ok(!/https?:\/\//.test(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')), 'no network URL');
});

test('HTML: parts without data say "not available in this run"; with the runner’s curves they render', () => {
  const r = fakeResults();
  const html = htmlReport(r);
  assert.match(html, /Reliability diagrams and risk–coverage curves are not available in this run/);
  assert.match(html, /Sample images are not available in this run/);
  assert.match(html, /Per-annotator quality and flagged labels are not available in this run/);
  for (const id of ['curve-adversarial', 'curve-drift', 'curve-annotation', 'heat-0', 'accuracy-per-cell']) assert.ok(html.includes(`id="${id}"`), id);
  assert.ok(html.includes('masking: loss plateau'), 'attack flags are shown');
  const with_ = htmlReport(withCurves(r));
  assert.ok(with_.includes('id="risk-coverage"') && with_.includes('id="rel-c000-clean"') && with_.includes('id="rel-c001-adv"'));
  assert.ok(!with_.includes('id="rel-c005-ann"'), 'label noise alone does not change the inputs: no separate diagram');
  assert.doesNotMatch(with_, /Reliability diagrams and risk–coverage curves are not available/);
});

test('JUnit: a test case per budget; failures carry value, CI and bound; a budget matching no cell fails; names are escaped', () => {
  const r = fakeResults();
  r.budgets[1]!.name = 'accuracy ≥ 0.5 <"&">';
  const xml = junitXml(r);
  assert.match(xml, /<testsuites name="gauntlet" tests="3" failures="2" errors="0">/);
  assert.equal(xml.match(/<testcase /g)?.length, 3);
  assert.equal(xml.match(/<failure /g)?.length, 2);
  const base = r.cells[0]!.metrics.accuracy;
  assert.ok(xml.includes(`c000-clean (clean): accuracy = ${base.value.toFixed(4)} (95% CI [${base.ci[0].toFixed(4)}, ${base.ci[1].toFixed(4)}]); bound min 0.95; FAIL`));
  assert.match(xml, /name="accuracy ≥ 0\.1 at stage combined" time="0">\s*<failure message="[^"]*no cell matches this budget/);
  assert.ok(xml.includes('name="accuracy ≥ 0.5 &lt;&quot;&amp;&quot;&gt;"'));
  assert.match(xml, /<property name="model_sha256" value="a{64}"\/>/);
});

test('Markdown: summary, budgets and a model card with intended use, data hash, robustness profile, limitations and mitigations', () => {
  const r = fakeResults();
  r.cells[3]!.labels = { drift: 'noise | with pipe <x>' };
  const md = markdownReport(r);
  for (const h of ['## Key findings', '## Budgets', '## Results', '## Interactions', '## Model card', '**Intended use.**', '**Evaluation data.**', '**Robustness profile.**', '**Known limitations.**', '**Mitigations to consider.**']) assert.ok(md.includes(h), h);
  assert.ok(md.includes('b'.repeat(64)), 'data hash');
  assert.ok(md.includes('❌ **2 of 3 budgets failed**'));
  assert.ok(md.includes('noise \\| with pipe &lt;x&gt;'), 'pipes and angle brackets escaped');
  assert.match(md, /Adversarial, fgsm linf: ε 0: 0\.\d{3} \[/);
  assert.match(md, /measurement gap of -0\.\d{3} \[-0\.\d{3}, -0\.\d{3}\] \(paired bootstrap\)/);
  assert.match(md, /adversarial training/);
  assert.match(md, /cat, dog/);
});

test('compare: identical runs move nothing; flipped items move accuracy (paired bootstrap); other data falls back to non-overlapping CIs', () => {
  const a = fakeResults();
  const same = compareRuns(a, clone(a), { bootstrap: 300 });
  assert.equal(same.moved.length, 0);
  assert.equal(same.model_changed || same.data_changed || same.config_changes.length > 0, false);

  const b = clone(a);
  b.model.sha256 = 'c'.repeat(64);
  const target = b.cells[3]!;
  let k = 0;
  target.correct = [...target.correct].map((ch) => (ch === '1' && k++ < 30 ? '0' : ch)).join('');
  (b.config as { stresses: { adversarial: { eps: number }[] } }).stresses.adversarial[1]!.eps = 0.04;
  b.cells.push(cell('c007-new', 'isolated', { drift: { corruption: 'fog', severity: 1 } }, { drift: 'fog s1' }, a.cells[0]!.correct));
  const c = compareRuns(a, b, { bootstrap: 300 });
  assert.equal(c.model_changed, true);
  assert.deepEqual(c.config_changes, [{ path: 'stresses.adversarial[1].eps', a: 0.03, b: 0.04 }]);
  assert.deepEqual(c.cells_only_b.map((x) => x.id), ['c007-new']);
  const moved = c.moved.filter((x) => x.metric === 'accuracy');
  assert.deepEqual(moved.map((x) => x.id_a), ['c003-drift']);
  assert.equal(moved[0]!.method, 'paired-bootstrap');
  assert.equal(moved[0]!.direction, 'worse');
  assert.ok(Math.abs(moved[0]!.diff! + 30 / N) < 1e-12);
  assert.ok(moved[0]!.diff_ci![1] < 0 && moved[0]!.mcnemar_p! < 1e-6);
  const text = compareText(c);
  assert.match(text, /model: CHANGED aaaaaaaaaaaa… → cccccccccccc…/);
  assert.match(text, /stresses\.adversarial\[1\]\.eps: 0\.03 → 0\.04/);
  assert.match(text, /✗ c003-drift .* accuracy .* worse \(paired 95% CI \[-0\.\d+, -0\.\d+\]/);

  // A small change on the same items stays within the paired CI.
  const small = clone(a);
  small.cells[3]!.correct = small.cells[3]!.correct.replace('1', '0');
  assert.equal(compareRuns(a, small, { bootstrap: 300 }).moved.length, 0);

  // Different data: no pairing; ECE moved only when the CIs do not overlap.
  const d = clone(a);
  d.data.sha256 = 'd'.repeat(64);
  d.cells[1]!.metrics.ece = { value: 0.3, ci: [0.25, 0.35] };
  d.cells[2]!.metrics.ece = { value: 0.12, ci: [0.09, 0.15] };
  const cd = compareRuns(a, d);
  assert.equal(cd.data_changed, true);
  assert.ok(cd.metrics.filter((x) => x.metric === 'accuracy').every((x) => x.method === 'ci-overlap'));
  assert.deepEqual(cd.moved.map((x) => [x.id_a, x.metric, x.direction]), [['c001-adv', 'ece', 'worse']]);
});

test('readResults and writeReports: clear errors for a missing or malformed run; NaN in memory and null on disk give the same report', () => {
  const dir = tmpDir('gauntlet-report-unit-');
  assert.throws(() => readResults(dir), (e: unknown) => e instanceof DataError && /results\.json: no such file/.test((e as Error).message));
  fs.writeFileSync(path.join(dir, 'results.json'), '{ not json');
  assert.throws(() => readResults(dir), /results\.json: not valid JSON/);
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify({ cells: [] }));
  assert.throws(() => readResults(dir), /not a Gauntlet results file \(missing model, data, budgets, interactions, performance\)/);
  const r = fakeResults();
  r.cells[0]!.metrics.confidence_on_errors = { value: NaN, ci: [NaN, NaN] };
  r.performance.floor_ratio = NaN;
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  writeReports(r, a);
  fs.writeFileSync(path.join(b + '.json'), JSON.stringify(r));
  writeReports(readResults(path.join(b + '.json')), b);
  for (const f of ['report.md', 'report.html', 'junit.xml']) assert.equal(fs.readFileSync(path.join(a, f), 'utf8'), fs.readFileSync(path.join(b, f), 'utf8'), f);
  assert.deepEqual(wilson(0, 0).map(Number.isNaN), [true, true]);
  const [lo, hi] = wilson(8, 10);
  assert.ok(Math.abs(lo - 0.4902) < 1e-3 && Math.abs(hi - 0.9433) < 1e-3, `${lo} ${hi}`);
});
