/**
 * The hub in a real browser (playwright-core + Debian's Chromium): two campaign runs of two versions
 * of one model (the second trained by `gauntlet train`, recorded with its lineage) are recorded by
 * the CLI, `gauntlet hub` serves them, and the pages show them — runs, a run with its report, the
 * model's history chart with both points, the comparison with the metrics that moved, budgets over
 * time — with no console errors (a Content-Security-Policy violation is one). Screenshots go to a
 * temporary folder, or to $GAUNTLET_HUB_SCREENSHOTS when set.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { defaultAssets } from '../src/defaults.js';
import { comparePage, historyPage, runPage, runsPage } from '../src/hub/pages.js';
import type { RunRecord } from '../src/registry/index.js';
import { cliBin, runCliAsync, tmpDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const noChromium = fs.existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) to run the browser tests; .ci/run does`;

const dir = tmpDir('gauntlet-hub-');
const shots = process.env.GAUNTLET_HUB_SCREENSHOTS ?? path.join(dir, 'screenshots');
const db = path.join(dir, 'registry.db');
let browser: Browser | undefined;
let hub: ChildProcess | undefined;
let url = '';
const ids: { a: string; b: string; train: string } = { a: '', b: '', train: '' };

before(async () => {
  if (noChromium) return;
  const cfg = path.join(dir, 'campaign.json');
  fs.writeFileSync(cfg, JSON.stringify({
    model: defaultAssets.model,
    data: { path: defaultAssets.data, limit: 150 },
    seed: 3,
    bootstrap: 200,
    stages: ['baseline', 'isolated'],
    stresses: { drift: [{ corruption: 'contrast', severity: 2 }], adversarial: [{ attack: 'fgsm', norm: 'linf', eps: 0.02 }] },
    budgets: [{ metric: 'accuracy', stage: 'baseline', min: 0.5 }],
  }));
  const recorded = (stderr: string) => /recorded run (\S+) in /.exec(stderr)?.[1] ?? assert.fail(`not recorded: ${stderr}`);
  const a = await runCliAsync(['run', cfg, '--out', path.join(dir, 'a'), '--registry', db], { timeout: 300000 });
  assert.equal(a.code, 0, a.stderr);
  ids.a = recorded(a.stderr);
  // Version 2 of "model": the same architecture trained briefly from scratch (much less accurate).
  const v2 = path.join(dir, 'v2', 'model.onnx');
  fs.mkdirSync(path.dirname(v2));
  const t = await runCliAsync(['train', '--out', v2, '--limit', '256', '--epochs', '1', '--registry', db], { timeout: 300000 });
  assert.equal(t.code, 0, t.stderr);
  ids.train = recorded(t.stderr);
  const b = await runCliAsync(['run', cfg, '--model', v2, '--out', path.join(dir, 'b'), '--registry', db], { timeout: 300000 });
  assert.equal(b.code, 1, b.stderr); // its baseline accuracy fails the 0.5 budget
  ids.b = recorded(b.stderr);
  hub = spawn(process.execPath, [cliBin, 'hub', '--port', '0', '--registry', db], { stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the hub did not start in 30 s: ${out}`)), 30000);
    hub!.stdout!.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) (clearTimeout(timer), resolve(m[1]!));
    });
    hub!.on('exit', (c) => (clearTimeout(timer), reject(new Error(`the hub exited ${c}: ${out}`))));
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  fs.mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  if (hub && hub.exitCode === null) {
    hub.kill('SIGTERM');
    await new Promise((resolve) => {
      const t = setTimeout(() => (hub!.kill('SIGKILL'), resolve(null)), 5000);
      hub!.on('exit', () => (clearTimeout(t), resolve(null)));
    });
  }
});

async function open(p: string, shot: string) {
  const page = await browser!.newPage({ viewport: { width: 1300, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('dialog', (d) => (errors.push(`dialog: ${d.message()}`), void d.dismiss()));
  const res = await page.goto(url + p, { waitUntil: 'load' });
  assert.equal(res?.status(), 200, p);
  await page.screenshot({ path: path.join(shots, `${shot}.png`), fullPage: true });
  return { page, errors };
}

test('the hub shows both recorded runs, the history chart has their points, compare shows the changed metrics; no console errors', { skip: noChromium, timeout: 600000 }, async () => {
  // Runs: both campaign runs and the training run; the failed one says so.
  const runs = await open('/', 'runs');
  const rows = await runs.page.$$eval('#runs-table tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent!.trim())));
  assert.deepEqual(rows.map((r) => [r[0], r[1], r[2]]), [[ids.b, 'run', 'failed'], [ids.train, 'train', 'passed'], [ids.a, 'run', 'passed']]);
  assert.deepEqual(rows.map((r) => [r[7], r[8]]), [['0', '1'], ['0', '0'], ['1', '0']]);
  await runs.page.selectOption('select[name=kind]', 'run');
  await Promise.all([runs.page.waitForNavigation(), runs.page.click('form.filters button')]);
  assert.equal(await runs.page.$$eval('#runs-table tbody tr', (t) => t.length), 2);
  // Sorting by a column (the report's script, allowed by hash).
  await runs.page.click('#runs-table thead th:nth-child(4)');
  assert.equal(await runs.page.getAttribute('#runs-table thead th:nth-child(4)', 'aria-sort'), 'ascending');
  assert.equal(await runs.page.textContent('#runs-table tbody tr:first-child td:first-child'), ids.a);
  assert.deepEqual(runs.errors, []);

  // A run: provenance and its report embedded.
  const run = await open(`/runs/${ids.b}`, 'run');
  assert.match((await run.page.textContent('table.facts'))!, /FAILED/);
  const frame = run.page.frames().find((f) => f.url().endsWith(`/runs/${ids.b}/report`));
  assert.ok(frame, 'the report is embedded');
  await frame.waitForSelector('#budgets');
  assert.match(await frame.title(), /Gauntlet report/);
  // (A full-page screenshot leaves a sandboxed frame blank in headless Chromium; this one shows it.)
  await run.page.locator('iframe.report').scrollIntoViewIfNeeded();
  await run.page.screenshot({ path: path.join(shots, 'run-report.png') });
  assert.deepEqual(run.errors, []);

  // The trained version's lineage.
  const tr = await open(`/runs/${ids.train}`, 'train-run');
  assert.match((await tr.page.textContent('table.facts'))!, /from model caa5abbcb326/);

  // History: each chart has one point per run, A's then B's, and a version change between them.
  const hist = await open('/models/model', 'history');
  const charts = await hist.page.$$eval('#history-charts figure', (fs) => fs.map((f) => ({ stress: f.getAttribute('data-stress'), runs: Array.from(f.querySelectorAll('g.pt')).map((g) => g.getAttribute('data-run')), values: Array.from(f.querySelectorAll('g.pt')).map((g) => Number(g.getAttribute('data-value'))), versions: f.querySelectorAll('.version-change').length, band: f.querySelectorAll('.ci-band').length })));
  assert.equal(charts.length, 3, JSON.stringify(charts));
  for (const c of charts) {
    assert.deepEqual(c.runs, [ids.a, ids.b], c.stress!);
    assert.deepEqual([c.versions, c.band], [1, 1], c.stress!);
  }
  const clean = charts.find((c) => c.stress === 'clean')!;
  assert.ok(clean.values[0]! > 0.8 && clean.values[1]! < 0.5, JSON.stringify(clean.values));
  assert.deepEqual(hist.errors, []);

  // Compare: the model changed and accuracy moved for the worse beyond its CI.
  const cmp = await open(`/compare?a=${ids.a}&b=${ids.b}`, 'compare');
  assert.match((await cmp.page.textContent('table.facts'))!, /model\s*changed/);
  const moved = await cmp.page.$$eval('#moved-table tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent!.trim())));
  const acc = moved.filter((r) => r[2] === 'accuracy');
  assert.equal(acc.length, 3, JSON.stringify(moved));
  assert.ok(acc.every((r) => r[6] === 'paired-bootstrap' && r[7] === 'worse'), JSON.stringify(acc));
  assert.equal(await cmp.page.textContent('#moved-count'), String(moved.length));
  assert.deepEqual(cmp.errors, []);

  // Budgets over time, and the JSON API.
  const bud = await open('/budgets', 'budgets');
  assert.deepEqual(await bud.page.$$eval('#budgets-over-time tbody td.pass-cell, #budgets-over-time tbody td.fail-cell', (tds) => tds.map((t) => t.textContent)), ['PASS', 'FAIL']);
  assert.deepEqual(bud.errors, []);
  const api = (await (await fetch(`${url}/api/runs?kind=run`)).json()) as { id: string }[];
  assert.deepEqual(api.map((r) => r.id), [ids.b, ids.a]);
  const bad = await fetch(`${url}/api/runs?kind=nope`);
  assert.equal(bad.status, 400);
  assert.equal((await fetch(`${url}/`, { method: 'POST' })).status, 405);
});

test('every value from a run is escaped in the hub pages', () => {
  const evil = '<script>alert(1)</script>';
  const rec: RunRecord = {
    id: 'run-x', kind: 'run', imported: false, status: 'passed', started_at: '2026-01-01T00:00:00.000Z', finished_at: '2026-01-01T00:00:01.000Z',
    model: { name: evil, path: `/m/${evil}.onnx`, sha256: 'a'.repeat(64), parent_sha256: null, parent_name: null }, models: [],
    data: { name: evil, path: evil, sha256: 'b'.repeat(64) }, config: { note: evil }, seed: 1, versions: { gauntlet: evil }, git_commit: null, out_dir: evil, results_sha256: null,
    metrics: [{ model_name: evil, model_sha256: 'a'.repeat(64), cell: evil, stage: 'baseline', stress: evil, metric: 'accuracy', value: 0.5, ci_lo: 0.4, ci_hi: 0.6 }],
    budgets: [{ name: evil, passed: false, message: evil }], artifacts: [{ name: evil, path: evil }], summary: { evil },
  };
  const summary = { id: 'run-x', kind: 'run' as const, imported: false, status: 'passed' as const, started_at: rec.started_at, finished_at: rec.finished_at, model_name: evil, model_sha256: 'a', parent_sha256: null, data_name: evil, data_sha256: null, seed: 1, git_commit: null, out_dir: evil, budgets_passed: 0, budgets_failed: 1 };
  const pages = [
    runPage(rec, true),
    runsPage([summary], { model: evil, since: evil }, evil, [evil]),
    historyPage(evil, [{ ...rec.metrics[0]!, run_id: 'run-x', started_at: rec.started_at }], 'accuracy'),
  ];
  for (const html of pages) {
    assert.doesNotMatch(html, /<script>alert/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  }
  assert.equal(typeof comparePage, 'function');
});
