/** Drift schedules: severity over time, the seeded sampler, config validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/rng.js';
import { ConfigError } from '../src/errors.js';
import { parseSchedule, sampleSchedule, severityAt, type DriftSchedule } from '../src/stress/drift/index.js';

test('doc example: an abrupt drift to severity 3 at item 100', () => {
  const s = sampleSchedule({ kind: 'abrupt', from: 0, to: 3, at: 100 }, 200, new Rng(0));
  assert.equal(s[150], 3);
  assert.equal(s[99], 0);
  assert.equal(s[100], 3);
});

test('severityAt for each kind', () => {
  const g: DriftSchedule = { kind: 'gradual', from: 0, to: 4, start: 100, end: 300 };
  assert.equal(severityAt(g, 50), 0);
  assert.equal(severityAt(g, 200), 2);
  assert.equal(severityAt(g, 400), 4);
  const inc: DriftSchedule = { kind: 'incremental', from: 1, to: 5, start: 0, end: 100 };
  assert.equal(severityAt(inc, 25), 2);
  const rec: DriftSchedule = { kind: 'recurring', from: 0, to: 3, period: 100, duty: 0.25, phase: 0 };
  assert.equal(severityAt(rec, 10), 0);
  assert.equal(severityAt(rec, 80), 3);
  assert.equal(severityAt(rec, 110), 0);
  assert.equal(severityAt(rec, 180), 3);
});

test('gradual: the share of drifted items follows the ramp; incremental: the mean severity does', () => {
  const n = 20000;
  const g = sampleSchedule({ kind: 'gradual', from: 0, to: 2, start: 0, end: n }, n, new Rng(1));
  const window = (a: Int8Array, lo: number, hi: number): number => a.subarray(lo, hi).reduce((s, v) => s + v, 0) / (hi - lo);
  assert.ok(g.every((v) => v === 0 || v === 2), 'two concepts only');
  assert.ok(Math.abs(window(g, 4000, 6000) / 2 - 0.25) < 0.04);
  assert.ok(Math.abs(window(g, 14000, 16000) / 2 - 0.75) < 0.04);
  const inc = sampleSchedule({ kind: 'incremental', from: 0, to: 5, start: 0, end: n }, n, new Rng(2));
  assert.ok(Math.abs(window(inc, 9000, 11000) - 2.5) < 0.1);
  assert.ok(new Set(inc).size === 6, 'every severity 0-5 appears along the ramp');
});

test('recurring is periodic; sampling is seeded and deterministic kinds ignore the draws', () => {
  const s: DriftSchedule = { kind: 'recurring', from: 1, to: 4, period: 50, duty: 0.5, phase: 10 };
  const a = sampleSchedule(s, 300, new Rng(1));
  for (let t = 0; t + 50 < 300; t++) assert.equal(a[t], a[t + 50]);
  assert.deepEqual(a, sampleSchedule(s, 300, new Rng(99)));
  const g: DriftSchedule = { kind: 'gradual', from: 0, to: 3, start: 0, end: 100 };
  assert.deepEqual(sampleSchedule(g, 100, new Rng(5)), sampleSchedule(g, 100, new Rng(5)));
});

test('parseSchedule validates and fills defaults', () => {
  assert.deepEqual(parseSchedule({ kind: 'recurring', from: 0, to: 2, period: 10 }, 's'), { kind: 'recurring', from: 0, to: 2, period: 10, duty: 0.5, phase: 0 });
  const bad: [unknown, RegExp][] = [
    [{ kind: 'sudden', from: 0, to: 1, at: 3 }, /^'s\.kind' must be one of abrupt, gradual, incremental, recurring, got 'sudden'$/],
    [{ kind: 'abrupt', from: 0, to: 6, at: 3 }, /^'s\.to' must be an integer in \[0, 5\], got 6$/],
    [{ kind: 'gradual', from: 0, to: 3, start: 10, end: 10 }, /^'s\.end' must be a number in \(10, inf\) \(after start\), got 10$/],
    [{ kind: 'abrupt', from: 0, to: 3, at: 3, start: 1 }, /^'s' has unknown key 'start'/],
    [{ kind: 'recurring', from: 0, to: 3, period: 0 }, /^'s\.period' must be a number in \(0, inf\), got 0$/],
  ];
  for (const [o, re] of bad) assert.throws(() => parseSchedule(o, 's'), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(o));
});
