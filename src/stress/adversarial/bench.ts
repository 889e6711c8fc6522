/**
 * PGD speed benchmark (issue acceptance): PGD-k L∞ over a dataset versus the floor
 * k × (forward+gradient time of one full batch) × (number of batches). For `gauntlet bench --attack pgd`.
 *
 * The attack runs only on clean-correct points (misclassified ones are already non-robust), so it
 * can beat the floor computed over all points; `attackedFloorSeconds` is the floor over the
 * points actually attacked. Gradient graphs for the full batch size are built before timing
 * (as the floor measurement needs them); a graph for a smaller last batch is built inside the
 * timed run and counted.
 *
 * Example:
 *   const b = await benchPgd(model, ds, { eps: 0.1, steps: 20 });
 *   b.ratio; // attack seconds / floor seconds
 */
import type { Dataset } from '../../data/dataset.js';
import { DataError } from '../../errors.js';
import type { Model } from '../../engine/model.js';
import { Rng } from '../../rng.js';
import { runAttack } from './index.js';
import type { GradientOptions } from '../../autodiff/options.js';
import { EngineCache } from './runner.js';
import { lowerMedian, timeCalls } from '../../timing.js';

export interface BenchPgdOptions {
  eps?: number;
  steps?: number;
  batchSize?: number;
  seed?: number;
  /** Timed forward+gradient passes of one batch, half before and half after the attack (median; 2 warm-up passes are not timed). Default 10. */
  repeats?: number;
  /** The gradient rules' options (`GRADIENT_OPTIONS`: MaxPool's tie rule). */
  gradient?: Partial<GradientOptions>;
  onProgress?: (done: number, total: number) => void;
}

export interface BenchPgdResult {
  samples: number;
  /** Clean-correct points, the ones PGD attacks. */
  attacked: number;
  batchSize: number;
  steps: number;
  eps: number;
  cleanAccuracy: number;
  robustAccuracy: number;
  /** Attack wall time. */
  seconds: number;
  samplesPerSecond: number;
  /** Median forward+gradient time of one full batch. */
  batchGradSeconds: number;
  /** steps × batchGradSeconds × ⌈samples / batchSize⌉. */
  floorSeconds: number;
  /** seconds / floorSeconds. */
  ratio: number;
  /** steps × batchGradSeconds × ⌈attacked / batchSize⌉ (PGD skips misclassified points). */
  attackedFloorSeconds: number;
  attackedRatio: number;
  /** Attack seconds spent inside ONNX Runtime; seconds / ortSeconds − 1 is Gauntlet's own overhead. */
  ortSeconds: number;
  overhead: number;
}

export async function benchPgd(model: Model, ds: Dataset, opts: BenchPgdOptions = {}): Promise<BenchPgdResult> {
  const eps = opts.eps ?? 0.1;
  const steps = opts.steps ?? 20;
  const B = model.fixedBatch ?? opts.batchSize ?? 256;
  const repeats = opts.repeats ?? 10;
  if (!ds.labels) throw new DataError(`${ds.name}: has no labels, which an attack benchmark needs`);
  const per = ds.itemShape.reduce((a, b) => a * b, 1);
  const engines = new EngineCache(model, opts.gradient);
  try {
    const x = new Float32Array(B * per);
    const labels = new Int32Array(B);
    for (let r = 0; r < B; r++) {
      const i = Math.min(r, ds.size - 1);
      x.set(ds.x.subarray(i * per, (i + 1) * per), r * per);
      labels[r] = ds.labels[i]!;
    }
    await model.predictBatch(x, B);
    const engine = engines.get('ce', false);
    for (let i = 0; i < 2; i++) await engine.run(x, B, labels);
    const ms: number[] = [];
    const pass = () => engine.run(x, B, labels);
    // Half the floor passes before and half after the attack, so load drift hits both alike.
    await timeCalls(pass, Math.ceil(repeats / 2), ms);
    const r = await runAttack(model, ds.x, ds.size, ds.labels, { attack: 'pgd', norm: 'linf', eps, steps }, new Rng(opts.seed ?? 0), {
      batchSize: B,
      engines,
      onProgress: opts.onProgress,
    });
    await timeCalls(pass, Math.floor(repeats / 2), ms);
    const batchGradSeconds = lowerMedian(ms) / 1000;
    const attacked = r.samples.cleanCorrect.reduce((a, b) => a + b, 0);
    const floorSeconds = steps * batchGradSeconds * Math.ceil(ds.size / B);
    const attackedFloorSeconds = steps * batchGradSeconds * Math.ceil(attacked / B);
    return {
      samples: ds.size,
      attacked,
      batchSize: B,
      steps,
      eps,
      cleanAccuracy: r.aggregate.cleanAccuracy,
      robustAccuracy: r.aggregate.robustAccuracy,
      seconds: r.seconds,
      samplesPerSecond: ds.size / r.seconds,
      batchGradSeconds,
      floorSeconds,
      ratio: r.seconds / floorSeconds,
      attackedFloorSeconds,
      attackedRatio: r.seconds / attackedFloorSeconds,
      ortSeconds: r.ortSeconds,
      overhead: r.seconds / r.ortSeconds - 1,
    };
  } finally {
    await engines.close();
  }
}
