/**
 * End-to-end report tests on a real (tiny) campaign: the HTML opens in headless Chromium with no
 * console errors and renders its charts (screenshots saved: the page, and its explanation and
 * uncertainty sections), user strings stay text in the browser,
 * `gauntlet report DIR` regenerates identical files, `gauntlet compare` flags moved metrics and
 * changed hashes, and a failing budget makes `gauntlet run` exit 1 with a JUnit <failure>.
 *
 * The campaign runs once (160 items, FGSM, Gaussian noise, label noise and simulated annotators,
 * with explain: and uncertainty: sections);
 * `withGallery` then adds per-cell `gallery` / `annotation_quality` and `data.class_names` the way
 * the runner is meant to (same seeds, so the gallery shows the very images the cells were scored on).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { resolveConfig, type CampaignConfig } from '../src/campaign/config.js';
import { makePlan } from '../src/campaign/plan.js';
import { runCampaign, type CampaignResults } from '../src/campaign/runner.js';
import { writeJson } from '../src/campaign/store.js';
import { loadDataset } from '../src/data/load.js';
import { subset } from '../src/data/dataset.js';
import { defaultAssets, defaultMeta } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { toProbabilities } from '../src/metrics/classification.js';
import { annotationQuality, galleryItems, REPORT_FILES, writeReports } from '../src/report/index.js';
import { Rng } from '../src/rng.js';
import { runAttack } from '../src/stress/adversarial/index.js';
import { applyAnnotation, auditLabels } from '../src/stress/annotation/index.js';
import { applyDrift } from '../src/stress/drift/index.js';
import { cliBin, repoRoot, tmpDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const noChromium = fs.existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) to run the browser tests; .ci/run does`;

function tinyConfig(): CampaignConfig {
  return resolveConfig(
    {
      model: defaultAssets.model,
      data: { path: defaultAssets.data, limit: 160 },
      seed: 7,
      bootstrap: 200,
      stresses: {
        adversarial: [{ attack: 'fgsm', norm: 'linf', eps: [0.01, 0.03] }],
        drift: [{ corruption: 'gaussian_noise', severity: [1, 3] }],
        annotation: [{ model: 'symmetric', rate: 0.3 }, { annotators: 5, 'annotator-accuracy': 0.7, coverage: 3, aggregate: 'dawid-skene' }],
      },
      explain: { method: 'saliency', samples: 8 },
      uncertainty: { temperature: true, conformal: { alpha: 0.1 }, selective: { target_risk: 0.05 } },
      budgets: [
        { metric: 'accuracy', stage: 'baseline', min: 0.999 },
        { metric: 'accuracy', stage: 'baseline', min: 0.5 },
        { metric: 'accuracy', stress: 'adversarial', max_drop: 0.05, pessimistic: true },
      ],
    },
    'report-e2e',
    repoRoot,
  );
}

/**
 * Adds `gallery` (and `annotation_quality`) to the baseline and single-stress cells, recomputing their inputs with the
 * runner's seeds (Rng(seed).fork('drift|key'), fork('adversarial|advKey|driftKey'), fork('annotation|key')).
 */
async function withGallery(r: CampaignResults, config: CampaignConfig): Promise<CampaignResults> {
  const plan = makePlan(config);
  const ds = await loadDataset(config.data);
  const model = await Model.open(config.model.path, { ...config.model });
  try {
    const labels = ds.labels!;
    const K = r.data.classes;
    const root = new Rng(config.seed);
    const predict = async (x: Float32Array, n: number) => toProbabilities((await model.predictBatch(x, n)).scores, K, model.outputKind ?? 'logits');
    const cleanProbs = await predict(ds.x, ds.size);
    const out: CampaignResults = JSON.parse(JSON.stringify(r));
    // The class names the runner is asked to store as data.class_names (npz files carry none).
    (out.data as { class_names?: string[] }).class_names = defaultMeta().class_names;
    for (const cell of plan.cells) {
      const kinds = (['adversarial', 'drift', 'annotation'] as const).filter((k) => cell[k]);
      if (kinds.length > 1) continue;
      const target = out.cells.find((c) => c.id === cell.id)!;
      let x = ds.x;
      let observed: Int32Array | null = null;
      let annotation_quality = null;
      if (cell.drift) {
        const d = applyDrift(ds, cell.drift.spec, root.fork(`drift|${cell.drift.key}`));
        x = d.indices ? subset(ds, d.indices).x : d.dataset.x;
      }
      if (cell.adversarial) {
        const a = await runAttack(model, ds.x, ds.size, labels, cell.adversarial.spec, root.fork(`adversarial|${cell.adversarial.key}|`), { batchSize: config.batchSize });
        x = a.adversarial;
      }
      if (cell.annotation) {
        const ann = applyAnnotation(labels, K, cell.annotation.spec, root.fork(`annotation|${cell.annotation.key}`), { ids: ds.ids, probs: cleanProbs });
        observed = ann.observed;
        annotation_quality = annotationQuality(ann, auditLabels(cleanProbs, K, ann.observed, { trueLabels: labels }), { ids: ds.ids });
      }
      const probs = x === ds.x ? cleanProbs : await predict(x, ds.size);
      const gallery = galleryItems({ probs, numClasses: K, labels, observed, inputs: x, clean: ds.x, itemShape: ds.itemShape, cleanProbs, ids: ds.ids });
      Object.assign(target, { gallery, annotation_quality });
    }
    return out;
  } finally {
    await model.close();
  }
}

