import path from 'node:path';
import { GradientEngine } from '../autodiff/gradient.js';
import { LOSS_KINDS, type LossKind } from '../autodiff/loss.js';
import { GRADIENT_OPTIONS, type GradientOptions } from '../autodiff/options.js';
import { itemSize, requireLabels } from '../data/dataset.js';
import { saveNpy } from '../data/npy.js';
import { saveNpz } from '../data/npz.js';
import type { Dataset } from '../data/dataset.js';
import type { Model } from '../engine/model.js';
import { EmbeddingView } from '../engine/embedding.js';
import { createSession } from '../engine/session.js';
import { ModelError, UsageError } from '../errors.js';
import { flagSpec, helpLines, parseFlags } from '../options/schema.js';
import { Rng } from '../rng.js';
import { buildTrainingGraph, dropoutMask, initialParams, runTrainingGraph, trainableParams, type TrainingGraph } from '../train/graph.js';
import { numberOpt, parse, progressReporter, required } from './args.js';
import { dataFlags, dataRef, declarationHelp, modelFlags, modelRef, openData, openModel } from './common.js';
import { guardOutputs, dataInput, modelInput } from './outputs.js';

export const help = `gauntlet grad --model M.onnx --data D.npz --out G.npy [--loss ce|cw|dlr|logit] [--batch-size B]
gauntlet grad --wrt params --model M.onnx --data D.npz --out G.npz [--train-mode] [--batch-size B]

Writes the gradient of the loss summed over samples with respect to the input (data domain,
preprocessing included), float32, the same shape as the data's x. Per-sample losses do not
interact, so row i is the gradient of sample i's loss.

With --wrt params: the gradient of the cross-entropy summed over the items with respect to every
trainable parameter (every float initializer that is a weight on the path to the output), one
float32 array per initializer name in G.npz — to check Gauntlet's training gradients against
another framework. --train-mode runs the forward as PyTorch's model.train() does: BatchNorm on
the statistics of each batch of --batch-size items (so the result depends on the batch size),
Dropout active with masks drawn from --seed.

Losses: ce (cross-entropy with the true label, default), cw (Carlini–Wagner margin),
dlr (Croce & Hein's difference of logits ratio), logit (the logit of the true label).

Options:
  --model M.onnx     model (default: the embedded Fashion-MNIST CNN)
  --data D           labelled data (default: the embedded 2,000-image slice)
  --out G.npy        output file (required; written atomically)
  --loss L           ce | cw | dlr | logit (default ce)
  --batch-size B     items per ORT run (default 256); with --train-mode, BatchNorm's batch
  --wrt W            input (default) | params | embedding (a token-id model: the gradient at
                     its embedding output, [N, T, D]; the same as --model-wrt embedding)
  --train-mode       with --wrt params: BatchNorm batch statistics, Dropout active
  --seed S           with --train-mode: seed of the Dropout masks (default 0)
  --limit N          only the first N items
  --threads N        ONNX Runtime intra-op threads (0 = all cores; default 0)

Gradient options:
${helpLines(GRADIENT_OPTIONS, 21)}
` + '\n' + declarationHelp() + '\n';

