import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/load.js';
import type { NpyArrayLike } from '../data/npy.js';
import { datasetFromArrays, datasetToArrays, readNpz, saveNpz } from '../data/npz.js';
import { readDataFile, writeFileAtomic } from '../data/util.js';
import { datasetHash } from '../data/dataset.js';
import { defaultAssets } from '../defaults.js';
import { ConfigError, DataError, UsageError } from '../errors.js';
import { toProbabilities } from '../metrics/classification.js';
import { Rng } from '../rng.js';
import {
  AGGREGATE_METHODS,
  applyAnnotation,
  checkNumber,
  FLIP_TO,
  formatRange,
  MAX_ANNOTATORS,
  noiseModelNames,
  parseAnnotationSpec,
  trueLabelsOf,
  UNCERTAINTIES,
  type AnnotationResult,
  type AnnotationSpec,
  type NumberRange,
} from '../stress/annotation/index.js';
import { numberOpt, parse, progressReporter, required } from './args.js';
import { guardOutputs, dataInput, fileOption } from './outputs.js';
import { fmt, openModel } from './common.js';

export const help = `gauntlet noise --data D.npz (--model symmetric|pairflip|matrix|instance --rate R
                | --annotators K --annotator-accuracy A [--coverage M]) [--seed S] --out O.npz [--json]

Injects annotation noise into a labelled dataset. The input's labels (its 'y_true' if it has one,
else 'y') are the true labels. Writes O.npz with 'y' (observed, noisy labels), 'y_true', every
other array of the input unchanged, and for annotators 'annotations' (N x K int, -1 where an
annotator did not label the item) and 'annotator_ids'; provenance (spec, seed, realised rate and
transition matrix, one record per label with item, annotator, simulated timestamp, spec and seed)
goes to the sidecar O.npz.provenance.json. Both files are written atomically.

Noise models (--model):
  symmetric    each label flips with probability R to one of the other K-1 classes, uniformly
  pairflip     each label of class i flips with probability R to i+1 mod K (or --map)
  matrix       flips from a transition matrix P(observed | true) (--matrix), or one generated
               from a target trace (--trace T in (1, K]) keeping each true class the most likely
  instance     flip probability rising with a classifier's uncertainty on the item, mean R;
               flips follow the classifier's probabilities (--classifier, default the embedded model)

Simulated annotators (--annotators K): K 'noisy' annotators of accuracy A (errors uniform), each
item labelled by M of them (default all), the observed label their consensus (--aggregate).
Mixtures of reliable, noisy, spammer and swapper annotators: --spec with a JSON spec, e.g.
  --spec '{"annotators": [{"kind": "noisy", "accuracy": 0.7, "count": 4}, {"kind": "spammer"}], "coverage": 3}'

Options:
  --data D                input data (default: the embedded Fashion-MNIST slice)
  --out O.npz             output file (required)
  --model NAME            noise model: ${noiseModelNames.join(', ')}
  --rate R                flip probability in [0, 1) (symmetric, pairflip, instance)
  --map a,b,...           pairflip: destination class of each class (default i+1 mod K)
  --matrix M              matrix: a JSON file, or inline JSON, of K rows summing to 1
  --trace T               matrix: generate a matrix with this trace, in (1, K]
  --uncertainty U         instance: ${UNCERTAINTIES.join(' | ')} (default entropy)
  --flip-to F             instance: ${FLIP_TO.join(' | ')} (default proportional)
  --classifier M.onnx     instance: model whose probabilities drive the flips (default: embedded)
  --annotators K          number of simulated annotators, in [1, ${MAX_ANNOTATORS}]
  --annotator-accuracy A  their accuracy, in [0, 1] (default 0.8)
  --coverage M            annotators per item, in [1, K] (default K)
  --aggregate METHOD      consensus: ${AGGREGATE_METHODS.join(' | ')} (default majority)
  --spec JSON             a whole annotation spec as JSON (instead of the options above)
  --classes K             number of classes (default: class names, the classifier, or max label + 1)
  --seed S                seed, a non-negative integer (default 0)
  --batch-size B          instance: items per ONNX Runtime run (default 256)
  --json                  print one JSON object as the last stdout line
  --threads N             ONNX Runtime intra-op threads (0 = all cores; default 0)
`;

