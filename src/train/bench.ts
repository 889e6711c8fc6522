/**
 * Training-step speed benchmark (`gauntlet bench --train`): the wall time of one training step
 * of `train()` (gather the batch, one ORT run of forward + loss + backward, the optimizer update,
 * BatchNorm statistics written back) against one inference forward pass of the same batch size,
 * with the same threads. A step does about three forwards' worth of arithmetic (forward, and a
 * backward to both the activations and the weights), so the ratio says how much of the step is
 * overhead.
 *
 * How it times: `train()` itself, for one epoch over `(warmup + steps) × B` items of the data
 * (repeated when the data are fewer), taking each step's time from consecutive `onProgress`
 * timestamps and dropping the first `warmup` steps (the first includes building the training
 * graph and its session). Forward passes are timed on the batch the same data start with, after 5
 * untimed ones. Both alternate over `rounds` rounds so that load drift on a shared machine hits
 * them alike; the results are lower medians.
 *
 * Example:
 *   const b = await benchTrain(model, ds, { optimizer: { name: 'adamw', lr: 2e-3 }, batch_size: 128 }, { threads: 2 });
 *   b.stepMs / b.forwardMs; // b.ratio
 */
import { subset, type Dataset } from '../data/dataset.js';
import type { Model } from '../engine/model.js';
import { UsageError } from '../errors.js';
import { lowerMedian, timeCalls } from '../timing.js';
import { parseRecipe, type Recipe } from './recipe.js';
import { train } from './trainer.js';

export interface BenchTrainOptions {
  /** Timed training steps in all (default 20), split over the rounds. */
  steps?: number;
  /** Untimed steps at the start of each training run (default 5; at least 1). */
  warmup?: number;
  /** Alternating forward / training rounds (default 2). */
  rounds?: number;
  /** ORT intra-op threads of the training session (0 = all cores); open `model` with the same. */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface BenchTrainResult {
  batchSize: number;
  /** Timed steps (and timed forward passes: as many). */
  steps: number;
  /** Lower median of the timed steps' wall times. */
  stepMs: number;
  /** Lower median of the timed forward passes (inference graph, same batch size). */
  forwardMs: number;
  /** stepMs / forwardMs. */
  ratio: number;
  /** Every timed step and forward pass, in order (ms). */
  stepTimes: number[];
  forwardTimes: number[];
  /** Median time of each round's first step (training graph and session built in it). */
  firstStepMs: number;
  /** Steps of one epoch of the given data at this batch size, and that many × stepMs. */
  stepsPerEpoch: number;
  epochSecondsEstimate: number;
  recipe: Recipe;
}

export async function benchTrain(model: Model, data: Dataset, recipeRaw: Record<string, unknown>, opts: BenchTrainOptions = {}): Promise<BenchTrainResult> {
  const total = opts.steps ?? 20;
  const warmup = opts.warmup ?? 5;
  const rounds = Math.min(opts.rounds ?? 2, total);
  if (!(Number.isInteger(total) && total >= 1)) throw new UsageError(`'steps' must be an integer >= 1, got ${total}`);
  if (!(Number.isInteger(warmup) && warmup >= 1)) throw new UsageError(`'warmup' must be an integer >= 1, got ${warmup}`);
  const raw = { ...recipeRaw, epochs: 1 };
  const recipe = parseRecipe(raw);
  const B = recipe.batchSize;
  const n = data.size;
  const batchX = subset(data, Array.from({ length: B }, (_, i) => i % n)).x;
  const forward = () => model.predictBatch(batchX, B);
  const fwd: number[] = [];
  const steps: number[] = [];
  const firsts: number[] = [];
  const work = total + rounds * (5 + warmup);
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    const k = Math.floor(total / rounds) + (round < total % rounds ? 1 : 0);
    for (let i = 0; i < 5; i++) await forward();
    await timeCalls(forward, k, fwd);
    const items = subset(data, Array.from({ length: (warmup + k) * B }, (_, i) => i % n), `${data.name} (bench)`);
    const stamps: number[] = [];
    const t0 = performance.now();
    await train(model, items, raw, { threads: opts.threads ?? 0, onProgress: () => void stamps.push(performance.now()) });
    firsts.push(stamps[0]! - t0);
    for (let s = warmup; s < stamps.length; s++) steps.push(stamps[s]! - stamps[s - 1]!);
    opts.onProgress?.((done += 5 + warmup + k), work);
  }
  const stepMs = lowerMedian(steps);
  const forwardMs = lowerMedian(fwd);
  const stepsPerEpoch = Math.ceil(n / B);
  return { batchSize: B, steps: steps.length, stepMs, forwardMs, ratio: stepMs / forwardMs, stepTimes: steps, forwardTimes: fwd, firstStepMs: lowerMedian(firsts), stepsPerEpoch, epochSecondsEstimate: (stepsPerEpoch * stepMs) / 1000, recipe };
}
