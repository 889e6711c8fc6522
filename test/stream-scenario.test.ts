/** Stream scenarios: the default file, severity schedules, monitor lists, and bad scenarios named by key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../src/errors.js';
import { defaultAssets } from '../src/defaults.js';
import { defaultScenario, loadScenario, resolveScenario, scenarioMonitors } from '../src/stream/index.js';
import { tmpDir } from './helpers.js';

const base = path.dirname(defaultAssets.model);
const resolve = (raw: Record<string, unknown>) => resolveScenario(raw, 'test', base);
const example = () => ({
  length: 6000,
  segments: [
    { from: 2000, to: 3000, drift: { corruption: 'gaussian_noise', severity: 4 } },
    { from: 3500, to: 3700, adversarial: { attack: 'fgsm', eps: 0.1, fraction: 0.5 } },
    { from: 4500, to: 6000, drift: { corruption: 'contrast', severity: { gradual: [1, 5] } }, annotation: { annotators: 3, annotator_accuracy: 0.6 } },
  ],
});

test('the default scenario is the issue example on the embedded model and data', () => {
  const s = defaultScenario();
  assert.equal(s.model.path, defaultAssets.model);
  assert.equal(s.data.path, defaultAssets.data);
  assert.equal(s.length, 6000);
  assert.equal(s.rate, 200);
  assert.equal(s.labelDelay, 200);
  assert.equal(s.sample, 'with-replacement');
  assert.deepEqual(
    s.segments.map((g) => [g.from, g.to, g.kinds]),
    [
      [2000, 3000, ['drift']],
      [3500, 3700, ['adversarial']],
      [4500, 6000, ['drift', 'annotation']],
    ],
  );
  assert.deepEqual(s.segments[0]!.drift, { spec: { corruption: 'gaussian_noise', severity: 4 }, schedule: { kind: 'abrupt', from: 4, to: 4, at: 0 } });
  assert.deepEqual(s.segments[1]!.adversarial, { spec: { attack: 'fgsm', norm: 'linf', eps: 0.1 }, fraction: 0.5 });
  assert.deepEqual(s.segments[2]!.drift!.schedule, { kind: 'gradual', from: 1, to: 5, start: 0, end: 1500 });
  assert.deepEqual(s.segments[2]!.annotation, { model: 'annotators', annotators: 3, annotatorAccuracy: 0.6, coverage: 3, aggregate: 'majority' });
  assert.equal(s.monitors, 'default');
  assert.deepEqual(
    scenarioMonitors(s, true).map((m) => m.name),
    ['ks-confidence', 'ks-input-tv', 'psi-confidence', 'mmd-probabilities', 'adwin', 'page-hinkley', 'ddm', 'squeeze', 'annotation-disagreement'],
  );
  assert.equal(scenarioMonitors(s, false)[1]!.name, 'ks-input-std');
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s, 'round-trips through JSON');
});

test('severity shorthands map onto the drift library schedules over the segment', () => {
  const sev = (severity: unknown) => resolve({ segments: [{ from: 1000, to: 1400, drift: { corruption: 'fog', severity } }] }).segments[0]!.drift!.schedule;
  assert.deepEqual(sev(2), { kind: 'abrupt', from: 2, to: 2, at: 0 });
  assert.deepEqual(sev({ incremental: [0, 5] }), { kind: 'incremental', from: 0, to: 5, start: 0, end: 400 });
  assert.deepEqual(sev({ recurring: [0, 4], period: 100, duty: 0.25 }), { kind: 'recurring', from: 0, to: 4, period: 100, duty: 0.25, phase: 0 });
  assert.deepEqual(sev({ abrupt: [1, 5], at: 150 }), { kind: 'abrupt', from: 1, to: 5, at: 150 });
  assert.deepEqual(sev({ kind: 'gradual', from: 0, to: 3, start: 100, end: 300 }), { kind: 'gradual', from: 0, to: 3, start: 100, end: 300 });
  const shift = resolve({ segments: [{ from: 1000, to: 1400, drift: { shift: 'noise', amount: 0.5 } }] }).segments[0]!.drift!;
  assert.equal(shift.schedule, null);
});

test('monitor lists: type shorthand, options with defaults, names from type and signal', () => {
  const s = resolve({ monitors: ['adwin', { type: 'ks', on: 'entropy', alpha: 1e-5 }, { type: 'mmd', on: 'input-projection', dims: 8, name: 'mmd-x' }] });
  const m = scenarioMonitors(s, true);
  assert.deepEqual(
    m.map((x) => [x.name, x.type, x.on, x.dims]),
    [
      ['adwin', 'adwin', null, null],
      ['ks-entropy', 'ks', 'entropy', null],
      ['mmd-x', 'mmd', 'input-projection', 8],
    ],
  );
  assert.equal(m[0]!.options.delta, 0.002);
  assert.equal(m[1]!.options.alpha, 1e-5);
  assert.equal(m[1]!.options.window, 100);
});

test('a stream scenario accepts a full model declaration', () => {
  const s = resolve({ model: { path: defaultAssets.model, bounds: [0, 1], preprocess: { scale: 1 } }, data: { path: defaultAssets.data, limit: 500 }, monitors: ['adwin'] });
  assert.deepEqual(s.model.bounds, [0, 1]);
  assert.deepEqual(s.model.preprocess, { scale: 1 });
  assert.equal(s.model.path, defaultAssets.model);
  assert.equal(s.data.limit, 500);
  assert.throws(() => resolve({ model: { path: defaultAssets.model, layuot: 'NHWC' } }), (e: unknown) => e instanceof ConfigError && /^'model' has unknown key 'layuot' \(did you mean 'layout'\?\)/.test((e as Error).message));
});

test('bad scenarios are ConfigErrors naming the key', () => {
  const ex = example();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...ex, lenght: 5 }, /^unknown key 'lenght' \(did you mean 'length'\?\); allowed keys are seed, length/],
    [{ ...ex, rate: -1 }, /^'rate' must be a number in \(0, 10000000\], got -1$/],
    [{ ...ex, sample: 'bootstrap' }, /^'sample' must be one of with-replacement, without-replacement, sequential, got 'bootstrap'$/],
    [{ segments: [{ from: 2000, to: 1000, drift: { corruption: 'fog', severity: 1 } }] }, /^'segments\[0\]\.to' must be an integer in \[2001, 6000\], got 1000$/],
    [{ segments: [{ to: 1000, drift: { corruption: 'fog', severity: 1 } }] }, /^'segments\[0\]\.from' is required/],
    [{ segments: [{ from: 2000, to: 3000 }] }, /^'segments\[0\]' must give at least one of drift, adversarial, annotation$/],
    [{ segments: [{ from: 2000, to: 3000, drift: { corruption: 'smog', severity: 1 } }] }, /^'segments\[0\]\.drift\.corruption' must be one of gaussian_noise, /],
    [{ segments: [{ from: 2000, to: 3000, drift: { corruption: 'fog', severity: 7 } }] }, /^'segments\[0\]\.drift\.severity' must be an integer in \[1, 5\], got 7$/],
    [{ segments: [{ from: 2000, to: 3000, drift: { corruption: 'fog', severity: { gradual: [1] } } }] }, /^'segments\[0\]\.drift\.severity\.gradual' must be a pair \[from, to\] of severities 0-5, got \[1\]$/],
    [{ segments: [{ from: 2000, to: 3000, drift: { corruption: 'fog', severity: { gradual: [1, 9] } } }] }, /^'segments\[0\]\.drift\.severity\.to' must be an integer in \[0, 5\], got 9$/],
    [{ segments: [{ from: 2000, to: 3000, drift: { shift: 'prior', proportions: [0.5, 0.5] } }] }, /^'segments\[0\]\.drift\.shift' 'prior' resamples or reweights items/],
    [{ segments: [{ from: 2000, to: 3000, adversarial: { attack: 'nope', eps: 0.1 } }] }, /^'segments\[0\]\.adversarial\.attack' must be one of fgsm, .*, got 'nope'/],
    [{ segments: [{ from: 2000, to: 3000, adversarial: { attack: 'fgsm', eps: 0.1, fraction: 0 } }] }, /^'segments\[0\]\.adversarial\.fraction' must be a number in \(0, 1\], got 0$/],
    [{ segments: [{ from: 2000, to: 3000, adversarial: { attack: 'fgsm', eps: [0.1, 0.2] } }] }, /^'segments\[0\]\.adversarial\.eps' must be one number in a stream/],
    [{ segments: [{ from: 2000, to: 3000, annotation: { annotators: 3, annotator_accuracy: 2 } }] }, /^'segments\[0\]\.annotation\.annotator_accuracy' must be a number in \[0, 1\], got 2$/],
    [{ annotation: { model: 'instance', rate: 0.2 } }, /^'annotation\.model' 'instance' needs the model's probabilities/],
    [{ segments: [{ from: 500, to: 900, drift: { corruption: 'fog', severity: 2 } }] }, /^'segments\[0\]\.from' \(500\) falls inside the reference of monitor 'ks-confidence' \(the first 1000 items must be clean\)/],
    [{ monitors: [] }, /^'monitors' must be 'default' or a non-empty list/],
    [{ monitors: [{ type: 'kswin' }] }, /^'monitors\[0\]\.type' must be one of ks, psi, mmd, adwin, page-hinkley, ddm, squeeze, annotation-disagreement, got 'kswin'$/],
    [{ monitors: ['adwin', { type: 'ks', alpha: 2 }] }, /^'monitors\[1\]\.alpha' must be a number in \(0, 1\), got 2$/],
    [{ monitors: [{ type: 'ks', windw: 50 }] }, /^'monitors\[0\]' has unknown key 'windw' \(did you mean 'window'\?\) for monitor 'ks'; allowed keys are type, name, on, dims, kind, reference, window, alpha$/],
    [{ monitors: [{ type: 'adwin', on: 'confidence' }] }, /^'monitors\[0\]\.on' does not apply to 'adwin'/],
    [{ monitors: [{ type: 'psi', on: 'logits' }] }, /^'monitors\[0\]\.on' must be one of confidence, margin, entropy, input-mean, input-std, input-tv, got 'logits'$/],
    [{ monitors: ['adwin', 'adwin'] }, /^'monitors\[1\]\.name' 'adwin' is already used by another monitor/],
    [{ monitors: [{ type: 'ks', dims: 4 }] }, /^'monitors\[0\]\.dims' applies only with 'on: input-projection'$/],
    [{ policy: { abstain_below: 1.5 } }, /^'policy\.abstain_below' must be a number in \[0, 1\], got 1\.5$/],
    [{ policy: { on_alert: ['drift', 'oops'] } }, /^'policy\.on_alert\[1\]' must be one of drift, adversarial, performance, annotation, got 'oops'$/],
    [{ shadow: 'a.onnx', canary: { model: 'b.onnx' } }, /^'shadow' and 'canary' exclude each other/],
    [{ canary: { model: 'b.onnx', fraction: 1.5 } }, /^'canary\.fraction' must be a number in \(0, 1\), got 1\.5$/],
    [{ canary: { fraction: 0.1 } }, /^'canary\.model' is required/],
    [{ shadow: { model: 'b.onnx', rule: { min_labeled: 3 } } }, /^'shadow\.rule' has unknown key 'min_labeled'/],
    [{ serving: { max_batch: 0 } }, /^'serving\.max_batch' must be an integer in \[1, 65536\], got 0$/],
    [{ evaluation: { settle: -1 } }, /^'evaluation\.settle' must be an integer in \[0, inf\), got -1$/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => resolve(raw), (e: unknown) => e instanceof ConfigError && re.test((e as Error).message), `${re} (${JSON.stringify(raw).slice(0, 120)})`);
  }
});

test('scenario files: relative paths resolve against the file; unreadable and malformed files are ConfigErrors', () => {
  const dir = tmpDir('gauntlet-stream-scn-');
  const good = path.join(dir, 'ok.yaml');
  fs.writeFileSync(good, 'model: m.onnx\ndata: sub/d.npz\nlength: 2000\n');
  const s = loadScenario(good);
  assert.equal(s.model.path, path.join(dir, 'm.onnx'));
  assert.equal(s.data.path, path.join(dir, 'sub', 'd.npz'));
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'length: [1, 2\n');
  assert.throws(() => loadScenario(bad), (e: unknown) => e instanceof ConfigError && /bad\.yaml: malformed YAML/.test((e as Error).message));
  assert.throws(() => loadScenario(path.join(dir, 'missing.yaml')), (e: unknown) => e instanceof ConfigError && /missing\.yaml: no such file$/.test((e as Error).message));
});
