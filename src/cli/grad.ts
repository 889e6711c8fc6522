import { GradientEngine } from '../autodiff/gradient.js';
import { LOSS_KINDS, type LossKind } from '../autodiff/loss.js';
import { itemSize, requireLabels } from '../data/dataset.js';
import { saveNpy } from '../data/npy.js';
import { UsageError } from '../errors.js';
import { numberOpt, parse, progressReporter, required } from './args.js';
import { dataFlags, dataRef, declarationHelp, modelFlags, modelRef, openData, openModel } from './common.js';
import { guardOutputs, dataInput, modelInput } from './outputs.js';

export const help = `gauntlet grad --model M.onnx --data D.npz --out G.npy [--loss ce|cw|dlr|logit] [--batch-size B]

Writes the gradient of the loss summed over samples with respect to the input (data domain,
preprocessing included), float32, the same shape as the data's x. Per-sample losses do not
interact, so row i is the gradient of sample i's loss.

Losses: ce (cross-entropy with the true label, default), cw (Carlini–Wagner margin),
dlr (Croce & Hein's difference of logits ratio), logit (the logit of the true label).

Options:
  --model M.onnx     model (default: the embedded Fashion-MNIST CNN)
  --data D           labelled data (default: the embedded 2,000-image slice)
  --out G.npy        output file (required; written atomically)
  --loss L           ce | cw | dlr | logit (default ce)
  --batch-size B     items per ORT run (default 256)
  --limit N          only the first N items
  --threads N        ONNX Runtime intra-op threads (0 = all cores; default 0)
` + '\n' + declarationHelp() + '\n';

export async function gradVerb(argv: string[]): Promise<number> {
  const { values } = parse('grad', argv, { ...modelFlags, ...dataFlags,
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    loss: { type: 'string' },
    'batch-size': { type: 'string' },
    limit: { type: 'string' },
  });
  if (values.help) return (process.stdout.write(help), 0);
  const out = required('grad', 'out', values.out);
  const loss = (values.loss ?? 'ce') as LossKind;
  if (!LOSS_KINDS.includes(loss)) throw new UsageError(`'--loss' must be one of ${LOSS_KINDS.join(', ')}, got '${values.loss}'`);
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  guardOutputs('grad', [{ name: '--out', path: out }], [modelInput(modelRef(values).path), dataInput(dataRef(values).path)]);
  const ds = await openData(values, values.limit);
  const labels = requireLabels(ds, 'a loss gradient');
  const model = await openModel(values, values.threads);
  const engine = new GradientEngine(model, { kind: loss });
  try {
    model.checkData(ds);
    const first = await model.predictBatch(ds.x.subarray(0, itemSize(ds)), 1);
    model.checkData(ds, first.numClasses);
    const per = itemSize(ds);
    const grad = new Float32Array(ds.x.length);
    const progress = progressReporter('grad');
    for (let s = 0; s < ds.size; s += batchSize) {
      const n = Math.min(batchSize, ds.size - s);
      const r = await engine.run(ds.x.subarray(s * per, (s + n) * per), n, labels.subarray(s, s + n));
      grad.set(r.grad, s * per);
      progress(s + n, ds.size);
    }
    await saveNpy(out, { dtype: '<f4', shape: [ds.size, ...ds.itemShape], data: grad });
    let sq = 0;
    for (let i = 0; i < grad.length; i++) sq += grad[i]! * grad[i]!;
    process.stdout.write(`wrote ${out}  [${[ds.size, ...ds.itemShape].join(', ')}] float32, ‖grad‖₂ = ${Math.sqrt(sq).toPrecision(6)}\n`);
    return 0;
  } finally {
    await engine.close();
    await model.close();
  }
}
