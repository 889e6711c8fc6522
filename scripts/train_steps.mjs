// Per-step training loss of `gauntlet train` (dev tool; reads the built dist/, changes nothing).
//
// Runs the real `train()` of dist/src/train/trainer.js with a recipe YAML (as `gauntlet train
// --recipe`) and writes, besides the trained model, OUT.steps.tsv (epoch, step, batch-mean loss
// per line: the loss the step trained on, as `bench_torch_harden.py --steps-log` writes it) and,
// for a recipe with `labels:`, OUT.labels.jsonl in the format `gauntlet train` writes (item, label
// trained on, true label), which `bench_torch_harden.py --labels` reads. Prints the epoch history
// (one JSON line per epoch, as OUT.train.jsonl). Used to check the collapse of PGD-AT on noisy
// labels against PyTorch step by step (README, "PGD-AT on 40 % noisy labels").
//
//   npx tsc -p tsconfig.json && node scripts/train_steps.mjs --recipe R.yaml --out OUT.onnx
//       [--model M.onnx (default: the embedded model, kept)] [--data TRAIN.npz] [--limit N] [--threads 2]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({ options: {
  recipe: { type: 'string' },
  out: { type: 'string' },
  model: { type: 'string', default: path.join(root, 'assets/default/model.onnx') },
  data: { type: 'string', default: path.join(root, 'assets/default/fashion-mnist-train-10k.npz') },
  limit: { type: 'string' },
  threads: { type: 'string', default: '2' },
} });
if (!a.recipe || !a.out) {
  process.stderr.write('usage: node scripts/train_steps.mjs --recipe R.yaml --out OUT.onnx [--model M.onnx] [--data D] [--limit N] [--threads T]\n');
  process.exit(2);
}
for (const f of [a.out, a.out.replace(/\.onnx$/i, '') + '.steps.tsv', a.out.replace(/\.onnx$/i, '') + '.labels.jsonl']) {
  if (fs.existsSync(f)) {
    process.stderr.write(`${f} exists; not overwriting it\n`);
    process.exit(2);
  }
}
const dist = (p) => import(path.join(root, 'dist/src', p));
const { train, modelBytes } = await dist('train/trainer.js');
const { Model } = await dist('engine/model.js');
const { loadDataset, takeFirst } = await dist('data/index.js');

const threads = Number(a.threads);
const full = await loadDataset(a.data);
const data = a.limit ? takeFirst(full, Number(a.limit)) : full;
const model = await Model.open(a.model, { threads });
const recipe = YAML.parse(fs.readFileSync(a.recipe, 'utf8'));
const stem = a.out.replace(/\.onnx$/i, '');
const lines = [];
const r = await train(model, data, recipe, { threads, onProgress: (p) => lines.push(`${p.epoch}\t${p.step}\t${p.loss}`) });
fs.writeFileSync(`${stem}.steps.tsv`, lines.join('\n') + '\n');
fs.writeFileSync(a.out, modelBytes(r.model));
if (r.labels) {
  const truth = r.labels.annotation.trueLabels;
  fs.writeFileSync(`${stem}.labels.jsonl`, Array.from(r.labels.observed, (label, i) => JSON.stringify({ item: String(i), label, true_label: truth[i] })).join('\n') + '\n');
}
for (const h of r.history) console.log(JSON.stringify(h));
await model.close();
