// Where an adversarial-training epoch's time goes (dev tool; reads the built dist/, changes nothing).
//
// Runs the real `train()` of dist/src/train/trainer.js on the first --items training items with a
// clean recipe and with PGD-k, and wraps (in this process only) onnxruntime's
// InferenceSession.prototype.run and TrainingAttack.prototype.perturb with timestamps, so each
// epoch splits into: attack ORT runs (inference-mode input-gradient graph), attack JS (random start,
// box, sign steps and projection, tensor wrapping: perturb() minus its runs), training ORT runs
// (train-mode forward + backward to the weights), and the rest (batch assembly, optimizer update,
// BatchNorm write-back, metrics). Modes alternate (clean, pgd, clean, pgd, ...) for --repeats.
//
//   npx tsc -p tsconfig.json && node scripts/profile_harden.mjs [--model M.onnx] [--items 2560]
//       [--steps 7] [--eps 0.1] [--threads 2] [--repeats 2]
//
// Prints one JSON line per run (wall seconds of the epoch and its parts; process_cpu_s: the whole
// train() call's CPU time, less sensitive to other jobs on a shared machine) and a summary line.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({ options: {
  model: { type: 'string', default: path.join(root, 'assets/default/model.onnx') },
  data: { type: 'string', default: path.join(root, 'assets/default/fashion-mnist-train-10k.npz') },
  items: { type: 'string', default: '2560' },
  steps: { type: 'string', default: '7' },
  eps: { type: 'string', default: '0.1' },
  threads: { type: 'string', default: '2' },
  repeats: { type: 'string', default: '2' },
} });
const dist = (p) => import(path.join(root, 'dist/src', p));
const { train } = await dist('train/trainer.js');
const { TrainingAttack } = await dist('train/adversarial.js');
const { Model } = await dist('engine/model.js');
const { loadDataset, takeFirst } = await dist('data/index.js');

const t = { attackRun: 0, attackRuns: 0, trainRun: 0, trainRuns: 0, perturb: 0 };
const now = () => performance.now();
const run0 = ort.InferenceSession.prototype.run;
ort.InferenceSession.prototype.run = async function (...args) {
  const s = now();
  try {
    return await run0.apply(this, args);
  } finally {
    const d = now() - s;
    if (this.outputNames.includes('gauntlet_grad_input')) (t.attackRun += d), t.attackRuns++;
    else if (this.outputNames.includes('gauntlet_loss')) (t.trainRun += d), t.trainRuns++;
  }
};
const perturb0 = TrainingAttack.prototype.perturb;
TrainingAttack.prototype.perturb = async function (...args) {
  const s = now();
  try {
    return await perturb0.apply(this, args);
  } finally {
    t.perturb += now() - s;
  }
};

const full = await loadDataset(a.data);
const data = takeFirst(full, Number(a.items));
const threads = Number(a.threads);
const base = { init: 'keep', epochs: 1, batch_size: 128, shuffle: true, optimizer: { name: 'adamw', lr: 0.001 }, seed: 0 };
const pgd = { ...base, adversarial: { method: 'pgd', eps: Number(a.eps), steps: Number(a.steps), norm: 'linf' } };
const rows = [];
for (let r = 0; r < Number(a.repeats); r++) {
  for (const [mode, recipe] of [['clean', base], ['pgd', pgd]]) {
    const model = await Model.open(a.model, { threads });
    for (const k of Object.keys(t)) t[k] = 0;
    const c0 = process.cpuUsage();
    const res = await train(model, data, recipe, { threads });
    const cpu = process.cpuUsage(c0);
    await model.close();
    const ms = res.history[0].seconds * 1000;
    const row = {
      mode, repeat: r, items: data.size, steps: res.steps, epoch_s: ms / 1000, process_cpu_s: (cpu.user + cpu.system) / 1e6,
      attack_ort_s: t.attackRun / 1000, attack_runs: t.attackRuns, attack_js_s: (t.perturb - t.attackRun) / 1000,
      train_ort_s: t.trainRun / 1000, train_runs: t.trainRuns, rest_s: (ms - t.perturb - t.trainRun) / 1000,
      ms_per_attack_run: t.attackRuns ? t.attackRun / t.attackRuns : null, ms_per_train_run: t.trainRun / t.trainRuns,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
const mean = (mode, key) => { const v = rows.filter((x) => x.mode === mode).map((x) => x[key]); return v.reduce((s, x) => s + x, 0) / v.length; };
const k = Number(a.steps);
console.log(JSON.stringify({ summary: true, k, ratio: mean('pgd', 'epoch_s') / mean('clean', 'epoch_s'), cpu_ratio: mean('pgd', 'process_cpu_s') / mean('clean', 'process_cpu_s'), target: 1.2 * (k + 1),
  ms_per_attack_run: mean('pgd', 'ms_per_attack_run'), ms_per_train_run_clean: mean('clean', 'ms_per_train_run'), ms_per_train_run_pgd: mean('pgd', 'ms_per_train_run') }));