let runDir = '';
let results: CampaignResults;
let browser: Browser | null = null;

before(async () => {
  const config = tinyConfig();
  runDir = path.join(tmpDir('gauntlet-report-e2e-'), 'run');
  const r = await runCampaign(config, { outDir: runDir });
  results = await withGallery(r, config);
  writeJson(path.join(runDir, 'results.json'), results);
  writeReports(results, runDir);
  if (!noChromium) browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
});

/** Opens a file in a fresh page; collects console errors, page errors and dialogs (alerts). */
async function open(file: string) {
  const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  return { page, errors, dialogs };
}

test('report.html opens in Chromium with no console errors, renders ≥ 3 non-empty charts, sorts tables, and covers every stress kind', { skip: noChromium }, async (t) => {
  const { page, errors, dialogs } = await open(path.join(runDir, 'report.html'));
  try {
    assert.deepEqual(errors, [], 'console errors');
    assert.deepEqual(dialogs, []);
    const charts = await page.$$eval('svg.chart', (els) => els.map((el) => ({ id: el.id, marks: el.querySelectorAll('path, circle, rect, polyline, polygon, line').length, w: el.getBoundingClientRect().width, h: el.getBoundingClientRect().height })));
    assert.ok(charts.length >= 3, `only ${charts.length} charts`);
    for (const c of charts) assert.ok(c.marks > 5 && c.w > 100 && c.h > 100, `chart ${c.id} is empty or collapsed: ${JSON.stringify(c)}`);
    const ids = charts.map((c) => c.id);
    for (const id of ['curve-adversarial', 'curve-drift', 'curve-annotation', 'risk-coverage', 'accuracy-per-cell', 'explain-drift-dots', 'conformal-coverage']) assert.ok(ids.includes(id), `missing chart ${id}`);
    assert.ok(ids.some((id) => id.startsWith('heat-')), 'no heatmap');
    assert.ok(ids.some((id) => id.startsWith('rel-')), 'no reliability diagram');
    // Every robustness curve has a CI band, every series a marker.
    assert.ok((await page.locator('#curve-adversarial polygon.ci-band').count()) >= 1);
    // Gallery pictures decode (naturalWidth > 0) and the annotation quality tables are there.
    const imgs = await page.$$eval('img.px', (els) => els.map((el) => (el as HTMLImageElement).naturalWidth));
    assert.ok(imgs.length >= 6 && imgs.every((w) => w === 28), `gallery images: ${imgs.slice(0, 8).join(', ')}`);
    assert.equal(await page.locator('table[id^="annotators-"] tbody tr').count(), 5);
    assert.ok((await page.locator('table[id^="flagged-"] tbody tr').count()) >= 1);
    const text = (await page.textContent('body')) ?? '';
    for (const needle of ['fgsm linf ε=0.01', 'gaussian_noise s3', 'symmetric 0.3', 'annotators', 'measurement gap', 'Per-annotator quality', 'Label audit', 'compounding', 'Ankle boot', '✗ 2 of 3 budgets FAILED', 'Explanations: drift and layer sensitivity', 'Spearman', 'Uncertainty under stress', 'ECE after', 'coverage verdict']) {
      assert.ok(text.includes(needle), `report text lacks '${needle}'`);
    }
    assert.ok(!text.includes('not available in this run'), 'curves, gallery and annotation quality are present, yet a part says they are not');
    // Sorting: click "accuracy" of the cells table twice → ascending then descending.
    const col = await page.$$eval('#cells-table thead th', (ths) => ths.findIndex((th) => th.textContent === 'accuracy'));
    const values = () => page.$$eval('#cells-table tbody tr', (rows, c) => rows.map((r) => Number((r as HTMLTableRowElement).cells[c as number]!.getAttribute('data-v'))), col);
    await page.locator('#cells-table thead th').nth(col).click();
    const asc = await values();
    assert.deepEqual(asc, [...asc].sort((a, b) => a - b));
    await page.locator('#cells-table thead th').nth(col).click();
    const desc = await values();
    assert.deepEqual(desc, [...asc].sort((a, b) => b - a));
    assert.deepEqual(errors, [], 'console errors after interaction');
    const shotDir = path.join(os.tmpdir(), 'gauntlet-report-e2e');
    fs.mkdirSync(shotDir, { recursive: true });
    const shot = path.join(shotDir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(fs.statSync(shot).size > 50_000);
    t.diagnostic(`screenshot: ${shot}`);
    for (const id of ['explanations', 'uncertainty']) {
      const part = path.join(shotDir, `${id}.png`);
      await page.locator(`#${id}`).screenshot({ path: part });
      t.diagnostic(`screenshot of #${id}: ${part}`);
    }
  } finally {
    await page.close();
  }
});

test('class names and user strings render as text in the browser: no alert, no injected elements', { skip: noChromium }, async () => {
  const evil: CampaignResults = JSON.parse(JSON.stringify(results));
  const names = defaultMeta().class_names.slice();
  names[0] = '<script>alert(1)</script>';
  names[9] = '"><img src=x onerror=alert(2)>';
  evil.data = { ...evil.data, path: '/data/"><svg onload=alert(3)>.npz', class_names: names } as CampaignResults['data'];
  evil.model = { ...evil.model, path: '/models/<img src=x onerror=alert(4)>.onnx' };
  evil.cells[1]!.labels = { adversarial: '<iframe src="javascript:alert(5)"></iframe>' };
  (evil.cells[1]!.details as { adversarial: { flags: string[] } }).adversarial.flags = ['<b onmouseover=alert(6)>flag</b>'];
  const dir = path.join(tmpDir('gauntlet-report-xss-'), 'run');
  writeReports(evil, dir);
  const { page, errors, dialogs } = await open(path.join(dir, 'report.html'));
  try {
    await page.mouse.move(300, 300);
    assert.deepEqual(dialogs, [], 'an alert fired');
    assert.deepEqual(errors, []);
    assert.equal(await page.locator('script').count(), 1, 'only the report’s own script');
    assert.equal(await page.locator('iframe, img[src="x"], svg[onload], b[onmouseover]').count(), 0);
    const text = (await page.textContent('body')) ?? '';
    for (const s of ['<script>alert(1)</script>', '"><img src=x onerror=alert(2)>', '/models/<img src=x onerror=alert(4)>.onnx', '<iframe src="javascript:alert(5)"></iframe>', '<b onmouseover=alert(6)>flag</b>']) {
      assert.ok(text.includes(s), `'${s}' is not shown as text`);
    }
  } finally {
    await page.close();
  }
});

test('gauntlet report DIR regenerates byte-identical report files from results.json', () => {
  const before = Object.fromEntries(REPORT_FILES.map((f) => [f, fs.readFileSync(path.join(runDir, f))]));
  for (const f of REPORT_FILES) fs.rmSync(path.join(runDir, f));
  const p = spawnSync(process.execPath, [cliBin, 'report', runDir], { encoding: 'utf8' });
  assert.equal(p.status, 1, `exit 1 because a budget failed; stderr: ${p.stderr}`);
  assert.match(p.stdout, /wrote .*report\.md.*report\.html.*junit\.xml/);
  for (const f of REPORT_FILES) assert.ok(fs.readFileSync(path.join(runDir, f)).equals(before[f]!), `${f} differs after regeneration`);
  // The path of results.json works too; a directory without one is a clear error (exit 2).
  const q = spawnSync(process.execPath, [cliBin, 'report', path.join(runDir, 'results.json'), '--json'], { encoding: 'utf8' });
  assert.equal(JSON.parse(q.stdout.trim()).budgets_failed, 2);
  const empty = tmpDir('gauntlet-report-empty-');
  const bad = spawnSync(process.execPath, [cliBin, 'report', empty], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /results\.json: no such file/);
});

test('junit.xml: one test case per budget; a failed budget is a <failure> with the measured value, its CI and the bound', () => {
  const xml = fs.readFileSync(path.join(runDir, 'junit.xml'), 'utf8');
  assert.match(xml, /<testsuite name="budgets" tests="3" failures="2"/);
  assert.equal(xml.match(/<testcase /g)?.length, 3);
  assert.equal(xml.match(/<failure /g)?.length, 2);
  const base = results.cells[0]!.metrics.accuracy;
  const f = xml.match(/<testcase [^>]*name="accuracy ≥ 0\.999 at stage baseline"[^>]*>\s*<failure message="([^"]*)"/);
  assert.ok(f, 'the min 0.999 budget fails');
  assert.ok(f[1]!.includes(`accuracy = ${base.value.toFixed(4)} (95% CI [${base.ci[0].toFixed(4)}, ${base.ci[1].toFixed(4)}])`), f[1]);
  assert.ok(f[1]!.includes('bound min 0.999'), f[1]);
  assert.match(xml, /name="accuracy ≥ 0\.5 at stage baseline" time="0">\s*<system-out>/);
  assert.match(xml, /judged on the pessimistic CI end [0-9.]+; drop from baseline [0-9.]+ = [0-9.]+; bound max_drop 0\.05; FAIL/);
});

