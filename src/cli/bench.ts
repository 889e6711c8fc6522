import { GradientEngine } from '../autodiff/gradient.js';
import { GRADIENT_OPTIONS } from '../autodiff/options.js';
import { flagSpec, helpLines, parseFlags } from '../options/schema.js';
import { Rng } from '../rng.js';
import { ModelError, UsageError } from '../errors.js';
import { defaultAssets } from '../defaults.js';
import { benchPgd } from '../stress/adversarial/bench.js';
import { benchTrain } from '../train/bench.js';
import { mergeRecipeFlags, recipeFlagSpec } from '../train/recipe.js';
import { readYamlFile } from '../yaml.js';
import { numberOpt, parse, progressReporter } from './args.js';
import { dataFlags, declarationHelp, fmt, modelFlags, openData, openModel } from './common.js';
import { lowerMedian, timeCalls } from '../timing.js';

export const help = `gauntlet bench [--model M.onnx] [--batch-size B] [--repeats R] [--json]
gauntlet bench --train [--model M.onnx] [--data TRAIN] [--recipe R.yaml] [recipe flags] [--json]

Measures, in one process after warm-up, the median wall time of a forward pass and of a
forward + input-gradient pass (cross-entropy loss) on the same seeded random batch.
With --json the last stdout line has forward_ms, forward_grad_ms, ratio and maxpool_ties.

With --attack pgd it instead times PGD-20 L∞ (ε 0.1) over --data (default: the 2,000 embedded
images) against its floor, 20 × the forward+gradient time of one batch × the number of batches.

With --train it instead times training steps of the model: the library's train() (one ORT run of
forward + loss + backward to every parameter, then the optimizer update) on the first
(5 + R/2) × B items of --data (default: the shipped 10,000-image training slice), twice, the 5
first steps of each run untimed, against forward passes of the same batch size, alternating.
A step costs about 3 forwards. It prints the median step and forward times and their ratio, and
one epoch of --data estimated from the step time. The recipe flags are those of
'gauntlet train' (epochs is always 1; batch size default 128). With --json the last stdout line
has step_ms, forward_ms, ratio, batch_size, steps, first_step_ms, steps_per_epoch,
epoch_seconds_estimate, optimizer and threads.

Options:
  --model M.onnx     model (default: the embedded Fashion-MNIST CNN)
  --attack pgd       benchmark the PGD attack instead of one gradient pass
  --train            benchmark training steps instead of one gradient pass
  --data D           data for --attack (default: the embedded 2,000-image slice) or --train
                     (default: the shipped 10,000-image training slice)
  --batch-size B     items per pass (default 256; with --train the recipe's, 128)
  --repeats R        timed passes (or --train steps) of each kind (default 20), in 2 alternating
                     blocks; each block starts with 5 untimed passes
  --recipe R.yaml    --train: recipe (flags override its keys)
  recipe flags       --train: those of 'gauntlet train --help' but --epochs, e.g. --optimizer adamw
                     --lr 2e-3 --schedule cosine --init reinit --freeze-bn --no-shuffle
  --seed N           seed of the random batch (default 0); with --train the recipe's seed
  --threads N        ONNX Runtime intra-op threads (0 = all cores; default 0)

Gradient options:
${helpLines(GRADIENT_OPTIONS, 21)}
` + '\n' + declarationHelp() + '\n';

