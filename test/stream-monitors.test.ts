/**
 * Stream monitors: each doc-comment example with its pinned index, ADWIN and Page–Hinkley on the
 * issue's Bernoulli error stream, a conformance suite over the registry, and the pieces the
 * monitors are built from (binomial critical counts, the KS critical value, the incremental MMD,
 * the squeezers) checked against direct computations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/rng.js';
import { UsageError } from '../src/errors.js';
import { ksPValue } from '../src/stress/drift/index.js';
import {
  ADWIN,
  AnnotationDisagreement,
  binomialCriticalCount,
  DDM,
  disputed,
  evaluateMonitors,
  KSWindow,
  ksCriticalValue,
  monitorTypes,
  OnlineMMD,
  PageHinkley,
  PSIWindow,
  SqueezeDetector,
  squeezeBitDepth,
  squeezeMedian,
  type Monitor,
  type ScenarioSegment,
  type StreamAlert,
} from '../src/stream/index.js';

/** Indices at which `monitor` alerted while fed `n` values from `value(i, rng)`. */
function alertsOf<T>(monitor: Monitor<T>, n: number, value: (i: number) => T): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (monitor.update(value(i)).driftDetected) out.push(i);
  return out;
}

const bernoulli = (seed: number) => {
  const rng = new Rng(seed);
  return (i: number): number => (rng.uniform() < (i < 1000 ? 0.1 : 0.3) ? 1 : 0);
};

test('doc example: KSWindow on a normal stream shifting by +1 at 1500 first alerts at 1541', () => {
  const rng = new Rng(0);
  const a = alertsOf(new KSWindow(), 2000, (i) => rng.normal() + (i >= 1500 ? 1 : 0));
  assert.deepEqual(a.slice(0, 3), [1541, 1641, 1741]);
});

test('doc example: PSIWindow on a uniform stream squeezed into [0, 0.5] at 1500 first alerts at 1560', () => {
  const rng = new Rng(0);
  assert.equal(alertsOf(new PSIWindow(), 2000, (i) => rng.uniform() * (i >= 1500 ? 0.5 : 1))[0], 1560);
});

test('doc example: OnlineMMD on 3-d Gaussians shifting at 1000 first alerts at 1080', () => {
  const rng = new Rng(1);
  const a = alertsOf(new OnlineMMD({}, new Rng(0)), 1500, (i) => [rng.normal() + (i >= 1000 ? 1 : 0), rng.normal(), rng.normal()]);
  assert.equal(a[0], 1080);
});

test('doc examples: ADWIN 1081, Page-Hinkley 1047, DDM 1049 on the Bernoulli error stream', () => {
  assert.deepEqual(alertsOf(new ADWIN(), 2000, bernoulli(0)).slice(0, 3), [1081, 1085, 1105]);
  assert.deepEqual(alertsOf(new PageHinkley(), 2000, bernoulli(0)), [1047]);
  assert.equal(alertsOf(new DDM(), 2000, bernoulli(0))[0], 1049);
});

test('doc example: SqueezeDetector on exponential scores, five times larger for half the items from 1500, first alerts at 1544', () => {
  const rng = new Rng(0);
  const a = alertsOf(new SqueezeDetector(), 2000, (i) => {
    const attacked = i >= 1500 && rng.uniform() < 0.5;
    return -Math.log(1 - rng.uniform()) * (attacked ? 5 : 1);
  });
  assert.equal(a[0], 1544);
});

test('doc example: AnnotationDisagreement, annotators from accuracy 0.95 to 0.6 at 1000, first alerts at 1022', () => {
  const rng = new Rng(0);
  const a = alertsOf(new AnnotationDisagreement(), 1500, (i) => {
    const y = rng.int(10);
    return [0, 1, 2].map(() => (rng.uniform() < (i < 1000 ? 0.95 : 0.6) ? y : (y + 1 + rng.int(9)) % 10));
  });
  assert.equal(a[0], 1022);
});

// Over 200 seeded streams (not asserted): ADWIN never alarms before the change and meets the 150
// bound in 87 % of them (median delay 107, 90th percentile 155); Page–Hinkley with its defaults
// never alarms early and always meets it (median 64, 90th percentile 101). Seeds 0-4 are the first five.
test('ADWIN (delta 0.002) and Page-Hinkley alarm within 150 items of a 0.1 -> 0.3 error-rate change and never before it', () => {
  for (let seed = 0; seed < 5; seed++) {
    for (const make of [() => new ADWIN({ delta: 0.002 }), () => new PageHinkley()]) {
      const m = make();
      const a = alertsOf(m, 2000, bernoulli(seed));
      assert.ok(a.length > 0, `${m.constructor.name} seed ${seed}: no alarm`);
      assert.ok(a[0]! >= 1000, `${m.constructor.name} seed ${seed}: alarm at ${a[0]} before the change`);
      assert.ok(a[0]! - 1000 <= 150, `${m.constructor.name} seed ${seed}: first alarm ${a[0]! - 1000} items after the change`);
    }
  }
});

