import { requireLabels } from '../data/dataset.js';
import { UsageError, DataError } from '../errors.js';
import { toProbabilities } from '../metrics/classification.js';
import { AUDIT_METHODS, auditLabels, noisyLabelMetrics, trueLabelsOf, type AuditMethod } from '../stress/annotation/index.js';
import { numberOpt, parse, progressReporter } from './args.js';
import { dataFlags, declarationHelp, fmt, modelFlags, openData, openClassifier } from './common.js';

export const help = `gauntlet audit-labels [--model M.onnx] [--data D.npz] [--method M] [--json]

Finds likely mislabelled items by confident learning (Northcutt et al., 2021) from the model's
predicted probabilities, which should be out-of-sample (the model did not train on these items).
The data's 'y' is the observed label. Per-class thresholds are the mean predicted probability of
each class over the items labelled with it; the confident joint counts (observed, likely true)
pairs, calibrated to the label counts; flagged items are, per observed class i and other class j,
the C[i][j] items with the largest margin p_j - p_i ('prune-by-noise-rate'), or only those that
are also among the least self-confident of their class ('both'). An item the model predicts as
its observed label is never flagged. Each item gets a quality score (self-confidence, p of its
observed label) and a suggested label (the model's top class).

When the data has 'y_true' (from 'gauntlet noise'), the flags are scored against the injected
flips (precision, recall) and every metric is reported against the true and the observed labels.
The last stdout line (--json) holds 'flagged' (item indices) and, with y_true, 'precision'/'recall'.

Options:
  --model M.onnx     the model (default: the embedded Fashion-MNIST CNN)
  --data D           labelled data (default: the embedded Fashion-MNIST slice)
  --method M         ${AUDIT_METHODS.join(' | ')} (default prune-by-noise-rate)
  --top N            flagged items to list, least self-confident first (default 20)
  --batch-size B     items per ONNX Runtime run (default 256)
  --json             print one JSON object as the last stdout line
  --threads N        ONNX Runtime intra-op threads (0 = all cores; default 0)
` + '\n' + declarationHelp() + '\n';

export async function auditLabelsVerb(argv: string[]): Promise<number> {
  const { values } = parse('audit-labels', argv, { ...modelFlags, ...dataFlags,
    model: { type: 'string' },
    data: { type: 'string' },
    method: { type: 'string' },
    top: { type: 'string' },
    'batch-size': { type: 'string' },
  });
  if (values.help) return (process.stdout.write(help), 0);
  const method = (values.method ?? 'prune-by-noise-rate') as AuditMethod;
  if (!AUDIT_METHODS.includes(method)) throw new UsageError(`'--method' must be one of ${AUDIT_METHODS.join(', ')}, got '${values.method}'`);
  const top = numberOpt('top', values.top, 20, { min: 0, integer: true });
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  const ds = await openData(values);
  const observed = requireLabels(ds, "the label audit (the observed labels 'y')");
  const model = await openClassifier(values, values.threads);
  let probs: Float64Array;
  let K: number;
  try {
    const pred = await model.predict(ds, { batchSize, onProgress: progressReporter('audit-labels') });
    model.checkData(ds, pred.numClasses);
    K = pred.numClasses;
    probs = toProbabilities(pred.scores, K, pred.kind);
  } finally {
    await model.close();
  }
  const truth = trueLabelsOf(ds, K);
  if (truth && truth.length !== observed.length) throw new DataError(`${ds.name}: ${truth.length} y_true labels for ${observed.length} items`);
  const audit = auditLabels(probs, K, observed, { method, trueLabels: truth });
  const views = truth ? noisyLabelMetrics(probs, K, truth, observed) : null;
  const ranked = Array.from(audit.flagged).sort((a, b) => audit.quality[a]! - audit.quality[b]! || a - b);
  const id = (i: number) => (ds.ids ? ds.ids[i]! : String(i));
  const name = (k: number) => ds.classNames?.[k] ?? String(k);
  const v = audit.vsInjected;
  const result = {
    model: model.label,
    model_sha256: model.sha256,
    data: ds.name,
    items: ds.size,
    classes: K,
    method,
    flagged: Array.from(audit.flagged),
    flagged_count: audit.flagged.length,
    flagged_ids: ds.ids ? Array.from(audit.flagged, id) : null,
    flagged_quality: Array.from(audit.flagged, (i) => audit.quality[i]!),
    flagged_suggested: Array.from(audit.flagged, (i) => audit.suggested[i]!),
    estimated_noise_rate: audit.estimatedNoiseRate,
    thresholds: Array.from(audit.thresholds, (t) => (Number.isNaN(t) ? null : t)),
    confident_joint: audit.confidentJoint,
    calibrated_joint: audit.calibratedJoint,
    ...(v ? { precision: v.precision, recall: v.recall, f1: v.f1, true_positives: v.truePositives, flipped_count: v.flippedCount } : {}),
    metrics: views ? { vs_true: views.true, vs_observed: views.observed, gap: views.gap, label_noise_rate: views.labelNoiseRate } : null,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  const lines = [
    `model       ${model.label}  sha256 ${model.sha256.slice(0, 16)}…`,
    `data        ${ds.name}  (${ds.size} items, ${K} classes)${truth ? '  with y_true' : ''}`,
    `method      confident learning, ${method}`,
    `estimated   ${fmt(audit.estimatedNoiseRate)} of labels wrong (calibrated confident joint)`,
    `flagged     ${audit.flagged.length} items (${fmt(audit.flagged.length / Math.max(1, ds.size))})`,
  ];
  if (v) lines.push(`vs y_true   precision ${fmt(v.precision)}  recall ${fmt(v.recall)}  (${v.truePositives} of ${v.flippedCount} flipped labels found)`);
  if (views) {
    lines.push('metric      vs true   vs observed   gap');
    for (const k of ['accuracy', 'macroF1', 'ece', 'nll', 'brier'] as const) {
      lines.push(`  ${k.padEnd(9)} ${fmt(views.true[k]).padStart(8)}  ${fmt(views.observed[k]).padStart(11)}  ${fmt(views.gap[k]).padStart(8)}`);
    }
  }
  if (ranked.length && top > 0) {
    lines.push(`least self-confident flagged items (top ${Math.min(top, ranked.length)}):`, '  item        label -> suggested          quality');
    for (const i of ranked.slice(0, top)) {
      lines.push(`  ${id(i).padEnd(10)}  ${`${name(observed[i]!)} -> ${name(audit.suggested[i]!)}`.padEnd(25)} ${fmt(audit.quality[i]!)}${truth ? (truth[i] !== observed[i] ? '  (flipped)' : '') : ''}`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