export async function benchVerb(argv: string[]): Promise<number> {
  const { values } = parse('bench', argv, { ...modelFlags, ...dataFlags,
    model: { type: 'string' },
    'batch-size': { type: 'string' },
    repeats: { type: 'string' },
    seed: { type: 'string' },
    attack: { type: 'string' },
    data: { type: 'string' },
    ...flagSpec(GRADIENT_OPTIONS),
    train: { type: 'boolean' },
    recipe: { type: 'string' },
    ...recipeOnlyFlags,
  });
  if (values.help) return (process.stdout.write(help), 0);
  const repeatsN = numberOpt('repeats', values.repeats, 20, { min: 1, max: 10000, integer: true });
  if (values.train) {
    if (values.attack !== undefined) throw new UsageError(`bench: '--train' and '--attack' are two different benchmarks; give one`);
    return benchTrainVerb(values, repeatsN);
  }
  const stray = [...Object.keys(recipeOnlyFlags), 'recipe'].find((k) => (values as Record<string, unknown>)[k] !== undefined);
  if (stray) throw new UsageError(`bench: '--${stray}' applies to --train only`);
  const batch = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  const repeats = repeatsN;
  const rng = new Rng(numberOpt('seed', values.seed, 0, { min: 0, integer: true }));
  const gradient = parseFlags(GRADIENT_OPTIONS, values);
  if (values.attack !== undefined) {
    if (values.attack !== 'pgd') throw new UsageError(`'--attack' must be pgd, got '${values.attack}'`);
    const ds = await openData(values);
    const m = await openModel(values, values.threads, { verb: 'bench', blackBox: "'gauntlet eval --model URL' (it reports the endpoint's latency, throughput and errors)" });
    try {
      const r = await benchPgd(m, ds, { batchSize: batch, seed: numberOpt('seed', values.seed, 0, { min: 0, integer: true }), gradient, onProgress: progressReporter('pgd') });
      const out = { attack: 'pgd', maxpool_ties: gradient.maxpoolTies, steps: r.steps, eps: r.eps, samples: r.samples, attacked: r.attacked, seconds: r.seconds, samples_per_second: r.samplesPerSecond, floor_seconds: r.floorSeconds, ratio: r.ratio, attacked_ratio: r.attackedRatio, batch_grad_ms: 1000 * r.batchGradSeconds, clean_accuracy: r.cleanAccuracy, robust_accuracy: r.robustAccuracy, overhead: r.overhead };
      if (values.json) process.stdout.write(JSON.stringify(out) + '\n');
      else process.stdout.write(`PGD-${r.steps} L∞ ε=${r.eps} on ${r.samples} items (${r.attacked} attacked): ${fmt(r.seconds, 2)} s, ${fmt(r.samplesPerSecond, 1)} items/s\nfloor ${fmt(r.floorSeconds, 2)} s (forward+gradient ${fmt(1000 * r.batchGradSeconds, 1)} ms per batch of ${r.batchSize}); ratio ${fmt(r.ratio, 2)}× (${fmt(r.attackedRatio, 2)}× over attacked points)\nclean accuracy ${fmt(r.cleanAccuracy)}, robust accuracy ${fmt(r.robustAccuracy)}\n`);
      return 0;
    } finally {
      await m.close();
    }
  }
  const model = await openModel(values, values.threads, { verb: 'bench', blackBox: "'gauntlet eval --model URL' (it reports the endpoint's latency, throughput and errors)" });
  const engine = new GradientEngine(model, { kind: 'ce' }, gradient);
  try {
    if (!model.itemShape || !model.itemShape.every((d) => typeof d === 'number')) {
      throw new ModelError(`${model.label}: input item shape [${model.itemShape?.join(', ') ?? '?'}] is not static; bench needs a fixed shape`);
    }
    const per = (model.itemShape as number[]).reduce((a, b) => a * b, 1);
    const [lo, hi] = model.decl.bounds;
    const x = new Float32Array(batch * per);
    for (let i = 0; i < x.length; i++) x[i] = rng.range(lo, hi);
    const first = await model.predictBatch(x, batch);
    const labels = Int32Array.from({ length: batch }, () => rng.int(first.numClasses));
    const buildStart = performance.now();
    await engine.run(x, batch, labels);
    const buildMs = performance.now() - buildStart;
    const forward = () => model.predictBatch(x, batch);
    const backward = () => engine.run(x, batch, labels);
    // Blocks of each kind, alternating over two rounds so that load drift hits both alike. Each
    // block starts with 5 untimed passes: a pass run right after the other session's is slowed
    // (its ORT threads and caches take a few passes to settle; the first forward passes after a
    // gradient block measured up to 1.5× their steady time).
    const fwd: number[] = [];
    const grad: number[] = [];
    const rounds = Math.min(2, repeats);
    const progress = progressReporter('bench'); // drawn between blocks, never inside a timed one
    let passes = 0;
    for (let round = 0; round < rounds; round++) {
      const k = Math.floor(repeats / rounds) + (round < repeats % rounds ? 1 : 0);
      for (const [pass, into] of [[forward, fwd], [backward, grad]] as const) {
        for (let i = 0; i < 5; i++) await pass();
        await timeCalls(pass, k, into);
        progress((passes += 5 + k), 2 * repeats + 10 * rounds);
      }
    }
    const forwardMs = lowerMedian(fwd);
    const gradMs = lowerMedian(grad);
    const result = { model: model.label, batch_size: batch, repeats, maxpool_ties: gradient.maxpoolTies, forward_ms: forwardMs, forward_grad_ms: gradMs, ratio: gradMs / forwardMs, gradient_build_ms: buildMs };
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      process.stdout.write(
        `model            ${model.label}\nbatch            ${batch} (median of ${repeats}, in blocks after warm-up)\nforward          ${fmt(forwardMs, 2)} ms\nforward+gradient ${fmt(gradMs, 2)} ms (MaxPool ties: ${gradient.maxpoolTies})\nratio            ${fmt(gradMs / forwardMs, 2)}×\n(gradient graph built in ${fmt(buildMs, 0)} ms, once per batch size)\n`,
      );
    }
    return 0;
  } finally {
    await engine.close();
    await model.close();
  }
}

