import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { resolveConfig, defaultConfig, type CampaignConfig } from '../src/campaign/config.js';
import { makePlan } from '../src/campaign/plan.js';
import { runCampaign, type CampaignResults } from '../src/campaign/runner.js';
import { ConfigError } from '../src/errors.js';
import { defaultAssets } from '../src/defaults.js';
import { cliBin, repoRoot, tmpDir } from './helpers.js';

/** A small campaign on the default model: 160 items, one setting of each kind. */
function smallConfig(extra: Record<string, unknown> = {}): CampaignConfig {
  return resolveConfig(
    {
      model: defaultAssets.model,
      data: { path: defaultAssets.data, limit: 160 },
      seed: 7,
      bootstrap: 200,
      stresses: {
        adversarial: [{ attack: 'fgsm', norm: 'linf', eps: 0.03 }],
        drift: [{ corruption: 'gaussian_noise', severity: 3 }],
        annotation: [{ model: 'symmetric', rate: 0.3 }],
      },
      ...extra,
    },
    'test',
    repoRoot,
  );
}

const metricValues = (r: CampaignResults) => r.cells.map((c) => ({ id: c.id, metrics: Object.fromEntries(Object.entries(c.metrics).map(([k, m]) => [k, [m.value, ...m.ci]])), observed: c.observed_metrics?.accuracy.value ?? null }));

test('the default campaign covers baseline, isolated, pairwise and combined cells of all three kinds', () => {
  const plan = makePlan(defaultConfig());
  const stages = new Set(plan.cells.map((c) => c.stage));
  for (const s of ['baseline', 'isolated', 'pairwise', 'combined']) assert.ok(stages.has(s as never), s);
  for (const k of ['adversarial', 'drift', 'annotation'] as const) assert.ok(plan.cells.some((c) => c.stage === 'isolated' && c[k]), k);
  assert.ok(plan.cells.some((c) => c.adversarial && c.drift && c.annotation));
});

test('factorial plans every combination including "none"; list sweeps expand', () => {
  const cfg = resolveConfig(
    { factorial: true, stresses: { adversarial: [{ attack: 'fgsm', norm: 'linf', eps: [0.01, 0.02] }], drift: [{ corruption: 'contrast', severity: 2 }] } },
    'test',
    repoRoot,
  );
  assert.equal(cfg.stresses.adversarial.length, 2);
  const plan = makePlan(cfg);
  assert.equal(plan.cells.length, 3 * 2);
  assert.equal(plan.cells.filter((c) => c.stage === 'baseline').length, 1);
});

test('config errors name the key and the allowed values', () => {
  assert.throws(() => resolveConfig({ seed: -1 }, 't', repoRoot), (e: unknown) => e instanceof ConfigError && /'seed' must be an integer in \[0, \d+\], got -1/.test((e as Error).message));
  assert.throws(() => resolveConfig({ stages: ['baseline', 'everything'] }, 't', repoRoot), /'stages\[1\]' must be one of baseline, isolated, pairwise, combined/);
  assert.throws(() => resolveConfig({ budgets: [{ metric: 'accuracy' }] }, 't', repoRoot), /'budgets\[0\]' must set at least one of min, max, max_drop/);
  assert.throws(() => resolveConfig({ budgets: [{ metric: 'acc', min: 1 }] }, 't', repoRoot), /'budgets\[0\].metric' must be one of accuracy/);
  assert.throws(() => resolveConfig({ stresses: { weather: [] } }, 't', repoRoot), /unknown key 'weather' in stresses; allowed: adversarial, drift, annotation/);
  assert.throws(() => resolveConfig({ factorial: true, stages: ['baseline'] }, 't', repoRoot), /exclude each other/);
});

test('same seed → same metric values; a killed run resumes to the same results without recomputing finished cells', async () => {
  const cfg = smallConfig();
  const a = await runCampaign(cfg, { outDir: path.join(tmpDir(), 'a') });
  const b = await runCampaign(cfg, { outDir: path.join(tmpDir(), 'b') });
  assert.deepEqual(metricValues(a), metricValues(b));
  assert.deepEqual(a.interactions, b.interactions);

  // Kill after 4 finished cells (an exception from the progress callback stops the run).
  const dir = path.join(tmpDir(), 'c');
  let done = 0;
  await assert.rejects(
    runCampaign(cfg, {
      outDir: dir,
      onEvent: (e) => {
        if (e.type === 'cell_done' && ++done === 4) throw new Error('killed');
      },
    }),
    /killed/,
  );
  assert.equal(fs.readdirSync(path.join(dir, 'cells')).length, 4);
  await assert.rejects(runCampaign(cfg, { outDir: dir }), (e: unknown) => e instanceof ConfigError && /--resume/.test((e as Error).message));
  const cached: string[] = [];
  const computed: string[] = [];
  const c = await runCampaign(cfg, {
    outDir: dir,
    resume: true,
    onEvent: (e) => {
      if (e.type === 'cell_done') (e.cached ? cached : computed).push(e.cell.id);
    },
  });
  assert.equal(cached.length, 4);
  assert.equal(computed.length, a.cells.length - 4);
  assert.deepEqual(metricValues(c), metricValues(a));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.model.sha256, a.model.sha256);
  assert.equal(manifest.data.sha256, a.data.sha256);
  assert.ok(manifest.cells.every((x: { seeds: object }) => typeof x.seeds === 'object'));
  // Resuming with another seed is refused: the run directory belongs to a different campaign.
  await assert.rejects(runCampaign({ ...cfg, seed: 8 }, { outDir: dir, resume: true }), /cannot resume/);
});

test('a failed budget exits 1 and is a <failure> in junit.xml', () => {
  const dir = tmpDir();
  const cfgFile = path.join(dir, 'budget.yaml');
  fs.writeFileSync(
    cfgFile,
    [
      `model: ${defaultAssets.model}`,
      `data: { path: ${defaultAssets.data}, limit: 100 }`,
      'bootstrap: 100',
      'stages: [baseline, isolated]',
      'stresses:',
      '  drift: [ { corruption: contrast, severity: 1 } ]',
      'budgets:',
      '  - { metric: accuracy, stage: baseline, min: 0.999 }',
      '  - { metric: accuracy, stage: baseline, min: 0.5 }',
    ].join('\n'),
  );
  const out = path.join(dir, 'run');
  const r = spawnSync(process.execPath, [cliBin, 'run', cfgFile, '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  const junit = fs.readFileSync(path.join(out, 'junit.xml'), 'utf8');
  assert.match(junit, /tests="2" failures="1"/);
  assert.match(junit, /<failure message="[^"]*bound:? min 0\.999/);
  assert.match(r.stdout, /FAIL\s+accuracy ≥ 0.999 at stage baseline/);
  assert.match(r.stdout, /PASS\s+accuracy ≥ 0.5 at stage baseline/);
});