test('ADWIN keeps the window after a change and estimates the new rate; direction filters alerts', () => {
  const m = new ADWIN();
  const gen = bernoulli(3);
  for (let i = 0; i < 2000; i++) m.update(gen(i));
  assert.ok(m.width < 1200, `window shrank to ${m.width}`);
  assert.ok(Math.abs(m.estimation - 0.3) < 0.06, `estimate ${m.estimation}`);
  const down = alertsOf(new ADWIN({ direction: 'down' }), 2000, bernoulli(0));
  assert.deepEqual(down, [], 'a rise never alerts a down-only ADWIN');
  const fall = new Rng(5);
  const up = alertsOf(new ADWIN({ direction: 'up' }), 2000, (i) => (fall.uniform() < (i < 1000 ? 0.3 : 0.1) ? 1 : 0));
  assert.deepEqual(up, [], 'a fall never alerts an up-only ADWIN');
});

// One conformance suite over the registry: a stream suited to each feed, then the shared contract.
function feedFor(feed: string, seed: number): (i: number) => unknown {
  const rng = new Rng(seed);
  switch (feed) {
    case 'vector':
      return (i) => [rng.normal() + (i >= 1200 ? 1.5 : 0), rng.normal()];
    case 'error':
      return (i) => (rng.uniform() < (i < 1200 ? 0.1 : 0.5) ? 1 : 0);
    case 'annotations':
      return (i) => {
        const y = rng.int(5);
        return [0, 1, 2].map(() => (rng.uniform() < (i < 1200 ? 0.95 : 0.5) ? y : (y + 1 + rng.int(4)) % 5));
      };
    default:
      return (i) => -Math.log(1 - rng.uniform()) * (i >= 1200 ? 4 : 1);
  }
}

for (const type of monitorTypes) {
  test(`conformance: ${type.type} detects a strong change, is deterministic, resets, and checks its options`, () => {
    const run = (seed: number): number[] => {
      const m = type.create({ ...type.defaults }, new Rng(7)) as unknown as Monitor<unknown>;
      assert.equal(m.kind, type.kind);
      return alertsOf(m, 2400, feedFor(type.feed, seed));
    };
    const a = run(1);
    assert.ok(a.some((i) => i >= 1200 && i < 1500), `${type.type}: no alert within 300 items of the change (${a.slice(0, 5).join(', ')})`);
    // false-alarm rates are measured on long clean streams (see the report), not asserted per seed here
    assert.ok(a.filter((i) => i < 1200).length <= 1, `${type.type}: alerts before the change at ${a.filter((i) => i < 1200).join(', ')}`);
    assert.deepEqual(run(1), a, 'same seed, same alerts');
    const m = type.create({ ...type.defaults }, new Rng(7)) as unknown as Monitor<unknown>;
    const gen = feedFor(type.feed, 1);
    for (let i = 0; i < 2400; i++) m.update(gen(i));
    m.reset();
    assert.deepEqual(alertsOf(m, 2400, feedFor(type.feed, 1)), a, 'reset forgets everything');
    assert.throws(() => {
      (m as unknown as { driftDetected: boolean }).driftDetected = true;
    }, TypeError, 'driftDetected is read-only');
    assert.throws(() => type.create({ ...type.defaults, bogus: 1 }, new Rng(0)), (e: unknown) => e instanceof UsageError && /unknown key 'bogus'/.test((e as Error).message));
  });
}

test('bad monitor options are UsageErrors naming the option and its range', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => new ADWIN({ delta: 2 }), /^'ADWIN\.delta' must be a number in \(0, 1\), got 2$/],
    [() => new KSWindow({ window: 3 }), /^'KSWindow\.window' must be an integer in \[10, 1000000\], got 3$/],
    [() => new PageHinkley({ threshold: 0 }), /^'PageHinkley\.threshold' must be a number in \(0, inf\), got 0$/],
    [() => new ADWIN({ direction: 'sideways' as 'up' }), /^'ADWIN\.direction' must be one of both, up, down, got 'sideways'$/],
    [() => new OnlineMMD({ window: 600 }), /^'OnlineMMD\.window' must be smaller than 'reference' \(500\), got 600$/],
  ];
  for (const [f, re] of cases) assert.throws(f, (e: unknown) => e instanceof UsageError && re.test((e as Error).message), String(re));
});

test('binomialCriticalCount matches the exact binomial tail', () => {
  const tail = (n: number, p: number, k: number): number => {
    let s = 0;
    for (let j = k; j <= n; j++) {
      let c = 1;
      for (let t = 0; t < j; t++) c = (c * (n - t)) / (t + 1);
      s += c * p ** j * (1 - p) ** (n - j);
    }
    return s;
  };
  for (const [n, p, alpha] of [[100, 0.011, 1e-4], [50, 0.143, 1e-4], [20, 0.5, 0.05]] as const) {
    const k = binomialCriticalCount(n, p, alpha);
    assert.ok(tail(n, p, k) <= alpha, `P(X >= ${k}) <= alpha`);
    assert.ok(tail(n, p, k - 1) > alpha, `P(X >= ${k - 1}) > alpha`);
  }
});