const RATE: NumberRange = { min: 0, max: 1, maxExclusive: true };

/** Throws a UsageError unless `v` is a number in `range`, naming the option. */
export function checkOpt(name: string, raw: string, range: NumberRange): number {
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (Number.isNaN(v)) throw new UsageError(`'--${name}' must be a number in ${formatRange(range)}, got '${raw}'`);
  return checkNumber(`--${name}`, v, range, (m) => new UsageError(m));
}

/** A data file with its raw arrays (kept byte-for-byte for .npz inputs). */
export interface AnnotatedInput {
  ds: Dataset;
  arrays: Record<string, NpyArrayLike>;
  file: string;
}

/** Loads `--data` (or the embedded default) keeping every array of an .npz as it is. */
export async function openAnnotatedData(file: string | undefined): Promise<AnnotatedInput> {
  const f = file ?? defaultAssets.data;
  if (/\.npz$/i.test(f)) {
    const raw = readNpz(await readDataFile(f), f);
    return { ds: datasetFromArrays(raw, f), arrays: { ...raw }, file: f };
  }
  const ds = await loadDataset({ path: f });
  return { ds, arrays: datasetToArrays(ds), file: f };
}

function jsonOption(name: string, raw: string): unknown {
  const text = raw.trim().startsWith('{') || raw.trim().startsWith('[') ? raw : readOptionFile(name, raw);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`'--${name}' must be JSON or a JSON file (${(e as Error).message.split('\n')[0]})`);
  }
}

function readOptionFile(name: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`'--${name}' must be inline JSON or a readable JSON file, got '${file}'`);
  }
}

type Values = Record<string, string | boolean | undefined>;

const MODEL_OPTIONS = ['rate', 'map', 'matrix', 'trace', 'uncertainty', 'flip-to', 'classifier'] as const;
const ANNOTATOR_OPTIONS = ['annotator-accuracy', 'coverage', 'aggregate'] as const;
const APPLIES: Record<string, readonly string[]> = {
  rate: ['symmetric', 'pairflip', 'instance'],
  map: ['pairflip'],
  matrix: ['matrix'],
  trace: ['matrix'],
  uncertainty: ['instance'],
  'flip-to': ['instance'],
  classifier: ['instance'],
};

/** Builds the annotation spec from the options (UsageErrors name the option). */
export function specFromOptions(v: Values): AnnotationSpec {
  const given = (k: string) => v[k] !== undefined;
  const str = (k: string) => v[k] as string;
  const sources = ['spec', 'model', 'annotators'].filter(given);
  if (sources.length !== 1) {
    throw new UsageError(`noise: give exactly one of --model, --annotators and --spec${sources.length ? `, got ${sources.map((s) => `--${s}`).join(' and ')}` : ''} (see 'gauntlet noise --help')`);
  }
  const wrap = (fn: () => AnnotationSpec): AnnotationSpec => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
  };
  if (given('spec')) {
    const extra = [...MODEL_OPTIONS, ...ANNOTATOR_OPTIONS].filter(given);
    if (extra.length) throw new UsageError(`noise: --${extra[0]} cannot be combined with --spec; put it in the spec`);
    return wrap(() => parseAnnotationSpec(jsonOption('spec', str('spec')), '--spec'));
  }
  if (given('annotators')) {
    const bad = MODEL_OPTIONS.find(given);
    if (bad) throw new UsageError(`noise: --${bad} applies to --model, not --annotators`);
    const k = checkOpt('annotators', str('annotators'), { min: 1, max: MAX_ANNOTATORS, integer: true });
    const obj: Record<string, unknown> = { annotators: k };
    if (given('annotator-accuracy')) obj['annotator-accuracy'] = checkOpt('annotator-accuracy', str('annotator-accuracy'), { min: 0, max: 1 });
    if (given('coverage')) obj.coverage = checkOpt('coverage', str('coverage'), { min: 1, max: k, integer: true });
    if (given('aggregate')) {
      if (!(AGGREGATE_METHODS as readonly string[]).includes(str('aggregate'))) throw new UsageError(`'--aggregate' must be one of ${AGGREGATE_METHODS.join(', ')}, got '${str('aggregate')}'`);
      obj.aggregate = str('aggregate');
    }
    return wrap(() => parseAnnotationSpec(obj, '--'));
  }
  const model = str('model');
  if (!(noiseModelNames as readonly string[]).includes(model)) throw new UsageError(`'--model' must be one of ${noiseModelNames.join(', ')}, got '${model}'`);
  const badA = ANNOTATOR_OPTIONS.find(given);
  if (badA) throw new UsageError(`noise: --${badA} applies to --annotators, not --model`);
  for (const k of MODEL_OPTIONS) {
    if (given(k) && !APPLIES[k]!.includes(model)) throw new UsageError(`noise: --${k} applies to --model ${APPLIES[k]!.join(' or ')}, not ${model}`);
  }
  const obj: Record<string, unknown> = { model };
  if (APPLIES.rate!.includes(model)) obj.rate = checkOpt('rate', required('noise', 'rate', v.rate as string | undefined), RATE);
  if (given('map')) {
    obj.map = str('map')
      .split(',')
      .map((s, i) => checkOpt(`map[${i}]`, s, { min: 0, integer: true }));
  }
  if (model === 'matrix') {
    if (given('matrix') === given('trace')) throw new UsageError('noise: --model matrix needs exactly one of --matrix (rows of P(observed | true)) and --trace (a number in (1, K])');
    if (given('matrix')) obj.matrix = jsonOption('matrix', str('matrix'));
    else obj.trace = checkOpt('trace', str('trace'), { min: 1, minExclusive: true });
  }
  if (given('uncertainty')) obj.uncertainty = str('uncertainty');
  if (given('flip-to')) obj['flip-to'] = str('flip-to');
  return wrap(() => parseAnnotationSpec(obj, '--'));
}