export async function gradVerb(argv: string[]): Promise<number> {
  const { values } = parse('grad', argv, { ...modelFlags, ...dataFlags,
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    loss: { type: 'string' },
    'batch-size': { type: 'string' },
    limit: { type: 'string' },
    wrt: { type: 'string' },
    'train-mode': { type: 'boolean' },
    seed: { type: 'string' },
    ...flagSpec(GRADIENT_OPTIONS),
  });
  if (values.help) return (process.stdout.write(help), 0);
  const out = required('grad', 'out', values.out);
  const wrt = values.wrt ?? 'input';
  if (wrt !== 'input' && wrt !== 'params' && wrt !== 'embedding') throw new UsageError(`'--wrt' must be one of input, params, embedding, got '${wrt}'`);
  if (wrt === 'embedding') {
    // The model declaration's `wrt: embedding`, spelled as grad's --wrt.
    const raw = values as Record<string, unknown>;
    if (raw['model-wrt'] !== undefined && raw['model-wrt'] !== 'embedding') throw new UsageError(`'--wrt embedding' contradicts '--model-wrt ${String(raw['model-wrt'])}'`);
    raw['model-wrt'] = 'embedding';
  }
  if (wrt === 'input' && values['train-mode']) throw new UsageError(`'--train-mode' needs '--wrt params'`);
  const gradient = parseFlags(GRADIENT_OPTIONS, values);
  // One output guard for both gradients: --out may not be (or link to) the model or the data.
  guardOutputs('grad', [{ name: '--out', path: out }], [modelInput(modelRef(values).path), dataInput(dataRef(values).path)]);
  if (wrt === 'params') {
    if (values.loss && values.loss !== 'ce') throw new UsageError(`'--wrt params' uses the cross-entropy loss; '--loss ${values.loss}' is for input gradients`);
    const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
    const seed = numberOpt('seed', values.seed, 0, { min: 0, integer: true });
    const ds = await openData(values, values.limit);
    const labels = requireLabels(ds, 'a loss gradient');
    const model = await openModel(values, values.threads, { verb: 'grad', blackBox: "the black-box attack 'gauntlet attack --attack square'" });
    try {
      return await paramGrads(model, ds, labels, { out, batchSize, trainMode: values['train-mode'] ?? false, seed, threads: numberOpt('threads', values.threads, 0, { min: 0, max: 256, integer: true }), gradient });
    } finally {
      await model.close();
    }
  }
  const loss = (values.loss ?? 'ce') as LossKind;
  if (!LOSS_KINDS.includes(loss)) throw new UsageError(`'--loss' must be one of ${LOSS_KINDS.join(', ')}, got '${values.loss}'`);
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  const ds = await openData(values, values.limit);
  const labels = requireLabels(ds, 'a loss gradient');
  const model = await openModel(values, values.threads, { verb: 'grad', blackBox: "the black-box attack 'gauntlet attack --attack square'" });
  let view: EmbeddingView | null = null;
  let engine: GradientEngine | null = null;
  try {
    model.checkData(ds);
    const first = await model.predictBatch(ds.x.subarray(0, itemSize(ds)), 1);
    model.checkData(ds, first.numClasses);
    // `wrt: embedding`: the gradient at the embedding lookup's output, taken on the model's tail
    // from the embeddings of the ids; [N, T, D].
    view = model.embedding ? await EmbeddingView.open(model, { threads: numberOpt('threads', values.threads, 0, { min: 0, max: 256, integer: true }) }) : null;
    engine = new GradientEngine(view ? view.tail : model, { kind: loss }, gradient);
    const x = view ? view.embed(ds.x) : ds.x;
    const itemShape = view ? [...ds.itemShape, view.dim] : [...ds.itemShape];
    const per = x.length / ds.size;
    const grad = new Float32Array(x.length);
    const progress = progressReporter('grad');
    for (let s = 0; s < ds.size; s += batchSize) {
      const n = Math.min(batchSize, ds.size - s);
      const r = await engine.run(x.subarray(s * per, (s + n) * per), n, labels.subarray(s, s + n));
      grad.set(r.grad, s * per);
      progress(s + n, ds.size);
    }
    await saveNpy(out, { dtype: '<f4', shape: [ds.size, ...itemShape], data: grad });
    let sq = 0;
    for (let i = 0; i < grad.length; i++) sq += grad[i]! * grad[i]!;
    process.stdout.write(`wrote ${out}  [${[ds.size, ...itemShape].join(', ')}] float32${view ? ` at the embedding output ${view.lookup.output}` : ''}, ‖grad‖₂ = ${Math.sqrt(sq).toPrecision(6)}\n`);
    // What the gradient graph rewrote (an opset upgrade, If/Loop/Scan/LSTM lowered), for the record.
    for (const note of engine.notes) process.stderr.write(`note: gradient graph: ${note}\n`);
    return 0;
  } finally {
    await engine?.close();
    await view?.close();
    await model.close();
  }
}

