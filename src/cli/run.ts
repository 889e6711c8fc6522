import fs from 'node:fs';
import path from 'node:path';
import { datasetHash } from '../data/dataset.js';
import { evaluate } from '../engine/evaluate.js';
import { numberOpt, parse, progressReporter } from './args.js';
import { fmt, openData, openModel } from './common.js';

export const help = `gauntlet run [--model M.onnx] [--data D.npz] [--seed N] [--out DIR]

Runs a stress campaign and writes results.json into DIR (default ./gauntlet-run).
Without options it uses the embedded default: a small CNN trained on Fashion-MNIST and a
stratified 2,000-image slice of its test set.

Options:
  --model M.onnx     model (default: the embedded Fashion-MNIST CNN)
  --data D           labelled data (default: the embedded 2,000-image slice)
  --seed N           seed for every random draw (default 0)
  --out DIR          output directory (default ./gauntlet-run)
  --threads N        ONNX Runtime intra-op threads (0 = all cores; default 0)
`;

export async function runVerb(argv: string[]): Promise<number> {
  const { values } = parse('run', argv, {
    model: { type: 'string' },
    data: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
  });
  if (values.help) return (process.stdout.write(help), 0);
  const seed = numberOpt('seed', values.seed, 0, { min: 0, integer: true });
  const outDir = values.out ?? 'gauntlet-run';
  const ds = await openData(values.data);
  const model = await openModel(values.model, values.threads);
  try {
    const ev = await evaluate(model, ds, { onProgress: progressReporter('baseline') });
    const results = {
      gauntlet: '0.1.0',
      seed,
      model: { path: model.label, sha256: model.sha256, output_kind: ev.outputKind },
      data: { path: ds.name, sha256: datasetHash(ds), samples: ds.size },
      cells: [{ id: 'baseline', stage: 'baseline', stresses: [], metrics: { accuracy: ev.accuracy, macro_f1: ev.macroF1, ece: ev.ece, nll: ev.nll, brier: ev.brier } }],
    };
    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, 'results.json');
    fs.writeFileSync(file + '.tmp', JSON.stringify(results, null, 2) + '\n');
    fs.renameSync(file + '.tmp', file);
    process.stdout.write(`baseline accuracy ${fmt(ev.accuracy)}  ECE ${fmt(ev.ece)}  NLL ${fmt(ev.nll)}  Brier ${fmt(ev.brier)}\nwrote ${file}\n`);
    return 0;
  } finally {
    await model.close();
  }
}
