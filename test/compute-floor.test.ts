import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { resolveConfig } from '../src/campaign/config.js';
import { runCampaign } from '../src/campaign/runner.js';
import { defaultAssets } from '../src/defaults.js';
import { ortClock } from '../src/engine/session.js';
import { repoRoot, tmpDir } from './helpers.js';

test("a campaign's compute floor is the ORT time of its own batches, not a timing taken at the end", { skip: fs.existsSync(defaultAssets.model) ? false : 'no default model' }, async () => {
  const cfg = resolveConfig(
    {
      model: defaultAssets.model,
      data: { path: defaultAssets.data, limit: 96 },
      seed: 3,
      bootstrap: 50,
      stresses: { adversarial: [{ attack: 'fgsm', norm: 'linf', eps: 0.03 }], drift: [{ corruption: 'contrast', severity: 2 }], annotation: [] },
    },
    'test',
    repoRoot,
  );
  const before = ortClock.ms;
  const runsBefore = ortClock.runs;
  let atTiming: number | null = null;
  const r = await runCampaign(cfg, {
    outDir: path.join(tmpDir(), 'run'),
    onEvent: (e) => {
      if (e.type === 'phase' && /timing one batch/.test(e.message)) atTiming = ortClock.ms;
    },
  });
  assert.ok(atTiming !== null, 'the run announces the one-batch timing');
  const p = r.performance;
  // Exactly the ORT time the cells' batches took (the one-batch timing comes after and is not in it).
  assert.equal(p.floor_seconds, (atTiming! - before) / 1000);
  assert.ok(ortClock.ms > atTiming!, 'the one-batch timing ran after the reading');
  assert.ok(ortClock.runs - runsBefore >= p.forward_batches + p.gradient_batches, 'every counted batch went through the clock');
  assert.ok(p.floor_seconds > 0 && p.floor_seconds <= p.wall_seconds, JSON.stringify(p));
  assert.ok(p.floor_ratio >= 1);
});