/**
 * `--wrt params`: d(Σ_i CE_i)/d(parameter) for every trainable parameter, accumulated over
 * batches. The training graph's loss is the batch mean, so each batch's gradient is scaled by its
 * size before it is added.
 */
async function paramGrads(model: Model, ds: Dataset, labels: Int32Array | ArrayLike<number>, o: { out: string; batchSize: number; trainMode: boolean; seed: number; threads: number; gradient: GradientOptions }): Promise<number> {
  model.checkData(ds);
  const per = itemSize(ds);
  const first = await model.predictBatch(ds.x.subarray(0, per), 1);
  model.checkData(ds, first.numClasses);
  const k = first.numClasses;
  const params = trainableParams(model.prepared, model.decl.outputName);
  if (params.length === 0) throw new ModelError(`${model.label}: no trainable parameter (float initializer weight) on the path to output '${model.decl.outputName}'`);
  if (model.fixedBatch !== null && ds.size % model.fixedBatch !== 0) throw new ModelError(`${model.label}: input has a fixed batch size of ${model.fixedBatch}; gradients must be taken in batches of exactly that size`);
  const batchSize = model.fixedBatch ?? o.batchSize;
  const values = initialParams(model.prepared, params);
  const sums = new Map(params.map((p) => [p, new Float64Array(values.get(p)!.length)]));
  const graphs = new Map<number, Promise<{ tg: TrainingGraph; session: Awaited<ReturnType<typeof createSession>> }>>();
  const graphFor = (n: number) => {
    let g = graphs.get(n);
    if (!g) {
      g = (async () => {
        const tg = await buildTrainingGraph(model.prepared, {
          input: model.decl.inputName, output: model.decl.outputName, outputKind: model.outputKind ?? 'logits',
          params, trainMode: o.trainMode, batch: n, itemShape: [...ds.itemShape], label: model.label, gradient: o.gradient,
        });
        return { tg, session: await createSession(tg.model, model.label, { threads: o.threads }) };
      })();
      graphs.set(n, g);
    }
    return g;
  };
  const rng = new Rng(o.seed).fork('grad-dropout');
  const progress = progressReporter('grad');
  let totalLoss = 0;
  try {
    for (let s = 0; s < ds.size; s += batchSize) {
      const n = Math.min(batchSize, ds.size - s);
      const { tg, session } = await graphFor(n);
      const targets = new Float32Array(n * k);
      for (let i = 0; i < n; i++) targets[i * k + Number(labels[s + i])] = 1;
      const r = await runTrainingGraph(session, tg, {
        x: ds.x.subarray(s * per, (s + n) * per), targets, params: values,
        dropoutMasks: tg.feeds.dropout.map((d, j) => dropoutMask(rng.fork(`batch:${s}:${j}`), d.shape, d.p)),
      });
      totalLoss += r.loss * n;
      for (const [p, g] of r.grads) {
        const acc = sums.get(p)!;
        for (let i = 0; i < g.length; i++) acc[i]! += g[i]! * n;
      }
      progress(s + n, ds.size);
    }
  } finally {
    for (const g of graphs.values()) await (await g.catch(() => null))?.session.release();
  }
  const inits = new Map(model.prepared.graph.initializer.map((t) => [t.name ?? '', t]));
  const arrays: Record<string, { dtype: string; shape: number[]; data: Float32Array }> = {};
  let sq = 0;
  let count = 0;
  for (const p of params) {
    const data = Float32Array.from(sums.get(p)!);
    for (const v of data) sq += v * v;
    count += data.length;
    arrays[p] = { dtype: '<f4', shape: (inits.get(p)!.dims ?? []).map(Number), data };
  }
  await saveNpz(o.out, arrays);
  process.stdout.write(`wrote ${o.out}  ${params.length} parameters (${count} values)${o.trainMode ? ', train mode' : ''}, Σ loss = ${totalLoss.toPrecision(6)}, ‖grad‖₂ = ${Math.sqrt(sq).toPrecision(6)}\n`);
  return 0;
}