/** Recipe flags bench takes with --train besides its own --batch-size and --seed. */
const recipeOnlyFlags = Object.fromEntries(Object.entries(recipeFlagSpec()).filter(([k]) => k !== 'batch-size' && k !== 'seed' && k !== 'epochs' && k !== 'maxpool-ties'));

async function benchTrainVerb(values: Record<string, unknown>, repeats: number): Promise<number> {
  const yaml = values.recipe ? readYamlFile(values.recipe as string) : {};
  if (typeof yaml !== 'object' || yaml === null || Array.isArray(yaml)) throw new UsageError(`${values.recipe}: a recipe must be a mapping (key: value)`);
  const raw = mergeRecipeFlags(yaml as Record<string, unknown>, values);
  const data = await openData({ ...values, data: (values.data as string | undefined) ?? defaultAssets.trainData });
  const model = await openModel(values, values.threads, { verb: 'bench', blackBox: "'gauntlet eval --model URL' (it reports the endpoint's latency, throughput and errors)" });
  const threads = values.threads === undefined ? 0 : Number(values.threads);
  try {
    const r = await benchTrain(model, data, raw, { steps: repeats, threads, onProgress: progressReporter('bench') });
    const opt = r.recipe.optimizer as { name: string; lr: number };
    const result = {
      model: model.label, data: data.name, batch_size: r.batchSize, steps: r.steps, optimizer: opt.name, lr: opt.lr, threads,
      step_ms: r.stepMs, forward_ms: r.forwardMs, ratio: r.ratio, first_step_ms: r.firstStepMs,
      steps_per_epoch: r.stepsPerEpoch, epoch_seconds_estimate: r.epochSecondsEstimate,
      step_ms_range: [Math.min(...r.stepTimes), Math.max(...r.stepTimes)], forward_ms_range: [Math.min(...r.forwardTimes), Math.max(...r.forwardTimes)],
    };
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      process.stdout.write(
        `model            ${model.label}\n` +
          `batch            ${r.batchSize} (${opt.name} lr ${opt.lr}; median of ${r.steps} steps and ${r.steps} forwards, alternating, after warm-up)\n` +
          `training step    ${fmt(r.stepMs, 2)} ms (range ${fmt(result.step_ms_range[0]!, 1)}–${fmt(result.step_ms_range[1]!, 1)})\n` +
          `forward          ${fmt(r.forwardMs, 2)} ms (range ${fmt(result.forward_ms_range[0]!, 1)}–${fmt(result.forward_ms_range[1]!, 1)})\n` +
          `ratio            ${fmt(r.ratio, 2)}× (a step costs about 3 forwards)\n` +
          `epoch estimate   ${fmt(r.epochSecondsEstimate, 1)} s (${r.stepsPerEpoch} steps over ${data.size} items of ${data.name})\n` +
          `(first step of a run, training graph built: ${fmt(r.firstStepMs, 0)} ms)\n`,
      );
    }
    return 0;
  } finally {
    await model.close();
  }
}