/** The arrays of the output file: the input's, with y, y_true and (annotators) annotations replaced. */
export function outputArrays(input: Record<string, NpyArrayLike>, r: AnnotationResult): Record<string, NpyArrayLike> {
  const yDtype = input.y && input.y.dtype.endsWith('i8') ? '<i8' : '<i4';
  const n = r.observed.length;
  const out: Record<string, NpyArrayLike> = { ...input };
  delete out.annotations;
  delete out.annotator_ids;
  out.y = { dtype: yDtype, shape: [n], data: r.observed };
  out.y_true = { dtype: yDtype, shape: [n], data: r.trueLabels };
  if (r.annotations) {
    out.annotations = { dtype: '<i4', shape: [n, r.annotations.numAnnotators], data: r.annotations.labels };
    out.annotator_ids = { dtype: '<U', shape: [r.annotations.numAnnotators], data: r.annotations.annotatorIds };
  }
  return out;
}

/** The sidecar provenance document. */
export function provenanceDocument(r: AnnotationResult, meta: { data: string; dataSha256: string; out: string; classifier?: string | null }): Record<string, unknown> {
  const a = r.annotators;
  return {
    format: 'gauntlet-annotation-provenance/1',
    data: meta.data,
    data_sha256: meta.dataSha256,
    output: meta.out,
    classifier: meta.classifier ?? null,
    spec: r.spec,
    seed: r.seed,
    items: r.observed.length,
    classes: r.numClasses,
    realised_rate: r.realisedRate,
    expected_rate: r.expectedRate,
    realised_matrix: r.realisedMatrix,
    expected_matrix: r.expectedMatrix,
    annotators: a
      ? a.annotators.map((x, i) => ({ id: x.id, kind: x.kind, confusion: x.confusion, labels: a.labelCounts[i], realised_accuracy: a.realisedAccuracy[i] }))
      : null,
    aggregation: a
      ? { method: a.aggregation.method, iterations: a.aggregation.iterations, log_likelihood: a.aggregation.logLikelihood, converged: a.aggregation.converged }
      : null,
    labels: r.provenance,
  };
}

