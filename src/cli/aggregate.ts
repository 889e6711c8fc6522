import { saveNpz } from '../data/npz.js';
import { DataError, UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import {
  AGGREGATE_METHODS,
  aggregate,
  intExtra,
  loadAnnotations,
  trueLabelsOf,
  type AggregateMethod,
  type AnnotationMatrix,
} from '../stress/annotation/index.js';
import { numberOpt, parse } from './args.js';
import { guardOutputs } from './outputs.js';
import { fmt } from './common.js';
import { checkOpt, openAnnotatedData } from './noise.js';

export const help = `gauntlet aggregate --data O.npz --method <majority|dawid-skene> [--json]

Aggregates several annotators' labels into one consensus label per item, and estimates each
annotator's accuracy and confusion matrix.

  majority      the most frequent label (ties broken at random with --seed); an annotator's
                accuracy is its agreement with the consensus
  dawid-skene   Dawid-Skene EM, initialised from majority-vote soft labels, class priors and
                per-annotator confusion matrices with add-one Laplace smoothing, until the
                mean per-item log-likelihood changes by less than --tol

The labels come from the data's 'annotations' array (N x K int, -1 unlabelled; 'gauntlet noise
--annotators' writes one), or from --annotations F.csv|F.jsonl with rows (item, annotator, label).
When the data has 'y_true', the consensus and every annotator are scored against it.
The last stdout line (--json) holds 'labels' (consensus per item) and 'annotator_accuracy'.

Options:
  --data D                 data with an 'annotations' array (or the items --annotations refers to)
  --annotations F          CSV (header item,annotator,label) or JSONL rows of labels
  --method M               ${AGGREGATE_METHODS.join(' | ')} (default dawid-skene)
  --classes K              number of classes (default: class names, else the largest label + 1)
  --seed S                 seed of majority-vote tie-breaks (default 0)
  --tol T                  dawid-skene tolerance on the mean per-item log-likelihood (default 1e-7)
  --max-iterations N       dawid-skene iteration cap (default 200)
  --out C.npz              also write the data with 'y' = consensus (needs --data .npz)
  --json                   print one JSON object as the last stdout line
`;

export async function aggregateVerb(argv: string[]): Promise<number> {
  const { values } = parse('aggregate', argv, {
    data: { type: 'string' },
    annotations: { type: 'string' },
    method: { type: 'string' },
    classes: { type: 'string' },
    seed: { type: 'string' },
    tol: { type: 'string' },
    'max-iterations': { type: 'string' },
    out: { type: 'string' },
  });
  if (values.help) return (process.stdout.write(help), 0);
  const method = (values.method ?? 'dawid-skene') as AggregateMethod;
  if (!AGGREGATE_METHODS.includes(method)) throw new UsageError(`'--method' must be one of ${AGGREGATE_METHODS.join(', ')}, got '${values.method}'`);
  if (values.data === undefined && values.annotations === undefined) throw new UsageError("aggregate: '--data' or '--annotations' is required (see 'gauntlet aggregate --help')");
  if (values.out !== undefined && values.data === undefined) throw new UsageError("aggregate: '--out' needs '--data' (the file to write the consensus into)");
  const classesOpt = values.classes === undefined ? undefined : checkOpt('classes', values.classes, { min: 2, integer: true });
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const tol = values.tol === undefined ? 1e-7 : checkOpt('tol', values.tol, { min: 0, minExclusive: true });
  const maxIterations = numberOpt('max-iterations', values['max-iterations'], 200, { min: 1, max: 100000, integer: true });

  guardOutputs('aggregate', [{ name: '--out', path: values.out }], [{ name: '--data', path: values.data }, { name: '--annotations', path: values.annotations }]);
  const input = values.data === undefined ? null : await openAnnotatedData(values.data, { labelsOnly: true });
  const ds = input?.ds ?? null;
  const truth = ds ? trueLabelsOf(ds) : null;
  let m: AnnotationMatrix;
  if (values.annotations !== undefined) {
    m = await loadAnnotations(values.annotations, {
      itemIds: ds ? (ds.ids ?? Array.from({ length: ds.size }, (_, i) => String(i))) : null,
      classNames: ds?.classNames ?? null,
      numClasses: classesOpt,
    });
  } else {
    const a = intExtra(ds!, 'annotations', 2);
    if (!a) throw new DataError(`${input!.file}: has no 'annotations' array (N x K int, -1 unlabelled); make one with 'gauntlet noise --annotators K' or pass --annotations F.csv`);
    const A = a.shape[1]!;
    let maxLabel = 0;
    for (let i = 0; i < a.data.length; i++) maxLabel = Math.max(maxLabel, a.data[i]!);
    if (truth) for (let i = 0; i < truth.length; i++) maxLabel = Math.max(maxLabel, truth[i]!);
    const idsExtra = ds!.extras.annotator_ids;
    const annotatorIds = idsExtra && Array.isArray(idsExtra.data) && idsExtra.data.length === A ? (idsExtra.data as string[]).map(String) : Array.from({ length: A }, (_, j) => `a${j}`);
    const K = classesOpt ?? ds!.classNames?.length ?? Math.max(2, maxLabel + 1);
    m = { numItems: ds!.size, numAnnotators: A, numClasses: K, labels: a.data, annotatorIds, itemIds: ds!.ids };
  }
  if (truth) {
    for (let i = 0; i < truth.length; i++) {
      if (truth[i]! >= m.numClasses) throw new DataError(`${input!.file}: y_true of item ${i} is ${truth[i]}, outside the ${m.numClasses} classes`);
    }
  }
  const agg = aggregate(m, method, new Rng(seed), { tol, maxIterations });

  let consensusAccuracy: number | null = null;
  let realised: (number | null)[] | null = null;
  if (truth && truth.length === m.numItems) {
    let ok = 0;
    for (let i = 0; i < truth.length; i++) ok += agg.labels[i] === truth[i] ? 1 : 0;
    consensusAccuracy = ok / truth.length;
    const correct = new Float64Array(m.numAnnotators);
    const count = new Float64Array(m.numAnnotators);
    for (let i = 0; i < m.numItems; i++) {
      for (let a = 0; a < m.numAnnotators; a++) {
        const y = m.labels[i * m.numAnnotators + a]!;
        if (y < 0) continue;
        count[a]! += 1;
        if (y === truth[i]) correct[a]! += 1;
      }
    }
    realised = Array.from(correct, (c, a) => (count[a]! > 0 ? c / count[a]! : null));
  }
  if (values.out !== undefined && input) {
    const yDtype = input.arrays.y && input.arrays.y.dtype.endsWith('i8') ? '<i8' : '<i4';
    await saveNpz(values.out, { ...input.arrays, y: { dtype: yDtype, shape: [m.numItems], data: agg.labels } });
  }
  let agreeSum = 0;
  let agreeN = 0;
  agg.agreement.forEach((v) => (Number.isNaN(v) ? undefined : ((agreeSum += v), agreeN++)));
  const result = {
    method,
    data: input?.file ?? null,
    annotations_file: values.annotations ?? null,
    items: m.numItems,
    annotators: m.numAnnotators,
    classes: m.numClasses,
    labels: Array.from(agg.labels),
    annotator_ids: m.annotatorIds,
    annotator_accuracy: Array.from(agg.annotatorAccuracy, (v) => (Number.isNaN(v) ? null : v)),
    annotator_labels: Array.from({ length: m.numAnnotators }, (_, a) => {
      let c = 0;
      for (let i = 0; i < m.numItems; i++) if (m.labels[i * m.numAnnotators + a]! >= 0) c++;
      return c;
    }),
    agreement_mean: agreeN ? agreeSum / agreeN : null,
    iterations: agg.iterations,
    log_likelihood: agg.logLikelihood,
    converged: agg.converged,
    class_priors: Array.from(agg.classPriors),
    accuracy: consensusAccuracy,
    annotator_realised_accuracy: realised,
    out: values.out ?? null,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  const lines = [
    `labels      ${values.annotations ?? input?.file}  (${m.numItems} items, ${m.numAnnotators} annotators, ${m.numClasses} classes)`,
    `method      ${method}${method === 'dawid-skene' ? `  (${agg.iterations} iterations, log-likelihood ${fmt(agg.logLikelihood ?? NaN, 2)}${agg.converged ? '' : ', NOT converged'})` : ''}`,
    `agreement   ${fmt(result.agreement_mean ?? NaN)} of an item's labels equal its consensus, on average`,
  ];
  if (consensusAccuracy !== null) lines.push(`accuracy    ${fmt(consensusAccuracy)} of consensus labels equal y_true`);
  lines.push(`annotator   labels  est. accuracy${realised ? '  realised' : ''}`);
  m.annotatorIds.forEach((id, a) => {
    lines.push(`  ${id.padEnd(9)} ${String(result.annotator_labels[a]).padStart(6)}  ${fmt(agg.annotatorAccuracy[a]!).padStart(13)}${realised ? `  ${fmt(realised[a] ?? NaN).padStart(8)}` : ''}`);
  });
  if (values.out !== undefined) lines.push(`wrote       ${values.out}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
