import { foldBinaryHead } from '../engine/declaration.js';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { datasetHash, requireLabels } from '../data/dataset.js';
import { writeFileAtomic } from '../data/util.js';
import { defaultAssets } from '../defaults.js';
import { createSession } from '../engine/session.js';
import { UsageError } from '../errors.js';
import { toProbabilities } from '../metrics/classification.js';
import { encodeModel } from '../onnx/proto.js';
import { Rng } from '../rng.js';
import { calibrationSplit, fitTemperature, foldTemperature, pickRows, temperatureEffect, type CalibrationFigures } from '../uncertainty/index.js';
import { numberOpt, parse, progressReporter, required } from './args.js';
import { dataFlags, dataRef, declarationHelp, fmt, modelFlags, modelRef, openData, openModel } from './common.js';
import { guardOutputs, dataInput, modelInput } from './outputs.js';
import { recordFlags, recordHelp, recorder } from './record.js';
import { modelName, verbRecord } from '../registry/index.js';


export const help = `gauntlet calibrate --model M.onnx --data D --out M.calibrated.onnx [--holdout F] [--seed S]
                  [--stressed D2 ...] [--json]

Temperature scaling: fits one temperature T > 0 that divides the logits, by minimising the negative
log-likelihood on a seeded share F of the labelled data (golden-section search over ln T), reports
accuracy, ECE (15 bins) and NLL before -> after on the other items (never used in the fit) and on
every --stressed set (all its items), and writes a copy of the model whose output is logits / T
(for a probability-output model: softmax(log p / T)). The original file is never modified; the
output is written atomically. Accuracy does not change: T rescales but does not reorder the classes.

Options:
  --model M.onnx     model to calibrate (default: the embedded Fashion-MNIST CNN)
  --data D           labelled data to fit and evaluate on (default: the embedded 2,000-image slice)
  --out O.onnx       where to write the calibrated model (required; must differ from --model)
  --holdout F        share of --data used to fit T, in (0, 1) (default 0.5); the rest is evaluated
  --seed S           seed of the fit/evaluation split, a non-negative integer (default 0)
  --stressed D2      a stressed (shifted, corrupted, noisy) labelled set to report on; repeatable
  --batch-size B     items per ONNX Runtime run (default 256)
  --limit N          use only the first N items of --data
  --json             print one JSON object as the last stdout line
  --threads N        ONNX Runtime intra-op threads (0 = all cores; default 0)
${recordHelp()}
` + '\n' + declarationHelp() + '\n';

