/**
 * The report sections that results.json held but report.md / report.html never showed: the
 * config's explain: (explanation drift, layer sensitivity) and uncertainty: (temperature,
 * calibration before/after, conformal coverage and set size, selective prediction, ensembles, MC
 * dropout) sections, each number with its CI; and interaction verdicts at the accuracy floor.
 * Hand-made results first (no model runs), then one small real campaign.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { resolveConfig } from '../src/campaign/config.js';
import { makePlan } from '../src/campaign/plan.js';
import { computeInteractions, runCampaign, type CampaignResults, type CellResult } from '../src/campaign/runner.js';
import { defaultAssets } from '../src/defaults.js';
import type { ExplainCellSummary } from '../src/explain/cell.js';
import type { LayerSensitivity } from '../src/explain/layers.js';
import { interactionVerdict } from '../src/metrics/interaction.js';
import { bootstrapWeights } from '../src/metrics/suite.js';
import { fmt } from '../src/report/format.js';
import { htmlReport, markdownReport, regenerateReports, REPORT_FILES, writeReports } from '../src/report/index.js';
import { Rng } from '../src/rng.js';
import type { UncertaintyCellSummary, UncertaintyContextSummary } from '../src/uncertainty/campaign.js';
import { repoRoot, tmpDir } from './helpers.js';
import { bits, cell, fakeResults, N } from './report-fixture.js';

// ---------------------------------------------------------------------------------------------
// Hand-made sections with recognisable numbers.

const mci = (mean: number, lo: number, hi: number) => ({ mean, lo, hi });

function layers(evilName = 'conv1/out'): LayerSensitivity {
  const layer = (name: string, component: LayerSensitivity['layers'][number]['component'], relChange: number): LayerSensitivity['layers'][number] => ({
    name,
    op: 'Conv',
    node: `${name}-node`,
    component,
    elements: 100,
    perItem: true,
    relChange,
    gain: 1.5,
    relChangeCi: [relChange - 0.01, relChange + 0.01],
    gainCi: [1.4, 1.6],
  });
  return {
    items: 8,
    inputRelChange: 0.2111,
    inputRelChangeCi: [0.2011, 0.2211],
    layers: [layer(evilName, 'early_features', 0.3111), layer('fc/out', 'head', 0.7111)],
    components: [
      { component: 'early_features', layers: 1, meanRelChange: 0.3111, gain: 1.4733, firstFlips: 1, meanRelChangeCi: [0.3011, 0.3211], gainCi: [1.4133, 1.5333] },
      { component: 'head', layers: 1, meanRelChange: 0.7111, gain: 2.2866, firstFlips: 2, meanRelChangeCi: [0.7011, 0.7211], gainCi: [2.1866, 2.3866] },
    ],
    flips: { flipped: 4, criterion: 'centroid-probe', firstLayer: [{ layer: evilName, count: 1 }, { layer: 'fc/out', count: 2 }], undetermined: 1, perItem: [] },
  };
}

function explanation(spearman: number, layerName?: string): ExplainCellSummary {
  return {
    method: 'ig',
    target: 'true',
    samples: 8,
    features: null,
    steps: 16,
    meanAbsAttribution: { clean: 0.0123, stressed: 0.0456 },
    completeness: { clean: { meanRelError: 0.0111, maxRelError: 0.0222, meanAbsError: 0.001 }, stressed: { meanRelError: 0.0333, maxRelError: 0.0444, meanAbsError: 0.002 } },
    flipped: 4,
    accuracy: { clean: 0.875, stressed: 0.5 },
    drift: { topKFraction: 0.1, k: 79, spearman: mci(spearman, spearman - 0.0311, spearman + 0.0344), iou: mci(0.2468, 0.2222, 0.2777), massShift: mci(0.1357, 0.1111, 0.1555), perItem: { spearman: [], iou: [], massShift: [] } },
    layers: layers(layerName),
    seconds: 1,
  };
}

function uncertainty(coverage: number): UncertaintyCellSummary {
  const ci = (v: number): [number, number] => [v - 0.0211, v + 0.0233];
  return {
    items: 200,
    evaluated: 100,
    accuracy: 0.8123,
    ece: 0.0911,
    nll: 0.5432,
    mean_max_softmax: 0.8765,
    mean_margin: 0.7654,
    mean_entropy: 0.3456,
    aurc: 0.0678,
    rc_coverage: [0.5, 1],
    rc_risk: [0.01, 0.2],
    rc_threshold: [0.9, 0.1],
    temperature: 1.2345,
    ece_before: 0.0911,
    ece_after: 0.0432,
    nll_before: 0.5432,
    nll_after: 0.4987,
    conformal_target: 0.9,
    conformal_coverage: coverage,
    conformal_mean_set_size: 1.8765,
    conformal_empty_rate: 0.0123,
    selective_target_risk: 0.05,
    selective_threshold: 0.9123,
    selective_risk: 0.0789,
    selective_coverage: 0.6543,
    ensemble_members: 3,
    ensemble_accuracy: 0.8345,
    ensemble_nll: 0.4567,
    ensemble_ece: 0.0345,
    ensemble_mean_entropy: 0.4012,
    ensemble_mean_mutual_information: 0.0567,
    mc_passes: 20,
    mc_accuracy: 0.8012,
    mc_nll: 0.5123,
    mc_ece: 0.0456,
    mc_mean_entropy: 0.4321,
    mc_mean_mutual_information: 0.0345,
    mc_mean_variance: 0.0234,
    accuracy_ci: ci(0.8123),
    ece_ci: ci(0.0911),
    ece_before_ci: ci(0.0911),
    ece_after_ci: ci(0.0432),
    nll_before_ci: ci(0.5432),
    nll_after_ci: ci(0.4987),
    conformal_coverage_ci: ci(coverage),
    conformal_mean_set_size_ci: ci(1.8765),
    conformal_empty_rate_ci: ci(0.0123),
    selective_risk_ci: ci(0.0789),
    selective_coverage_ci: ci(0.6543),
    ensemble_accuracy_ci: ci(0.8345),
    mc_accuracy_ci: ci(0.8012),
    mc_mean_variance_ci: ci(0.0234),
  };
}

const context: UncertaintyContextSummary = {
  calibration_items: 100,
  evaluation_items: 100,
  calibration_indices: [],
  temperature: 1.2345,
  temperature_fit_nll_before: 0.5111,
  temperature_fit_nll_after: 0.4888,
  conformal_alpha: 0.1,
  conformal_qhat: 0.8765,
  conformal_rank: 91,
  selective_target_risk: 0.05,
  selective_threshold: 0.9123,
  selective_calibration_risk: 0.0444,
  selective_calibration_coverage: 0.7,
  ensemble_members: 3,
  mc_passes: 20,
  mc_dropout_sites: 2,
};

/** The hand-built run with explanations on its stress cells and uncertainty on every cell. */
function withSections(layerName?: string): CampaignResults {
  const r = fakeResults();
  r.cells.forEach((c, i) => {
    Object.assign(c, { uncertainty: uncertainty(i === 2 ? 0.4321 : 0.8912), explanations: Object.keys(c.stresses).length ? explanation(i === 2 ? 0.1234 : 0.6543, layerName) : null });
  });
  r.uncertainty = context;
  return r;
}

