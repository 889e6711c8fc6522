/**
 * Stream runs on the default model: the example scenario (acceptance: every episode found
 * by a monitor of its kind within 300 items, at most 2 false alarms — seed 0 runs end to end in
 * stream-cli.test.ts, seed 1 here), same seed → same alerts (and alerts that do not depend on the
 * timed replay), shadow and canary challengers, and the run directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { defaultAssets } from '../src/defaults.js';
import { readModelFile } from '../src/onnx/load.js';
import { encodeModel } from '../src/onnx/proto.js';
import { defaultScenario, renderTimeline, resolveScenario, runStream, writeStreamRun, type Scenario, type StreamResult } from '../src/stream/index.js';
import { tmpDir } from './helpers.js';

const base = path.dirname(defaultAssets.model);
const THREADS = 2;

/** Asserts the acceptance criteria; returns the delays. */
function checkAcceptance(r: StreamResult): (number | null)[] {
  for (const e of r.episodes) {
    assert.ok(e.detected_at !== null, `episode [${e.from}, ${e.to}) ${e.kinds.join('+')} missed`);
    const kind = r.monitors.find((m) => m.name === e.monitor)!.kind;
    assert.ok((e.kinds as readonly string[]).includes(kind), `episode [${e.from}, ${e.to}) detected by ${e.monitor} of kind ${kind}`);
    assert.ok(e.delay! <= 300, `episode [${e.from}, ${e.to}) detected after ${e.delay} items`);
  }
  assert.ok(r.evaluation.false_alarms <= 2, `${r.evaluation.false_alarms} false alarms: ${JSON.stringify(r.evaluation.false_alarms_by_monitor)}`);
  return r.episodes.map((e) => e.delay);
}

test('the example scenario, seed 1: every episode detected by its kind within 300 items, at most 2 false alarms', { timeout: 180_000 }, async () => {
  const s: Scenario = { ...defaultScenario(), seed: 1, serving: { enabled: false, maxBatch: 32, maxWaitMs: 2 } };
  const r = await runStream(s, { threads: THREADS });
  const delays = checkAcceptance(r);
  assert.equal(r.items, 6000);
  assert.equal(r.serving, null);
  assert.ok(r.attacks.items > 60 && r.attacks.items < 140, `${r.attacks.items} of 200 items attacked at fraction 0.5`);
  assert.ok(r.episodes[1]!.accuracy < r.overall.accuracy, 'the attack hurts');
  assert.ok(r.episodes[2]!.disputed > 0.5, 'annotators at accuracy 0.6 disagree on most items');
  assert.ok(r.policy.accepted_accuracy > r.policy.accuracy, 'deferring raises the accuracy of answered predictions');
  // the annotation monitor reads labels that arrive 200 items late
  assert.ok(r.episodes[2]!.by_kind.annotation!.delay! >= 200);
  console.log(`example scenario, seed 1: delays ${delays.join(', ')}, false alarms ${r.evaluation.false_alarms}, ${r.seconds.toFixed(1)} s`);
});

function small(extra: Record<string, unknown> = {}): Scenario {
  return resolveScenario(
    {
      seed: 5,
      length: 1800,
      label_delay: 50,
      monitors: [
        { type: 'ks', on: 'confidence', reference: 400 },
        { type: 'ks', on: 'input-tv', reference: 400 },
        { type: 'mmd', on: 'input-projection', reference: 300, dims: 8 },
        { type: 'adwin', direction: 'up' },
        { type: 'page-hinkley' },
        { type: 'annotation-disagreement', reference: 200 },
      ],
      segments: [
        { from: 800, to: 1200, drift: { corruption: 'gaussian_noise', severity: { incremental: [2, 5] } } },
        { from: 1400, to: 1800, drift: { corruption: 'contrast', severity: 3 }, annotation: { annotators: 3, annotator_accuracy: 0.5 } },
      ],
      serving: false,
      ...extra,
    },
    'small',
    base,
  );
}

test('same seed, same alerts; alerts do not depend on the timed replay; another seed differs', { timeout: 120_000 }, async () => {
  const a = await runStream(small(), { threads: THREADS });
  const b = await runStream(small({ serving: { max_batch: 8, max_wait_ms: 5 } }), { threads: THREADS });
  const c = await runStream(small({ seed: 6 }), { threads: THREADS });
  assert.ok(a.alerts.length > 0);
  assert.deepEqual(b.alerts, a.alerts);
  assert.deepEqual(b.episodes, a.episodes);
  assert.deepEqual(b.timeline.accuracy, a.timeline.accuracy);
  assert.notDeepEqual(c.alerts, a.alerts);
  assert.equal(a.serving, null);
  assert.ok(b.serving !== null && b.serving.p50_ms > 0 && b.serving.p99_ms >= b.serving.p95_ms && b.serving.p95_ms >= b.serving.p50_ms);
  assert.ok(b.serving.mean_batch >= 1 && b.serving.mean_batch <= 8);
  assert.ok(Math.abs(b.serving.throughput - 200) < 40, `throughput ${b.serving.throughput} at 200 offered`);
  assert.ok(b.timeline.latency_p50_ms.every((v) => Number.isNaN(v) || v > 0));
  assert.equal(a.episodes.length, 2);
  for (const e of a.episodes) assert.ok(e.detected_at !== null, `small scenario episode at ${e.from} missed`);
});

