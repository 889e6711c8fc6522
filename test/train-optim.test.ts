import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { clipGradNorm, makeOptimizer, type OptimizerSpec } from '../src/train/optim.js';
import { makeSchedule, type ScheduleSpec } from '../src/train/schedule.js';
import { UsageError } from '../src/errors.js';
import { fixture } from './helpers.js';

interface OptimCase { name: string; clip: number | null; init: number[][]; grads: number[][][]; after: number[][][] }
interface SchedCase { name: string; epochs: number; steps_per_epoch: number; lr: number[]; momentum: number[] }
const ref = JSON.parse(fs.readFileSync(fixture('train', 'torch-optim.json'), 'utf8')) as { optim: OptimCase[]; schedules: SchedCase[] };

const SPECS: Record<string, OptimizerSpec> = {
  sgd: { name: 'sgd', lr: 0.1 },
  sgd_momentum: { name: 'sgd', lr: 0.05, momentum: 0.9 },
  sgd_nesterov_wd: { name: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
  sgd_momentum_clip: { name: 'sgd', lr: 0.05, momentum: 0.9 },
  adamw: { name: 'adamw', lr: 0.01 },
  adamw_betas_wd: { name: 'adamw', lr: 0.003, betas: [0.8, 0.99], weightDecay: 0.1, eps: 1e-6 },
  adamw_clip: { name: 'adamw', lr: 0.01, weightDecay: 0 },
};

function close(got: ArrayLike<number>, want: number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)), `${what}[${i}]: ${got[i]} vs torch ${want[i]}`);
  }
}

for (const c of ref.optim) {
  test(`${c.name}: five steps match torch.optim's trajectory`, () => {
    const spec = SPECS[c.name]!;
    const opt = makeOptimizer(spec);
    const params = new Map(c.init.map((v, i) => [`p${i}`, Float32Array.from(v)]));
    for (let s = 0; s < c.grads.length; s++) {
      const grads = new Map(c.grads[s]!.map((v, i) => [`p${i}`, Float32Array.from(v)]));
      if (c.clip !== null) clipGradNorm(grads, c.clip);
      opt.step(params, grads, spec.lr);
      c.after[s]!.forEach((want, i) => close(params.get(`p${i}`)!, want, 2e-6, `${c.name} step ${s + 1} p${i}`));
    }
  });
}

test('SGD with momentum by hand: buf = g, then μ·buf + g; Nesterov steps along g + μ·buf', () => {
  const p = new Map([['w', Float32Array.from([1])]]);
  const opt = makeOptimizer({ name: 'sgd', lr: 0.5, momentum: 0.5, nesterov: true });
  opt.step(p, new Map([['w', Float32Array.from([2])]]), 0.5); // buf 2, d = 2 + 1 = 3 → 1 − 1.5
  assert.equal(p.get('w')![0], -0.5);
  opt.step(p, new Map([['w', Float32Array.from([2])]]), 0.5); // buf 3, d = 2 + 1.5 = 3.5 → −0.5 − 1.75
  assert.equal(p.get('w')![0], -2.25);
});

test('AdamW by hand: the first step moves each weight by lr·sign(g) after decoupled decay', () => {
  const p = new Map([['w', Float32Array.from([1, -2])]]);
  const opt = makeOptimizer({ name: 'adamw', lr: 0.1, weightDecay: 0.5, eps: 0 });
  opt.step(p, new Map([['w', Float32Array.from([3, -0.25])]]), 0.1);
  close(p.get('w')!, [1 * 0.95 - 0.1, -2 * 0.95 + 0.1], 1e-7, 'w');
});

test('optimizer state round-trips: save after 2 steps, load into a fresh one, same next steps', () => {
  for (const spec of [SPECS.sgd_nesterov_wd!, SPECS.adamw_betas_wd!]) {
    const c = ref.optim[0]!;
    const run = (split: boolean): Float32Array => {
      let opt = makeOptimizer(spec);
      const params = new Map(c.init.map((v, i) => [`p${i}`, Float32Array.from(v)]));
      for (let s = 0; s < 5; s++) {
        if (split && s === 2) {
          const saved = structuredClone(opt.state());
          opt = makeOptimizer(spec);
          opt.load(saved);
        }
        opt.step(params, new Map(c.grads[s]!.map((v, i) => [`p${i}`, Float32Array.from(v)])), spec.lr);
      }
      return params.get('p1')!;
    };
    assert.deepEqual(run(true), run(false));
  }
});

test('clipGradNorm: total L2 norm over all tensors; scales by max/(norm+1e-6) only when above', () => {
  const g = new Map([['a', Float32Array.from([3])], ['b', Float32Array.from([4])]]);
  assert.equal(clipGradNorm(g, 10), 5);
  assert.deepEqual([g.get('a')![0], g.get('b')![0]], [3, 4]);
  assert.equal(clipGradNorm(g, 1), 5);
  close(g.get('a')!, [3 / (5 + 1e-6)], 1e-7, 'a');
  close(g.get('b')!, [4 / (5 + 1e-6)], 1e-7, 'b');
});

test('bad optimizer settings are UsageErrors naming the key', () => {
  assert.throws(() => makeOptimizer({ name: 'sgd', lr: 0 }), (e: unknown) => e instanceof UsageError && /'optimizer\.lr' must be > 0, got 0/.test(e.message));
  assert.throws(() => makeOptimizer({ name: 'sgd', lr: 0.1, nesterov: true }), /'optimizer\.nesterov' needs momentum > 0/);
});

const SCHED: Record<string, { spec: ScheduleSpec; warmupEpochs?: number; epochsOverride?: number }> = {
  constant: { spec: { name: 'constant' } },
  'step_every2_gamma0.5': { spec: { name: 'step', every: 2, gamma: 0.5 } },
  cosine: { spec: { name: 'cosine' } },
  'onecycle_max0.3': { spec: { name: 'onecycle', maxLr: 0.3 } },
  cosine_warmup1: { spec: { name: 'cosine' }, warmupEpochs: 1 },
  constant_warmup2: { spec: { name: 'constant' }, warmupEpochs: 2 },
};

for (const c of ref.schedules) {
  test(`schedule ${c.name}: per-step lr matches torch's scheduler`, () => {
    const s = SCHED[c.name]!;
    const sched = makeSchedule(s.spec, 0.1, { epochs: c.epochs, stepsPerEpoch: c.steps_per_epoch, warmupEpochs: s.warmupEpochs });
    for (let t = 0; t < c.lr.length; t++) {
      const place = { step: t, epoch: Math.floor(t / c.steps_per_epoch) };
      close([sched.lr(place)], [c.lr[t]!], 1e-9, `${c.name} lr at step ${t}`);
      const m = sched.momentum(place);
      if (c.name.startsWith('onecycle')) close([m!], [c.momentum[t]!], 1e-9, `${c.name} momentum at step ${t}`);
      else assert.equal(m, undefined);
    }
  });
}

test('warm-up does not combine with onecycle', () => {
  assert.throws(() => makeSchedule({ name: 'onecycle' }, 0.1, { epochs: 2, stepsPerEpoch: 3, warmupEpochs: 1 }), /'warmup_epochs' does not combine with schedule onecycle/);
});