/** "v [lo, hi]" as report.md writes it, and the HTML cell content. */
const mdCi = (v: number, lo: number, hi: number, d = 3) => `${fmt(v, d)} [${fmt(lo, d)}, ${fmt(hi, d)}]`;
const htmlCi = (v: number, lo: number, hi: number, d = 3) => `${fmt(v, d)} <small>[${fmt(lo, d)}, ${fmt(hi, d)}]</small>`;

test('explanation drift and layer sensitivity in results.json reach report.md and report.html, each mean with its CI', () => {
  const r = withSections();
  const md = markdownReport(r);
  const html = htmlReport(r);
  assert.ok(md.includes('## Explanation drift and layer sensitivity'));
  for (const [v, lo, hi] of [[0.1234, 0.0923, 0.1578], [0.2468, 0.2222, 0.2777], [0.1357, 0.1111, 0.1555], [0.2111, 0.2011, 0.2211], [0.7111, 0.7011, 0.7211], [2.2866, 2.1866, 2.3866]] as const) {
    assert.ok(md.includes(mdCi(v, lo, hi)), `report.md lacks ${mdCi(v, lo, hi)}`);
    assert.ok(html.includes(htmlCi(v, lo, hi)), `report.html lacks ${htmlCi(v, lo, hi)}`);
  }
  // Flips as a share with a Wilson interval, where they first show, and IG completeness.
  assert.ok(md.includes('0.500 [0.215, 0.785]'), 'flipped 4 of 8 with its Wilson CI');
  assert.ok(md.includes('early features 1, head 2 of 4 flipped; 1 not located'));
  assert.ok(md.includes('0.0333') && html.includes('explain-completeness'));
  assert.ok(md.includes('ig (16 steps), target true label'));
  // The most drifted cell is a key finding; HTML draws the agreement chart and lists every layer.
  assert.ok(md.includes('attributions drift most under fgsm linf ε=0.03'), md.split('\n').filter((l) => l.includes('Explanations')).join('\n'));
  assert.ok(html.includes('id="explain-drift-dots"') && html.includes('id="explain-layers"') && html.includes('href="#explanations"'));
});