test('ksCriticalValue is where the KS p-value crosses alpha', () => {
  const d = ksCriticalValue(1000, 100, 1e-4);
  assert.ok(ksPValue(d, 1000, 100) < 1e-4 && ksPValue(d - 1e-3, 1000, 100) >= 1e-4);
});

test('OnlineMMD: the incremental statistic equals the unbiased MMD² of the reference and the window', () => {
  const rng = new Rng(3);
  const m = new OnlineMMD({ reference: 40, window: 10, permutations: 50 }, new Rng(0));
  const rows: number[][] = [];
  for (let i = 0; i < 75; i++) {
    const v = [rng.normal(), rng.normal() * 2];
    rows.push(v);
    m.update(v);
  }
  const ref = rows.slice(0, 40);
  const win = rows.slice(65, 75);
  const k = (a: number[], b: number[]): number => Math.exp(-((a[0]! - b[0]!) ** 2 + (a[1]! - b[1]!) ** 2) / (2 * m.bandwidth2));
  const sum = (A: number[][], B: number[][], same: boolean): number => {
    let s = 0;
    A.forEach((a, i) => B.forEach((b, j) => (s += same && i === j ? 0 : k(a, b))));
    return s;
  };
  const expected = sum(ref, ref, true) / (40 * 39) + sum(win, win, true) / (10 * 9) - (2 * sum(ref, win, false)) / (40 * 10);
  if (m.driftDetected) return; // the window was emptied: nothing to compare
  assert.ok(Math.abs(m.statistic - expected) < 1e-9, `${m.statistic} vs ${expected}`);
  assert.ok(Number.isFinite(m.threshold) && m.threshold > 0);
});

test('squeezers: bit depth rounds to 2^bits levels, the median filter removes an isolated spike', () => {
  assert.deepEqual(Array.from(squeezeBitDepth(Float32Array.of(0, 0.2, 0.49, 0.51, 1), 1)), [0, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(squeezeBitDepth(Float32Array.of(0.1, 0.5), 2)).map((v) => +v.toFixed(4)), [0, 0.6667]);
  const img = new Float32Array(25).fill(0.2);
  img[12] = 1;
  const out = squeezeMedian(img, [1, 1, 5, 5], 3);
  assert.ok(out.every((v) => Math.abs(v - 0.2) < 1e-7));
  assert.equal(img[12], 1, 'input not mutated');
});

test('disputed: unanimity over the labels given', () => {
  assert.equal(disputed([1, 1, -1]), 0);
  assert.equal(disputed([1, 2, 1]), 1);
  assert.equal(disputed([3, -1, -1]), null);
});

test('evaluateMonitors: delays by kind, label-delayed zones, false alarms per 10,000 clean items', () => {
  const seg = (from: number, to: number, kinds: ScenarioSegment['kinds']): ScenarioSegment => ({ from, to, kinds, drift: null, adversarial: null, annotation: null });
  const segments = [seg(1000, 2000, ['drift']), seg(3000, 3100, ['adversarial'])];
  const alert = (monitor: string, kind: StreamAlert['kind'], index: number): StreamAlert => ({ monitor, kind, index, time_s: index / 100, statistic: 1, threshold: 0.5 });
  const alerts = [
    alert('ks', 'drift', 500), // false alarm
    alert('squeeze', 'adversarial', 1100), // inside the drift episode, wrong kind: not a detection, not a false alarm
    alert('ks', 'drift', 1040), // detection, delay 40
    alert('adwin', 'performance', 2300), // label-fed: zone ends at 2000 + 100 + 250
    alert('ks', 'drift', 2200), // false alarm: input-fed zone ends at 2100
    alert('squeeze', 'adversarial', 3400), // after 3100 + 100: false alarm and no detection
  ];
  const monitors = [
    { name: 'ks', kind: 'drift' as const, labelFed: false },
    { name: 'squeeze', kind: 'adversarial' as const, labelFed: false },
    { name: 'adwin', kind: 'performance' as const, labelFed: true },
  ];
  const r = evaluateMonitors(segments, alerts, monitors, 5000, 250, 100);
  assert.equal(r.episodes[0]!.detected_at, 1040);
  assert.equal(r.episodes[0]!.delay, 40);
  assert.equal(r.episodes[0]!.monitor, 'ks');
  assert.equal(r.episodes[0]!.by_monitor.squeeze, 1100);
  assert.equal(r.episodes[0]!.by_monitor.adwin, 2300);
  assert.equal(r.episodes[1]!.detected_at, null);
  assert.equal(r.detected, 1);
  assert.equal(r.missed, 1);
  assert.equal(r.false_alarms, 3);
  assert.deepEqual(r.false_alarms_by_monitor, { ks: 2, squeeze: 1, adwin: 0 });
  assert.equal(r.clean_items, 5000 - 1100 - 200);
  assert.ok(Math.abs(r.false_alarms_per_10k! - (3 / 3700) * 10000) < 1e-9);
});