export async function calibrateVerb(argv: string[]): Promise<number> {
  const { values } = parse('calibrate', argv, { ...modelFlags, ...dataFlags,
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    holdout: { type: 'string' },
    seed: { type: 'string' },
    stressed: { type: 'string', multiple: true },
    'batch-size': { type: 'string' },
    limit: { type: 'string' },
    ...recordFlags,
  });
  if (values.help) return (process.stdout.write(help), 0);
  const out = required('calibrate', 'out', values.out);
  const holdout = numberOpt('holdout', values.holdout, 0.5, {});
  if (!(holdout > 0 && holdout < 1)) throw new UsageError(`'--holdout' must be in (0, 1), got ${holdout}`);
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  const modelPath = values.model ?? defaultAssets.model;
  if (path.resolve(out) === path.resolve(modelPath)) throw new UsageError(`calibrate: '--out' must differ from '--model' (the original model is never overwritten), got ${out}`);
  guardOutputs('calibrate', [{ name: '--out', path: out }], [modelInput(modelRef(values).path), dataInput(dataRef(values).path), ...(values.stressed ?? []).map((p) => ({ name: '--stressed', path: p }))]);
  const rec = recorder('calibrate', values, path.dirname(path.resolve(out)));
  const ds = await openData(values, values.limit);
  const labels = requireLabels(ds, 'calibrate');
  const model = await openModel(values, values.threads, { verb: 'calibrate', blackBox: "'gauntlet conformal --model URL' (prediction sets from its scores) or 'gauntlet eval --model URL' (ECE)" });
  try {
    model.checkData(ds);
    const preds = await model.predict(ds, { batchSize, onProgress: progressReporter('calibrate') });
    const K = preds.numClasses;
    model.checkData(ds, K);
    const probs = toProbabilities(preds.scores, K, preds.kind);
    const split = calibrationSplit(ds.size, holdout, new Rng(seed).fork('calibrate/split'));
    const fit = fitTemperature(pickRows(probs, K, split.calibration), K, pickRows(labels, 1, split.calibration));
    const T = fit.temperature;
    const evaluation = temperatureEffect(pickRows(probs, K, split.evaluation), K, pickRows(labels, 1, split.evaluation), T);
    const stressed: { data: string; data_sha256: string; before: CalibrationFigures; after: CalibrationFigures }[] = [];
    for (const file of values.stressed ?? []) {
      const sds = await openData(file);
      const sLabels = requireLabels(sds, 'calibrate --stressed');
      model.checkData(sds, K);
      const sp = await model.predict(sds, { batchSize, onProgress: progressReporter(`calibrate ${sds.name}`) });
      stressed.push({ data: sds.name, data_sha256: datasetHash(sds), ...temperatureEffect(toProbabilities(sp.scores, K, sp.kind), K, sLabels, T) });
    }
    // A one-column binary output is scaled through the two-class head that reads it (the written
    // model then outputs [N, 2]).
    const folded = foldTemperature(model.binaryHead ? foldBinaryHead(model.original, model.sourceOutput, model.binaryHead) : model.original, model.decl.outputName, T, preds.kind);
    const bytes = encodeModel(folded);
    await (await createSession(bytes, out)).release(); // the written model must load in ONNX Runtime
    await writeFileAtomic(out, bytes);
    const result = {
      model: model.label,
      model_sha256: model.sha256,
      data: ds.name,
      data_sha256: datasetHash(ds),
      output_kind: preds.kind,
      seed,
      holdout,
      calibration_items: split.calibration.length,
      evaluation_items: split.evaluation.length,
      temperature: T,
      fit_nll_before: fit.nllBefore,
      fit_nll_after: fit.nllAfter,
      evaluation,
      stressed,
      out,
      out_sha256: createHash('sha256').update(bytes).digest('hex'),
    };
    await rec.save(() => {
      const input = { name: modelName(model.label), sha256: model.sha256 };
      const figures = (stress: string, b: CalibrationFigures, a: CalibrationFigures) => [
        ...(['ece', 'nll', 'accuracy'] as const).map((k) => ({ metric: k, value: b[k], stress, model: input })),
        ...(['ece', 'nll', 'accuracy'] as const).map((k) => ({ metric: k, value: a[k], stress })),
      ];
      return verbRecord({
        id: rec.id, kind: 'calibrate', started: rec.started.toISOString(), finished: new Date().toISOString(),
        model: { name: modelName(out), path: path.resolve(out), sha256: result.out_sha256, parent_sha256: model.sha256, parent_name: input.name },
        data: { name: ds.name, path: path.resolve(dataRef(values).path), sha256: result.data_sha256 },
        config: { holdout, seed, stressed: values.stressed ?? [] }, seed,
        metrics: [{ metric: 'temperature', value: T }, ...figures('clean', evaluation.before, evaluation.after), ...stressed.flatMap((s) => figures(s.data, s.before, s.after))],
        artifacts: [{ name: 'calibrated model', path: out }],
        summary: result, gitCommit: rec.provenance.gitCommit, versions: rec.provenance.versions,
      });
    });
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    }
    const row = (name: string, b: CalibrationFigures, a: CalibrationFigures): string =>
      `${name.padEnd(28)} ${String(b.items).padStart(6)}  ECE ${fmt(b.ece)} -> ${fmt(a.ece)}   NLL ${fmt(b.nll)} -> ${fmt(a.nll)}   acc ${fmt(b.accuracy)}`;
    process.stdout.write(
      [
        `model        ${model.label}  sha256 ${model.sha256.slice(0, 16)}…  (${preds.kind})`,
        `data         ${ds.name}  ${ds.size} items: ${split.calibration.length} fit T, ${split.evaluation.length} evaluated (seed ${seed})`,
        `temperature  T = ${fmt(T)}  (fit NLL ${fmt(fit.nllBefore)} -> ${fmt(fit.nllAfter)})`,
        '',
        `${'set'.padEnd(28)} ${'items'.padStart(6)}`,
        row('clean (evaluation split)', evaluation.before, evaluation.after),
        ...stressed.map((s) => row(s.data, s.before, s.after)),
        '',
        `wrote        ${out}  (output ${model.decl.outputName} ${preds.kind === 'logits' ? '= logits / T' : '= softmax(log p / T)'})`,
      ].join('\n') + '\n',
    );
    return 0;
  } finally {
    await model.close();
  }
}