test('temperature, calibration before/after, conformal coverage and set size, selective risk, ensemble and MC dropout reach both reports with CIs', () => {
  const r = withSections();
  const md = markdownReport(r);
  const html = htmlReport(r);
  assert.ok(md.includes('## Uncertainty under stress'));
  assert.ok(md.includes('temperature T = 1.2345 (calibration NLL 0.5111 → 0.4888 nats)'));
  assert.ok(md.includes('q̂ = 0.8765') && md.includes('selective threshold τ = 0.9123'));
  const pairs: [number, number?][] = [[0.0911], [0.0432], [0.5432], [0.4987], [0.4321], [0.0123], [0.0789], [0.6543], [0.8345], [0.8012], [0.0234, 4], [1.8765, 2]];
  for (const [v, d = 3] of pairs) {
    assert.ok(md.includes(mdCi(v, v - 0.0211, v + 0.0233, d)), `report.md lacks ${mdCi(v, v - 0.0211, v + 0.0233, d)}`);
    assert.ok(html.includes(htmlCi(v, v - 0.0211, v + 0.0233, d)), `report.html lacks ${htmlCi(v, v - 0.0211, v + 0.0233, d)}`);
  }
  // Verdicts against the targets: coverage 0.432 [0.411, 0.455] breaks 0.9; 0.891 [0.870, 0.915] holds.
  assert.ok(md.includes('broken: below target') && md.includes('holds (CI covers target)'));
  assert.ok(md.includes('broken: above target'), 'selective risk 0.079 [0.058, 0.102] is above its 0.05 target');
  assert.ok(md.includes('coverage falls to 0.432 [0.411, 0.455] under fgsm linf ε=0.03 (target 0.900)'));
  assert.ok(html.includes('id="conformal-coverage"') && html.includes('target 0.90') && html.includes('href="#uncertainty"'));
  for (const id of ['unc-calibration', 'unc-conformal', 'unc-selective', 'unc-scores', 'unc-ensemble', 'unc-mc-dropout']) assert.ok(html.includes(`id="${id}"`), id);
});

test('a run without explain: or uncertainty: sections says so in report.html and adds no empty sections to report.md', () => {
  const r = fakeResults();
  const md = markdownReport(r);
  const html = htmlReport(r);
  assert.ok(!md.includes('## Explanation drift') && !md.includes('## Uncertainty'));
  assert.ok(html.includes('No explanations in this run: the config has no explain: section'));
  assert.ok(html.includes('No uncertainty figures in this run: the config has no uncertainty: section'));
});

test('uncertainty figures without CIs (a results.json from before they were stored) show the value alone', () => {
  const r = withSections();
  for (const c of r.cells) {
    const u = c.uncertainty as unknown as Record<string, unknown>;
    for (const k of Object.keys(u)) if (k.endsWith('_ci')) delete u[k];
  }
  const md = markdownReport(r);
  assert.ok(md.includes('| 0.900 | 0.432 | 1.88 | 0.012 | broken: below target |'), md.split('\n').filter((l) => l.includes('0.432')).join('\n'));
  assert.ok(!htmlReport(r).includes('0.432 <small>'));
});

test('layer names and stress labels in the new sections stay escaped in report.html and report.md', () => {
  const evil = '<img src=x onerror=alert(1)>';
  const r = withSections(evil);
  r.cells[1]!.labels = { adversarial: '<script>alert(2)</script>' };
  const html = htmlReport(r);
  assert.ok(!html.includes(evil) && !html.includes('<script>alert(2)'));
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;') && html.includes('&lt;script&gt;alert(2)&lt;/script&gt;'));
  const md = markdownReport(r);
  assert.ok(!md.includes('<script>') && md.includes('&lt;script&gt;alert(2)&lt;/script&gt;'));
});