export async function noiseVerb(argv: string[]): Promise<number> {
  const { values } = parse('noise', argv, {
    data: { type: 'string' },
    out: { type: 'string' },
    model: { type: 'string' },
    rate: { type: 'string' },
    map: { type: 'string' },
    matrix: { type: 'string' },
    trace: { type: 'string' },
    uncertainty: { type: 'string' },
    'flip-to': { type: 'string' },
    classifier: { type: 'string' },
    annotators: { type: 'string' },
    'annotator-accuracy': { type: 'string' },
    coverage: { type: 'string' },
    aggregate: { type: 'string' },
    spec: { type: 'string' },
    classes: { type: 'string' },
    seed: { type: 'string' },
    'batch-size': { type: 'string' },
  });
  if (values.help) return (process.stdout.write(help), 0);
  const out = required('noise', 'out', values.out);
  guardOutputs('noise', [{ name: '--out', path: out }, { name: "--out's provenance sidecar", path: `${out}.provenance.json` }], [dataInput(values.data), { name: '--classifier', path: values.classifier }, { name: '--matrix', path: fileOption(values.matrix) }, { name: '--spec', path: fileOption(values.spec) }]);
  const spec = specFromOptions(values);
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  let classes = values.classes === undefined ? undefined : checkOpt('classes', values.classes, { min: 2, integer: true });
  if (!fs.existsSync(path.dirname(path.resolve(out)))) throw new UsageError(`'--out' folder ${path.dirname(out)} does not exist`);

  const input = await openAnnotatedData(values.data);
  const { ds } = input;
  const trueLabels = trueLabelsOf(ds) ?? ds.labels;
  if (!trueLabels) throw new DataError(`${input.file}: has no labels ('y'), which noise needs as the true labels`);

  let probs: Float64Array | null = null;
  let classifier: string | null = null;
  if (spec.model === 'instance') {
    const model = await openModel(values.classifier, values.threads);
    try {
      classifier = model.label;
      const pred = await model.predict(ds, { batchSize, onProgress: progressReporter('noise') });
      if (classes !== undefined && classes !== pred.numClasses) throw new UsageError(`'--classes' is ${classes} but the classifier has ${pred.numClasses} classes`);
      classes = pred.numClasses;
      probs = toProbabilities(pred.scores, pred.numClasses, pred.kind);
    } finally {
      await model.close();
    }
  }
  let maxLabel = 0;
  for (let i = 0; i < trueLabels.length; i++) maxLabel = Math.max(maxLabel, trueLabels[i]!);
  const K = classes ?? ds.classNames?.length ?? Math.max(2, maxLabel + 1);
  if (maxLabel >= K) throw new DataError(`${input.file}: label ${maxLabel} is outside the ${K} classes [0, ${K - 1}]`);

  const r = applyAnnotation(trueLabels, K, spec, new Rng(seed), { ids: ds.ids, probs });
  const sidecar = `${out}.provenance.json`;
  await saveNpz(out, outputArrays(input.arrays, r));
  const doc = provenanceDocument(r, { data: input.file, dataSha256: datasetHash(ds), out, classifier });
  await writeFileAtomic(sidecar, Buffer.from(JSON.stringify(doc) + '\n'));

  const acc = r.annotators ? Array.from(r.annotators.realisedAccuracy) : null;
  const result = {
    data: input.file,
    out,
    provenance: sidecar,
    spec: r.spec,
    seed,
    items: r.observed.length,
    classes: K,
    realised_rate: r.realisedRate,
    expected_rate: r.expectedRate,
    flipped: r.flipped.reduce((a, b) => a + b, 0),
    realised_matrix: r.realisedMatrix.normalised,
    annotator_ids: r.annotations ? r.annotations.annotatorIds : null,
    annotator_realised_accuracy: acc,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  const lines = [
    `data        ${input.file}  (${result.items} items, ${K} classes)`,
    `noise       ${JSON.stringify(r.spec)}  seed ${seed}`,
    `realised    ${fmt(r.realisedRate)} of labels differ from the truth (${result.flipped} items)${r.expectedRate !== null ? `; expected ${fmt(r.expectedRate)}` : ''}`,
  ];
  if (r.annotators) {
    const a = r.annotators;
    lines.push(`annotators  ${a.annotators.length}, ${a.labelCounts.reduce((x, y) => x + y, 0)} labels; consensus by ${a.aggregation.method}`);
    a.annotators.forEach((x, i) => lines.push(`  ${x.id.padEnd(6)} ${x.kind.padEnd(9)} ${String(a.labelCounts[i]).padStart(6)} labels  accuracy ${fmt(a.realisedAccuracy[i]!)}`));
  }
  lines.push(`wrote       ${out}`, `provenance  ${sidecar}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
