/** runCell and its hooks used directly, as a training step, stream segment or queued job would. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CELL_HOOKS, cleanState, newCellCaches, runCell, runHooks, type AnyCellHook, type CellContext } from '../src/campaign/cell.js';
import { resolveConfig } from '../src/campaign/config.js';
import { makePlan } from '../src/campaign/plan.js';
import { jsonReplacer } from '../src/campaign/store.js';
import { openCampaignInputs, runCampaign } from '../src/campaign/runner.js';
import type { CellResult } from '../src/campaign/types.js';
import { defaultAssets } from '../src/defaults.js';
import { toProbabilities } from '../src/metrics/classification.js';
import { bootstrapWeights } from '../src/metrics/suite.js';
import { Rng } from '../src/rng.js';
import { repoRoot, tmpDir } from './helpers.js';

const config = resolveConfig(
  {
    model: defaultAssets.model,
    data: { path: defaultAssets.data, limit: 120 },
    seed: 11,
    bootstrap: 100,
    stresses: {
      adversarial: [{ attack: 'fgsm', norm: 'linf', eps: 0.03 }],
      drift: [{ corruption: 'gaussian_noise', severity: 3 }, { shift: 'prior', proportions: [4, 1, 1, 1, 1, 1, 1, 1, 1, 1] }],
      annotation: [{ model: 'symmetric', rate: 0.3 }],
    },
  },
  'test',
  repoRoot,
);

/** A cell context built by hand from the config, as the runner builds it. */
async function context(): Promise<CellContext & { close(): Promise<void> }> {
  const { ds, model } = await openCampaignInputs(config);
  const p = await model.predictItems(ds.x, ds.size, { batchSize: config.batchSize });
  const rng = new Rng(config.seed);
  return {
    model,
    data: ds,
    labels: ds.labels!,
    numClasses: p.numClasses,
    clean: { probs: toProbabilities(p.scores, p.numClasses, p.kind), batchMs: p.batchMs },
    rng,
    weights: bootstrapWeights(ds.size, config.bootstrap, rng.fork('bootstrap')),
    options: { batchSize: config.batchSize, bootstrap: config.bootstrap, abstainBelow: config.abstainBelow, explain: null, chunkItems: 0 },
    uncertainty: null,
    caches: newCellCaches(),
    counters: { forwardBatches: 0, gradientBatches: 0 },
    tabular: { immutable: [] },
    close: () => model.close(),
  };
}

/** A value as results.json stores it (NaN as null, typed arrays as lists). */
const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v, jsonReplacer));

/** A cell result without its wall-clock fields (seconds, latencies, throughput), which no run repeats. */
const TIMING = new Set(['performance', 'seconds', 'ort_seconds']);
const withoutTiming = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(withoutTiming) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !TIMING.has(k)).map(([k, x]) => [k, withoutTiming(x)])) : v;

test('the hooks run in the order of the data flow: labels, inputs, attack, predictions, then the sections', () => {
  assert.deepEqual(CELL_HOOKS.map((h) => h.name), ['annotation', 'drift', 'adversarial', 'predict', 'explain', 'uncertainty']);
});

test('runCell called directly, cells in any order with fresh caches, gives the campaign cell results', async () => {
  const run = await runCampaign(config, { outDir: tmpDir('gauntlet-cell-') });
  const ctx = await context();
  try {
    const plan = makePlan(config);
    const baseline = run.cells[0]!;
    // The combined cells first (nothing cached yet), then the rest, newest first.
    const order = [...plan.cells].reverse();
    for (const cell of order) {
      const direct = await runCell(ctx, cell, cell.stage === 'baseline' ? null : baseline);
      const ran = run.cells.find((c) => c.id === cell.id)!;
      assert.deepEqual(withoutTiming(asJson(direct)), withoutTiming(asJson(ran)), cell.id);
    }
    // Each stress output was computed once per setting.
    assert.equal(ctx.caches.annotation.size, 1);
    assert.equal(ctx.caches.drift.size, 2);
    assert.equal(ctx.caches.attacks.size, 3);
  } finally {
    await ctx.close();
  }
});

test('hooks never mutate the state they are given, nor the clean data', async () => {
  const ctx = await context();
  try {
    const cell = makePlan(config).cells.find((c) => c.adversarial && c.drift?.spec && 'shift' in c.drift.spec && c.annotation)!;
    const x0 = Float32Array.from(ctx.data.x);
    const y0 = Int32Array.from(ctx.labels);
    const seen: unknown[] = [];
    // Wrap each hook: freeze what it is given, and check it is unchanged afterwards.
    const frozen: AnyCellHook[] = CELL_HOOKS.map((h) => ({
      name: h.name,
      applies: (c, k) => h.applies(c, k),
      async run(state, c, k) {
        const before = { ...state, details: { ...state.details } };
        const out = await h.run(Object.freeze({ ...state, details: Object.freeze({ ...state.details }) }), c, k);
        for (const key of Object.keys(before) as (keyof typeof before)[]) if (key !== 'details') assert.equal(state[key], before[key], `${h.name} changed ${key}`);
        seen.push(h.name);
        return out;
      },
    }));
    const s = await runHooks(ctx, cell, frozen);
    assert.deepEqual(seen, ['annotation', 'drift', 'adversarial', 'predict']);
    assert.deepEqual(Object.keys(s.details), ['annotation', 'drift', 'adversarial']);
    assert.ok(s.indices && s.labels.length === s.indices.length, 'the prior shift resamples; labels follow the items');
    assert.deepEqual(Array.from(s.labels), Array.from(s.indices!, (i) => y0[i]!));
    assert.notEqual(s.x, s.inputs.x, 'the attack gives new inputs');
    assert.deepEqual(ctx.data.x, x0);
    assert.deepEqual(ctx.labels, y0);
    assert.equal(cleanState(ctx).x, ctx.data.x);
  } finally {
    await ctx.close();
  }
});