// ---------------------------------------------------------------------------------------------
// Interaction verdicts at the accuracy floor.

test('interactionVerdict: a cell whose accuracy CI reaches zero, or whose isolated drops exceed the baseline, is at the floor — not overlapping', () => {
  const base = { interactionCi: [-0.4, -0.2] as const, baseline: 0.9 };
  assert.deepEqual(interactionVerdict({ ...base, cellAccuracyCi: [0, 0], additive: 1.2 }), { verdict: 'floor', floor: 'zero_accuracy' });
  assert.deepEqual(interactionVerdict({ ...base, cellAccuracyCi: [0, 0.03], additive: 0.8 }), { verdict: 'floor', floor: 'zero_accuracy' });
  assert.deepEqual(interactionVerdict({ ...base, cellAccuracyCi: [0.02, 0.08], additive: 1.1 }), { verdict: 'floor', floor: 'drops_exceed_baseline' });
  assert.deepEqual(interactionVerdict({ ...base, cellAccuracyCi: [0.2, 0.3], additive: 0.8 }), { verdict: 'overlapping', floor: null });
  assert.deepEqual(interactionVerdict({ interactionCi: [0.1, 0.2], cellAccuracyCi: [0.1, 0.2], baseline: 0.9, additive: 0.5 }), { verdict: 'compounding', floor: null });
  assert.deepEqual(interactionVerdict({ interactionCi: [-0.1, 0.2], cellAccuracyCi: [0.1, 0.2], baseline: 0.9, additive: 0.5 }), { verdict: 'additive', floor: null });
});

/** A plan with one attack and one corruption (baseline, isolated, pairwise) and cells with given accuracies. */
function floorRun(accuracies: { clean: number; adv: number; drift: number; both: number }): CampaignResults {
  const config = resolveConfig(
    { stages: ['baseline', 'isolated', 'pairwise'], stresses: { adversarial: [{ attack: 'fgsm', norm: 'linf', eps: 0.1 }], drift: [{ corruption: 'gaussian_noise', severity: 5 }] } },
    'floor',
    repoRoot,
  );
  const plan = makePlan(config);
  const rng = new Rng('floor');
  const cells: CellResult[] = plan.cells.map((p) => {
    const kinds = (['adversarial', 'drift'] as const).filter((k) => p[k]);
    const acc = kinds.length === 2 ? accuracies.both : kinds[0] === 'adversarial' ? accuracies.adv : kinds[0] === 'drift' ? accuracies.drift : accuracies.clean;
    return cell(p.id, p.stage, Object.fromEntries(kinds.map((k) => [k, p[k]!.spec])), Object.fromEntries(kinds.map((k) => [k, p[k]!.label])), bits(rng, acc));
  });
  const r = fakeResults();
  r.cells = cells;
  r.budgets = [];
  r.interactions = computeInteractions(plan, cells, bootstrapWeights(N, 200, new Rng('floor-boot')), 0);
  return r;
}

test('a combined cell at zero accuracy gets interaction verdict "floor" in results and in both reports, its numbers kept', () => {
  const r = floorRun({ clean: 0.9, adv: 0.1, drift: 0.7, both: 0 });
  const [i] = r.interactions.filter((x) => x.metric === 'accuracy');
  assert.equal(i!.verdict, 'floor');
  assert.equal(i!.floor, 'zero_accuracy');
  assert.ok(Math.abs(i!.interaction.value - (i!.observed_drop.value - i!.additive_drop.value)) < 1e-12, 'Δ is still stored');
  const md = markdownReport(r);
  assert.ok(md.includes('⊥ floor: the combined cell is at zero accuracy (its CI reaches 0), so its drop cannot grow — an artefact, not an interaction'));
  assert.ok(md.includes('**At the accuracy floor:** 1 of 1 multi-stress cells'));
  assert.ok(!md.includes('overlapping'), 'the floor is not reported as overlapping stresses');
  const html = htmlReport(r);
  assert.ok(html.includes('⊥ floor: no interaction') && html.includes('is an artefact)</small>'));
  assert.ok(!html.includes('▼ overlapping</td>'));
});

