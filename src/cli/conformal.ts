import { datasetHash, requireLabels } from '../data/dataset.js';
import { UsageError } from '../errors.js';
import { toProbabilities } from '../metrics/classification.js';
import { Rng } from '../rng.js';
import { calibrateConformal, calibrationSplit, CONFORMAL_SCORES, conformalReport, pickRows, type ConformalReport, type ConformalScore } from '../uncertainty/index.js';
import { numberOpt, parse, progressReporter } from './args.js';
import { dataFlags, declarationHelp, fmt, modelFlags, openData, openClassifier } from './common.js';

export const help = `gauntlet conformal [--model M.onnx] [--data D] [--alpha A] [--score lac|aps] [--no-randomize]
                  [--calibration F] [--seed S] [--stressed D2 ...] [--json]

Split conformal prediction sets: calibrates the score quantile on a seeded share F of --data,
then reports coverage (share of items whose label is in their set; the target is 1 - alpha when
calibration and test items are exchangeable), mean set size and the share of empty sets on the
other items of --data and on every --stressed set (all its items), where exchangeability no
longer holds.

Scores: lac = 1 - p(label); aps = probability mass of the classes ranked above the label plus
U * p(label), U uniform per item from the seed (--no-randomize: plus p(label), deterministic but
larger sets).

Options:
  --model M.onnx     model (default: the embedded Fashion-MNIST CNN)
  --data D           labelled clean data (default: the embedded 2,000-image slice)
  --alpha A          target miscoverage, in (0, 1) (default 0.1)
  --score S          ${CONFORMAL_SCORES.join(' | ')} (default lac)
  --no-randomize     aps: deterministic scores
  --calibration F    share of --data that calibrates, in (0, 1) (default 0.5)
  --seed S           seed of the split and of APS's uniforms, a non-negative integer (default 0)
  --stressed D2      a stressed labelled set to report on; repeatable
  --batch-size B     items per ONNX Runtime run (default 256)
  --limit N          use only the first N items of --data
  --json             print one JSON object as the last stdout line
  --threads N        ONNX Runtime intra-op threads (0 = all cores; default 0)
` + '\n' + declarationHelp() + '\n';

export async function conformalVerb(argv: string[]): Promise<number> {
  const { values } = parse('conformal', argv, { ...modelFlags, ...dataFlags,
    model: { type: 'string' },
    data: { type: 'string' },
    alpha: { type: 'string' },
    score: { type: 'string' },
    'no-randomize': { type: 'boolean' },
    calibration: { type: 'string' },
    seed: { type: 'string' },
    stressed: { type: 'string', multiple: true },
    'batch-size': { type: 'string' },
    limit: { type: 'string' },
  });
  if (values.help) return (process.stdout.write(help), 0);
  const alpha = numberOpt('alpha', values.alpha, 0.1, {});
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`'--alpha' must be in (0, 1), got ${alpha}`);
  const score = (values.score ?? 'lac') as ConformalScore;
  if (!CONFORMAL_SCORES.includes(score)) throw new UsageError(`'--score' must be one of ${CONFORMAL_SCORES.join(', ')}, got '${values.score}'`);
  if (values['no-randomize'] && score !== 'aps') throw new UsageError("'--no-randomize' applies to '--score aps' only");
  const randomized = score === 'aps' && !values['no-randomize'];
  const fraction = numberOpt('calibration', values.calibration, 0.5, {});
  if (!(fraction > 0 && fraction < 1)) throw new UsageError(`'--calibration' must be in (0, 1), got ${fraction}`);
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  const ds = await openData(values, values.limit);
  const labels = requireLabels(ds, 'conformal');
  const model = await openClassifier(values, values.threads);
  try {
    model.checkData(ds);
    const preds = await model.predict(ds, { batchSize, onProgress: progressReporter('conformal') });
    const K = preds.numClasses;
    model.checkData(ds, K);
    const probs = toProbabilities(preds.scores, K, preds.kind);
    const rng = new Rng(seed);
    const split = calibrationSplit(ds.size, fraction, rng.fork('conformal/split'));
    const cal = calibrateConformal(pickRows(probs, K, split.calibration), K, pickRows(labels, 1, split.calibration), { alpha, score, randomized }, rng.fork('conformal/calibration'));
    const report = (r: ConformalReport) => ({ items: r.items, coverage: r.coverage, mean_set_size: r.meanSetSize, empty_rate: r.emptyRate, singleton_rate: r.singletonRate });
    const clean = report(conformalReport(cal, pickRows(probs, K, split.evaluation), K, pickRows(labels, 1, split.evaluation), rng.fork('conformal/test')));
    const stressed = [];
    for (const file of values.stressed ?? []) {
      const sds = await openData(file);
      const sLabels = requireLabels(sds, 'conformal --stressed');
      model.checkData(sds, K);
      const sp = await model.predict(sds, { batchSize, onProgress: progressReporter(`conformal ${sds.name}`) });
      stressed.push({ data: sds.name, data_sha256: datasetHash(sds), ...report(conformalReport(cal, toProbabilities(sp.scores, K, sp.kind), K, sLabels, rng.fork('conformal/test'))) });
    }
    const result = {
      model: model.label,
      model_sha256: model.sha256,
      data: ds.name,
      data_sha256: datasetHash(ds),
      alpha,
      target_coverage: 1 - alpha,
      score,
      randomized,
      seed,
      calibration_items: split.calibration.length,
      evaluation_items: split.evaluation.length,
      qhat: cal.qhat,
      clean,
      stressed,
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    }
    const row = (name: string, r: ReturnType<typeof report>) =>
      `${name.padEnd(28)} ${String(r.items).padStart(6)}  coverage ${fmt(r.coverage)}  mean set size ${fmt(r.mean_set_size, 3)}  empty ${fmt(r.empty_rate, 3)}`;
    process.stdout.write(
      [
        `model        ${model.label}  sha256 ${model.sha256.slice(0, 16)}…`,
        `data         ${ds.name}  ${ds.size} items: ${split.calibration.length} calibrate, ${split.evaluation.length} evaluated (seed ${seed})`,
        `sets         ${score}${randomized ? ' (randomised)' : ''}, alpha ${alpha}: target coverage ${fmt(1 - alpha)}, q = ${fmt(cal.qhat, 6)}`,
        '',
        row('clean (evaluation split)', clean),
        ...stressed.map((s) => row(s.data, s)),
      ].join('\n') + '\n',
    );
    return 0;
  } finally {
    await model.close();
  }
}