function challengerFile(dir: string, shift: number): string {
  const m = readModelFile(defaultAssets.model).proto;
  const t = m.graph.initializer.find((i) => i.name === 'fc2.bias')!;
  const raw = Uint8Array.from(t.raw_data!);
  const f = new Float32Array(raw.buffer);
  f[6] = f[6]! + shift;
  t.raw_data = new Uint8Array(f.buffer);
  const file = path.join(dir, `challenger-${shift}.onnx`);
  fs.writeFileSync(file, encodeModel(m));
  return file;
}

test('shadow and canary: disagreement, accuracy and latency of both, and the promote/rollback rule', { timeout: 120_000 }, async () => {
  const dir = tmpDir('gauntlet-stream-ch-');
  const worse = challengerFile(dir, 4);
  const base1 = { length: 1500, segments: [], monitors: ['adwin'], serving: { max_batch: 16, max_wait_ms: 1 } };
  const shadow = await runStream(resolveScenario({ ...base1, shadow: worse }, 't', base), { threads: THREADS });
  const c = shadow.challenger!;
  assert.equal(c.mode, 'shadow');
  assert.equal(c.items, 1500);
  assert.ok(c.disagreement > 0.05, `disagreement ${c.disagreement}`);
  assert.ok(c.challenger_accuracy < c.champion_accuracy - 0.02);
  assert.equal(c.labelled.champion, 1300);
  assert.equal(c.labelled.challenger, 1300);
  assert.equal(c.decision, 'rollback');
  assert.match(c.reason, /challenger accuracy .* below champion/);
  assert.ok(c.latency.champion!.p50_ms > 0 && c.latency.challenger!.p50_ms > 0);
  assert.ok(shadow.timeline.disagreement!.some((v) => v > 0));

  const same = await runStream(resolveScenario({ ...base1, canary: { model: defaultAssets.model, fraction: 0.2, rule: { max_latency_ratio: 100 } } }, 't', base), { threads: THREADS });
  const k = same.challenger!;
  assert.equal(k.mode, 'canary');
  assert.ok(k.items > 230 && k.items < 370, `${k.items} of 1500 items routed at fraction 0.2`);
  assert.equal(k.disagreement, 0);
  assert.equal(k.labelled.champion + k.labelled.challenger, 1300);
  assert.equal(k.decision, 'promote');

  const few = await runStream(resolveScenario({ ...base1, serving: false, canary: { model: worse, fraction: 0.05, rule: { min_labelled: 500 } } }, 't', base), { threads: THREADS });
  assert.equal(few.challenger!.decision, 'undecided');
  assert.equal(few.challenger!.latency.challenger, null);
});

test('run directory: stream.json, events.jsonl and a self-contained, escaped timeline.html', { timeout: 120_000 }, async () => {
  const r = await runStream(small(), { threads: THREADS });
  const dir = tmpDir('gauntlet-stream-out-');
  const files = writeStreamRun(r, dir);
  assert.deepEqual(files, ['stream.json', 'events.jsonl', 'timeline.html']);
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'stream.json'), 'utf8'));
  assert.equal(j.alerts.length, r.alerts.length);
  for (const a of j.alerts) {
    assert.equal(typeof a.monitor, 'string');
    assert.ok(['drift', 'adversarial', 'performance', 'annotation'].includes(a.kind));
    assert.ok(Number.isInteger(a.index));
  }
  for (const e of j.episodes) for (const k of ['from', 'to', 'kinds', 'detected_at', 'delay']) assert.ok(k in e, `episode has ${k}`);
  assert.equal(j.timeline.start.length, Math.ceil(1800 / 50));
  const events = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(events.filter((e) => e.event === 'alert').length, r.alerts.length);
  assert.equal(events.filter((e) => e.event === 'episode_start').length, 2);
  assert.ok(events.every((e, i) => i === 0 || e.index >= events[i - 1].index), 'events in stream order');
  const html = fs.readFileSync(path.join(dir, 'timeline.html'), 'utf8');
  assert.match(html, /<svg /);
  assert.doesNotMatch(html, /<script/);
  const evil = renderTimeline({ ...r, model: { ...r.model, path: '<script>alert(1)</script>' }, scenario: { ...r.scenario, source: 'a"b&c' } });
  assert.doesNotMatch(evil, /<script>alert/);
  assert.match(evil, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(evil, /a&quot;b&amp;c/);
});
