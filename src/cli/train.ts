import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../data/util.js';
import { defaultAssets } from '../defaults.js';
import { UsageError } from '../errors.js';
import { mergeRecipeFlags, parseRecipe, recipeFlagSpec, recipeHelp } from '../train/recipe.js';
import { modelBytes, train } from '../train/trainer.js';
import { readYamlFile } from '../yaml.js';
import { parse, required } from './args.js';
import { dataInput, guardOutputs, modelInput } from './outputs.js';
import { dataFlags, declarationHelp, fmt, modelFlags, openData, openModel } from './common.js';
import { recordFlags, recordHelp, recorder } from './record.js';
import { modelName, verbRecord } from '../registry/index.js';
import { datasetHash } from '../data/dataset.js';
import { wilson } from '../report/format.js';

export const help = `gauntlet train [--model M.onnx] [--data TRAIN] --out OUT.onnx [--val VAL] [--recipe R.yaml] [recipe flags]

Trains every trainable parameter of the model (ONNX Runtime runs forward, loss and backward in
one run per step; PyTorch's optimizer, schedule and train-mode semantics) and writes OUT.onnx
(same graph and names, new weights and BatchNorm statistics, the recipe and hashes in its
metadata) and OUT.train.jsonl (one line per epoch). An epoch checkpoint OUT.ckpt.npz lets
--resume continue a killed run to the same bytes; it is removed when the run completes.
Without --model: the embedded default architecture, initialised afresh (init: reinit);
without --data: the shipped 10,000-image Fashion-MNIST training slice.
With --json the last stdout line has epochs, steps, seconds, final_loss, train_accuracy,
val_accuracy (null without --val), pgd_val_accuracy, kept_epoch, stopped, label_noise, out and
out_sha256.

Training against noise (recipe YAML; \`gauntlet list training\` shows every key and default):
  labels:      noisy training labels (a noise model or simulated annotators); their provenance
               goes to OUT.labels.jsonl, and accuracies stay against the true labels
  loss:        gce | sce | bootstrap | elr (noise-robust), label_smoothing, ce
  adversarial: pgd | fgsm_rs adversarial training (the attack runs the model in inference mode),
               with a curriculum; with --val, PGD validation accuracy each epoch and
               catastrophic-overfitting detection (keeps the best epoch)
  augment:     corruptions from the drift library on a fraction of each batch
  early_stop:  on val_accuracy or pgd_val_accuracy, keeping the best epoch

Options:
  --out OUT.onnx        trained model (required; not the input model)
  --val VAL             validation data, evaluated after every epoch
  --recipe R.yaml       recipe (flags below override its keys)
  --resume              continue from OUT.ckpt.npz
  --threads N           ONNX Runtime intra-op threads (0 = all cores; default 0)
Recording (see 'gauntlet runs'):
${recordHelp()}

Recipe flags:
${recipeHelp()}
` + '\n' + declarationHelp() + '\n';