test('gauntlet compare reports changed hashes and a metric that moved beyond its CI (paired bootstrap), with --json', () => {
  const other: CampaignResults = JSON.parse(JSON.stringify(results));
  other.model.sha256 = 'f'.repeat(64);
  // Cell 3 (drift) loses 25 correct items: a paired difference far outside its CI.
  const cell = other.cells[3]!;
  let flipped = 0;
  cell.correct = [...cell.correct].map((ch) => (ch === '1' && flipped < 25 ? (flipped++, '0') : ch)).join('');
  const acc = [...cell.correct].filter((ch) => ch === '1').length / cell.correct.length;
  cell.metrics.accuracy = { value: acc, ci: [acc - 0.05, acc + 0.05] };
  const dirB = path.join(tmpDir('gauntlet-report-cmp-'), 'b');
  fs.mkdirSync(dirB, { recursive: true });
  writeJson(path.join(dirB, 'results.json'), other);
  const p = spawnSync(process.execPath, [cliBin, 'compare', runDir, dirB, '--json'], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const c = JSON.parse(p.stdout.trim());
  assert.equal(c.model_changed, true);
  assert.equal(c.data_changed, false);
  const moved = c.moved.filter((m: { metric: string }) => m.metric === 'accuracy');
  assert.deepEqual(moved.map((m: { id_b: string }) => m.id_b), [cell.id]);
  assert.equal(moved[0].method, 'paired-bootstrap');
  assert.equal(moved[0].direction, 'worse');
  assert.ok(moved[0].diff_ci[1] < 0);
  const text = spawnSync(process.execPath, [cliBin, 'compare', runDir, dirB, '--fail-on-regression'], { encoding: 'utf8' });
  assert.equal(text.status, 1);
  assert.match(text.stdout, /model: CHANGED/);
  assert.match(text.stdout, new RegExp(`✗ ${cell.id}.*accuracy.*worse \\(paired 95% CI`));
  const same = spawnSync(process.execPath, [cliBin, 'compare', runDir, runDir, '--fail-on-regression'], { encoding: 'utf8' });
  assert.equal(same.status, 0);
  assert.match(same.stdout, /model: unchanged[\s\S]*config: unchanged[\s\S]*\(0 of \d+ compared moved\)/);
});

test('gauntlet run with budgets [{metric: accuracy, stage: baseline, min: 0.999}] exits 1 and junit.xml carries the <failure>', () => {
  const dir = tmpDir('gauntlet-report-run-');
  const cfg = path.join(dir, 'campaign.yaml');
  fs.writeFileSync(
    cfg,
    `model: ${JSON.stringify(defaultAssets.model)}\ndata: ${JSON.stringify(defaultAssets.data)}\nstages: [baseline, isolated]\nbootstrap: 100\n` +
      `stresses:\n  drift: [{ corruption: contrast, severity: 1 }]\nbudgets:\n  - { metric: accuracy, stage: baseline, min: 0.999 }\n`,
  );
  const out = path.join(dir, 'run');
  const p = spawnSync(process.execPath, [cliBin, 'run', cfg, '--out', out, '--limit', '100'], { encoding: 'utf8' });
  assert.equal(p.status, 1, p.stderr);
  const xml = fs.readFileSync(path.join(out, 'junit.xml'), 'utf8');
  assert.match(xml, /<testcase [^>]*name="accuracy ≥ 0\.999 at stage baseline"[^>]*>\s*<failure message="[^"]*95% CI \[[0-9.]+, [0-9.]+\][^"]*bound min 0\.999/);
  for (const f of REPORT_FILES) assert.ok(fs.existsSync(path.join(out, f)), f);
});