test('isolated drops that sum to more than the baseline can lose give verdict "floor", said in words; ordinary cells keep their verdicts', () => {
  const r = floorRun({ clean: 0.9, adv: 0.3, drift: 0.2, both: 0.15 });
  const [i] = r.interactions.filter((x) => x.metric === 'accuracy');
  assert.ok(i!.additive_drop.value > 0.9, `additive ${i!.additive_drop.value}`);
  assert.equal(i!.verdict, 'floor');
  assert.equal(i!.floor, 'drops_exceed_baseline');
  assert.ok(markdownReport(r).includes('the isolated drops sum to more than the baseline accuracy can lose'));
  const ok = floorRun({ clean: 0.9, adv: 0.8, drift: 0.8, both: 0.3 });
  assert.equal(ok.interactions[0]!.verdict, 'compounding');
  assert.equal(ok.interactions[0]!.floor, null);
});

// ---------------------------------------------------------------------------------------------
// One small real campaign with both sections.

test('a campaign with explain: and uncertainty: puts their numbers and CIs into report.md and report.html, and `gauntlet report` regenerates them byte-identically', async () => {
  const config = resolveConfig(
    {
      model: defaultAssets.model,
      data: { path: defaultAssets.data, limit: 80 },
      seed: 11,
      bootstrap: 100,
      stages: ['baseline', 'isolated'],
      stresses: { adversarial: [{ attack: 'fgsm', norm: 'linf', eps: 0.05 }], drift: [{ corruption: 'gaussian_noise', severity: 4 }] },
      explain: { method: 'saliency', samples: 6 },
      uncertainty: { temperature: true, conformal: { alpha: 0.1 }, selective: { target_risk: 0.1 } },
    },
    'report-sections',
    repoRoot,
  );
  const dir = path.join(tmpDir('gauntlet-report-sections-'), 'run');
  const r = await runCampaign(config, { outDir: dir });
  writeReports(r, dir);
  const stored = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as CampaignResults;
  const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
  const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  const adv = stored.cells.find((c) => 'adversarial' in c.stresses)!;
  const x = adv.explanations!;
  const u = adv.uncertainty!;
  // results.json carries the CIs …
  for (const ci of [u.accuracy_ci, u.ece_after_ci, u.conformal_coverage_ci, u.conformal_mean_set_size_ci, u.selective_risk_ci, x.layers!.inputRelChangeCi, x.layers!.components[0]!.meanRelChangeCi]) {
    assert.ok(Array.isArray(ci) && ci.length === 2 && ci[0]! <= ci[1]!, JSON.stringify(ci));
  }
  assert.ok(u.accuracy_ci![0] <= u.accuracy && u.accuracy <= u.accuracy_ci![1]);
  // … and both reports show them.
  const shown: [number, readonly number[], number][] = [
    [x.drift.spearman.mean, [x.drift.spearman.lo, x.drift.spearman.hi], 3],
    [x.drift.iou.mean, [x.drift.iou.lo, x.drift.iou.hi], 3],
    [x.layers!.inputRelChange, x.layers!.inputRelChangeCi!, 3],
    [u.ece_before!, u.ece_before_ci!, 3],
    [u.ece_after!, u.ece_after_ci!, 3],
    [u.nll_after!, u.nll_after_ci!, 3],
    [u.conformal_coverage!, u.conformal_coverage_ci!, 3],
    [u.conformal_mean_set_size!, u.conformal_mean_set_size_ci!, 2],
    [u.selective_risk!, u.selective_risk_ci!, 3],
  ];
  for (const [v, [lo, hi], d] of shown) {
    assert.ok(md.includes(mdCi(v, lo!, hi!, d)), `report.md lacks ${mdCi(v, lo!, hi!, d)}`);
    assert.ok(html.includes(htmlCi(v, lo!, hi!, d)), `report.html lacks ${htmlCi(v, lo!, hi!, d)}`);
  }
  assert.ok(md.includes(`temperature T = ${fmt(u.temperature, 4)}`) && html.includes(`temperature T = ${fmt(u.temperature, 4)}`));
  // Pure functions of results.json: regenerating gives the same bytes.
  const before = REPORT_FILES.map((f) => fs.readFileSync(path.join(dir, f)));
  regenerateReports(dir);
  REPORT_FILES.forEach((f, k) => assert.ok(fs.readFileSync(path.join(dir, f)).equals(before[k]!), `${f} changed on regeneration`));
});