export async function trainVerb(argv: string[]): Promise<number> {
  const { values } = parse('train', argv, { ...modelFlags, ...dataFlags, ...recipeFlagSpec(),
    model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, val: { type: 'string' }, recipe: { type: 'string' }, resume: { type: 'boolean' }, ...recordFlags,
  });
  if (values.help) return (process.stdout.write(help), 0);
  const out = path.resolve(required('train', 'out', values.out as string | undefined));
  const modelPath = path.resolve((values.model as string | undefined) ?? defaultAssets.model);
  if (out === modelPath) throw new UsageError(`train: '--out' ${values.out} is the input model; write the trained model elsewhere`);
  const stem = out.replace(/\.onnx$/i, '');
  const yaml = values.recipe ? readYamlFile(values.recipe as string) : {};
  if (typeof yaml !== 'object' || yaml === null || Array.isArray(yaml)) throw new UsageError(`${values.recipe}: a recipe must be a mapping (key: value)`);
  const raw = mergeRecipeFlags(yaml as Record<string, unknown>, values);
  if (values.model === undefined && raw.init === undefined) raw.init = 'reinit';
  const members = parseRecipe(raw).ensemble?.members ?? 0;
  guardOutputs('train', [{ name: '--out', path: out }, { name: '--out (history)', path: `${stem}.train.jsonl` }, { name: '--out (labels)', path: `${stem}.labels.jsonl` }, ...Array.from({ length: members }, (_, m) => ({ name: `--out (member ${m})`, path: `${stem}.member${m}.onnx` }))],
    [modelInput(values.model as string | undefined), dataInput((values.data as string | undefined) ?? defaultAssets.trainData), { name: '--val', path: values.val as string | undefined }, { name: '--recipe', path: values.recipe as string | undefined }]);
  const rec = recorder('train', values, path.dirname(out));
  const data = await openData({ ...values, data: (values.data as string | undefined) ?? defaultAssets.trainData });
  const val = values.val ? await openData({ data: values.val }) : undefined;
  const model = await openModel(values, values.threads, { verb: 'train', blackBox: "'gauntlet eval' or 'gauntlet attack --attack square' to stress it; train the ONNX file it serves" });
  const threads = values.threads === undefined ? 0 : Number(values.threads);
  const tty = process.stderr.isTTY;
  const t0 = Date.now();
  let last = 0;
  try {
    const r = await train(model, data, raw, {
      val, threads, checkpoint: `${stem}.ckpt.npz`, resume: Boolean(values.resume),
      onProgress: (p) => {
        if (!tty) return;
        const now = Date.now();
        const done = ((p.member ?? 0) * p.epochs + p.epoch - 1) * p.stepsPerEpoch + p.step;
        const total = (p.members ?? 1) * p.epochs * p.stepsPerEpoch;
        if (done < total && now - last < 200) return;
        last = now;
        const eta = ((now - t0) / done) * (total - done) / 1000;
        process.stderr.write(`\rtrain: ${p.phase ? `${p.phase} ` : ''}${p.members ? `member ${p.member! + 1}/${p.members} ` : ''}epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.stepsPerEpoch} loss ${fmt(p.loss)} ETA ${Math.ceil(eta)} s   ${done >= total ? '\n' : ''}`);
      },
    });
    const bytes = modelBytes(r.model);
    await writeFileAtomic(`${stem}.train.jsonl`, new TextEncoder().encode(r.history.map((h) => JSON.stringify(h)).join('\n') + '\n'));
    if (r.labels) {
      const index = data.ids ? new Map(data.ids.map((id, i) => [id, i])) : null;
      const truth = r.labels.annotation.trueLabels;
      const prov = r.labels.annotation.provenance.map((p) => JSON.stringify({ item: p.item, annotator: p.annotator, label: p.label, true_label: truth[index ? index.get(p.item)! : Number(p.item)], seed: p.seed }));
      await writeFileAtomic(`${stem}.labels.jsonl`, new TextEncoder().encode(prov.join('\n') + '\n'));
    }
    const memberFiles = (r.members ?? []).map((_, m) => `${stem}.member${m}.onnx`);
    for (const [m, f] of memberFiles.entries()) await writeFileAtomic(f, modelBytes(r.members![m]!));
    await writeFileAtomic(out, bytes);
    fs.rmSync(`${stem}.ckpt.npz`, { force: true });
    const lastEpoch = r.history[r.history.length - 1]!;
    const kept = r.history[r.keptEpoch - 1] ?? lastEpoch;
    const labelNoise = r.labels ? { realised_rate: r.labels.annotation.realisedRate, flipped: r.labels.annotation.flipped.reduce((a, b) => a + b, 0), labels_file: `${stem}.labels.jsonl` } : null;
    const summary = { epochs: r.history.length, steps: r.steps, seconds: r.seconds, final_loss: lastEpoch.loss, train_accuracy: lastEpoch.train_accuracy, val_accuracy: kept.val_accuracy, pgd_val_accuracy: kept.pgd_val_accuracy, kept_epoch: r.keptEpoch, stopped: r.stopped, label_noise: labelNoise, cleaning: r.cleaning, members: memberFiles.length ? memberFiles : null, out, out_sha256: createHash('sha256').update(bytes).digest('hex') };
    await rec.save(() => {
      const dataPath = path.resolve((values.data as string | undefined) ?? defaultAssets.trainData);
      const prop = (v: number | null | undefined, n: number | undefined) => ({ value: v, ci: typeof v === 'number' && n ? wilson(Math.round(v * n), n) : null });
      return verbRecord({
        id: rec.id, kind: 'train', started: rec.started.toISOString(), finished: new Date().toISOString(),
        model: { name: modelName(out), path: out, sha256: summary.out_sha256, parent_sha256: model.sha256, parent_name: modelName(modelPath) },
        data: { name: data.name, path: dataPath, sha256: datasetHash(data) },
        config: raw, seed: typeof raw.seed === 'number' ? raw.seed : 0,
        metrics: [
          { metric: 'train_accuracy', ...prop(lastEpoch.train_accuracy, data.size) },
          { metric: 'val_accuracy', ...prop(kept.val_accuracy, val?.size) },
          { metric: 'pgd_val_accuracy', ...prop(kept.pgd_val_accuracy, val?.size), stress: 'pgd (validation)' },
          { metric: 'final_loss', value: lastEpoch.loss },
        ].filter((m) => typeof m.value === 'number'),
        artifacts: [{ name: 'model', path: out }, { name: 'history', path: `${stem}.train.jsonl` }, ...(labelNoise ? [{ name: 'labels', path: labelNoise.labels_file }] : []), ...memberFiles.map((f, i) => ({ name: `member ${i}`, path: f }))],
        summary, gitCommit: rec.provenance.gitCommit, versions: rec.provenance.versions,
      });
    });
    if (values.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      const lines = [`wrote ${out} (${r.params.length} parameters trained, ${r.steps} steps, ${fmt(r.seconds, 1)} s): loss ${fmt(lastEpoch.loss)}, train accuracy ${fmt(lastEpoch.train_accuracy)} (true labels)${kept.val_accuracy === null ? '' : `, val accuracy ${fmt(kept.val_accuracy)}`}${kept.pgd_val_accuracy === null ? '' : `, PGD val accuracy ${fmt(kept.pgd_val_accuracy)}`}`];
      if (labelNoise) lines.push(`trained on noisy labels: ${labelNoise.flipped} of ${data.size} flipped (${fmt(100 * labelNoise.realised_rate, 1)} %); provenance in ${labelNoise.labels_file}`);
      if (r.cleaning) lines.push(`cleaned: ${r.cleaning.folds}-fold cross-fitting estimated ${fmt(100 * r.cleaning.estimated_noise_rate, 1)} % label noise; ${r.cleaning.flagged} items flagged and removed (precision ${fmt(r.cleaning.precision)}, recall ${fmt(r.cleaning.recall)} against the true labels), retrained on ${r.cleaning.kept}`);
      if (memberFiles.length) lines.push(`ensemble of ${memberFiles.length} members (log of their mean probability); members in ${memberFiles.join(', ')}`);
      if (r.stopped) lines.push(`stopped after epoch ${r.history.length} (${r.stopped === 'early_stop' ? 'no improvement' : 'catastrophic overfitting: PGD validation accuracy collapsed'}); kept epoch ${r.keptEpoch}`);
      process.stdout.write(lines.join('\n') + '\n');
    }
    return 0;
  } finally {
    await model.close();
  }
}
