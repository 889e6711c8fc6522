import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/load.js';
import type { NpyArrayLike } from '../data/npy.js';
import { datasetFromArrays, datasetToArrays, metaFromArrays, readNpz } from '../data/npz.js';
import { batchAligned, chunkedFromDataset, openChunked, type ChunkedData } from '../data/chunked.js';
import { withNpzWriter } from '../data/npz-writer.js';
import type { Predictions } from '../engine/model.js';
import { readDataFile, writeFileAtomic } from '../data/util.js';
import { DatasetHasher } from '../data/dataset.js';
import { defaultAssets } from '../defaults.js';
import { ConfigError, DataError, UsageError } from '../errors.js';
import { toProbabilities } from '../metrics/classification.js';
import { Rng } from '../rng.js';
import {
  ANNOTATORS_OPTIONS,
  applyAnnotation,
  getNoiseModel,
  noiseModelNames,
  noiseModels,
  parseAnnotationSpec,
  parseAnnotatorsSpec,
  trueLabelsOf,
  type AnnotationResult,
  type AnnotationSpec,
} from '../stress/annotation/index.js';
import { deprecations, flagName, flagSpec, flagValues, helpLines, opt, parseFlags, type NumberRange, type OptionMap } from '../options/schema.js';
import { jsonText } from '../stress/annotation/util.js';
import { numberOpt, parse, progressReporter, required } from './args.js';
import { onInterrupt } from './interrupt.js';
import { guardOutputs, dataInput, fileOption } from './outputs.js';
import { chunkFlags, chunkHelp, chunkItemsOpt, fmt, openClassifier } from './common.js';

/** Every noise model's flags (from the models' option declarations), merged: `--rate`, `--map`, `--matrix`, `--trace`, `--uncertainty`, `--flip-to`. */
const MODEL_FLAGS: OptionMap = Object.assign({}, ...noiseModels.map((m) => m.options));
/** Which noise models take each flag. */
const APPLIES: Record<string, string[]> = {};
for (const m of noiseModels) for (const [k, o] of Object.entries(m.options)) (APPLIES[flagName(k, o)!] ??= []).push(m.name);

/** The verb's output options. */
export const NOISE_OUTPUT_OPTIONS = {
  copy_images: opt.boolean({ doc: "also copy the inputs ('x') into O.npz (default: labels and the input's other arrays only)", default: false }),
} satisfies OptionMap;

export const help = `gauntlet noise --data D.npz (--noise-model symmetric|pairflip|matrix|instance --rate R
                | --annotators K --annotator-accuracy A [--coverage M]) [--seed S] --out O.npz [--json]

Injects annotation noise into a labelled dataset. The input's labels (its 'y_true' if it has one,
else 'y') are the true labels. Writes O.npz with 'y' (observed, noisy labels), 'y_true', every
other array of the input unchanged except the inputs 'x' (copied only with --copy-images), and for
annotators 'annotations' (N x K int, -1 where an annotator did not label the item) and
'annotator_ids'; provenance (input file and its sha256, spec, seed, realised rate and transition
matrix, one record per label with item, annotator, simulated timestamp, spec and seed) goes to the
sidecar O.npz.provenance.json. Both files are written atomically. Inputs are read and copied in
chunks (npz, npy, uint8 IDX), so memory does not hold the images.

Noise models (--noise-model; gauntlet list noise shows their options):
${noiseModels.map((m) => `  ${m.name.padEnd(12)} ${m.summary}`).join('\n')}

Simulated annotators (--annotators K): K 'noisy' annotators of accuracy A (errors uniform), each
item labelled by M of them (default all), the observed label their consensus (--aggregate).
Mixtures of reliable, noisy, spammer and swapper annotators: --spec with a JSON spec, e.g.
  --spec '{"annotators": [{"kind": "noisy", "accuracy": 0.7, "count": 4}, {"kind": "spammer"}], "coverage": 3}'

Options:
  --data D                input data (default: the embedded Fashion-MNIST slice)
  --out O.npz             output file (required)
  --noise-model NAME      noise model: ${noiseModelNames.join(', ')} (--model NAME before 0.2)
${helpLines(MODEL_FLAGS)}
  --classifier M.onnx     instance: model whose probabilities drive the flips (default: embedded)
${helpLines(ANNOTATORS_OPTIONS)}
  --spec JSON             a whole annotation spec as JSON (instead of the options above)
${helpLines(NOISE_OUTPUT_OPTIONS)}
  --classes K             number of classes (default: class names, the classifier, or max label + 1)
  --seed S                seed, a non-negative integer (default 0)
  --batch-size B          instance: items per ONNX Runtime run (default 256)
${chunkHelp.replace('    ', '         ')}
  --json                  print one JSON object as the last stdout line
  --threads N             ONNX Runtime intra-op threads (0 = all cores; default 0)
`;

/** Throws a UsageError (FlagError) unless `raw` is a number in `range`, naming the option. */
export function checkOpt(name: string, raw: string, range: NumberRange & { integer?: boolean }): number {
  const { integer, ...r } = range;
  const o = integer ? opt.integer({ doc: name, ...r }) : opt.number({ doc: name, ...r });
  return o.check(o.fromText(raw, `--${name}`), `--${name}`, { where: '--' });
}

/** A data file with its raw arrays (kept byte-for-byte for .npz inputs). */
export interface AnnotatedInput {
  ds: Dataset;
  arrays: Record<string, NpyArrayLike>;
  file: string;
}

/**
 * Loads `--data` (or the embedded default) keeping every array of an .npz as it is. With
 * `labelsOnly`, an .npz without inputs (what `noise` writes without --copy-images) is accepted for
 * verbs that look only at labels (aggregate): its Dataset has `size` items and no inputs (`x` empty,
 * item shape [0]).
 */
export async function openAnnotatedData(file: string | undefined, opts: { labelsOnly?: boolean } = {}): Promise<AnnotatedInput> {
  const f = file ?? defaultAssets.data;
  if (/\.npz$/i.test(f)) {
    const raw = readNpz(await readDataFile(f), f);
    if (opts.labelsOnly && !raw.x && raw.y && raw.y.shape.length === 1) {
      const n = raw.y.shape[0]!;
      const meta = metaFromArrays(raw, n, [0], f);
      const ds: Dataset = { name: path.basename(f), size: n, itemShape: [0], x: new Float32Array(0), metadata: null, ...meta };
      return { ds, arrays: { ...raw }, file: f };
    }
    return { ds: datasetFromArrays(raw, f), arrays: { ...raw }, file: f };
  }
  const ds = await loadDataset({ path: f });
  return { ds, arrays: datasetToArrays(ds), file: f };
}

type Values = Record<string, string | boolean | undefined>;

/** The flags of `noise`: the noise models' and the annotators' (from their declarations) and the verb's own. */
export const NOISE_FLAGS = {
  ...flagSpec(MODEL_FLAGS),
  ...flagSpec(ANNOTATORS_OPTIONS),
  ...flagSpec(NOISE_OUTPUT_OPTIONS),
  'noise-model': { type: 'string' },
  model: { type: 'string' },
  classifier: { type: 'string' },
  spec: { type: 'string' },
} as const;

/**
 * The noise model a command line names: `--noise-model NAME`, or `--model NAME` (before 0.2; a
 * one-line deprecation). `--model` with anything but a noise model name is refused: the ONNX file
 * is `--classifier` here.
 */
function noiseModelName(v: Values): string | undefined {
  const nm = v['noise-model'] as string | undefined;
  const m = v.model as string | undefined;
  if (m === undefined) return nm;
  if (nm !== undefined) throw new UsageError(`noise: give the noise model once, as --noise-model (--model is its old spelling)`);
  if (!(noiseModelNames as readonly string[]).includes(m)) {
    throw new UsageError(`noise: '--model' names a noise model only until 0.2 and '${m}' is not one (${noiseModelNames.join(', ')}); write --noise-model NAME for the noise model, --classifier M.onnx for the classifier`);
  }
  const msg = `'noise --model ${m}' is deprecated; write '--noise-model ${m}' (--classifier is the ONNX model)`;
  if (!deprecations.includes(msg)) deprecations.push(msg);
  return m;
}

/** Builds the annotation spec from the options (UsageErrors name the option). */
export function specFromOptions(v: Values): AnnotationSpec {
  const given = (k: string) => v[k] !== undefined;
  const model = noiseModelName(v);
  const sources = [given('spec') && 'spec', model !== undefined && 'noise-model', given('annotators') && 'annotators'].filter((s): s is string => Boolean(s));
  if (sources.length !== 1) {
    throw new UsageError(`noise: give exactly one of --noise-model, --annotators and --spec${sources.length ? `, got ${sources.map((s) => `--${s}`).join(' and ')}` : ''} (see 'gauntlet noise --help')`);
  }
  const modelFlags = [...Object.keys(flagSpec(MODEL_FLAGS)), 'classifier'];
  const annotatorFlags = Object.keys(flagSpec(ANNOTATORS_OPTIONS)).filter((f) => f !== 'annotators');
  const wrap = (fn: () => AnnotationSpec): AnnotationSpec => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
  };
  if (given('spec')) {
    const extra = [...modelFlags, ...annotatorFlags].filter(given);
    if (extra.length) throw new UsageError(`noise: --${extra[0]} cannot be combined with --spec; put it in the spec`);
    return wrap(() => parseAnnotationSpec(jsonText(v.spec as string, '--spec'), '--spec'));
  }
  if (given('annotators')) {
    const bad = modelFlags.find(given);
    if (bad) throw new UsageError(`noise: --${bad} applies to --noise-model, not --annotators`);
    return wrap(() => parseAnnotatorsSpec(flagValues(ANNOTATORS_OPTIONS, v), '--'));
  }
  const m = getNoiseModel(model!);
  if (!m) throw new UsageError(`'--noise-model' must be one of ${noiseModelNames.join(', ')}, got '${model}'`);
  const badA = annotatorFlags.find(given);
  if (badA) throw new UsageError(`noise: --${badA} applies to --annotators, not --noise-model`);
  for (const f of modelFlags) {
    const applies = f === 'classifier' ? ['instance'] : APPLIES[f]!;
    if (given(f) && !applies.includes(m.name)) throw new UsageError(`noise: --${f} applies to --noise-model ${applies.join(' or ')}, not ${m.name}`);
  }
  if (m.name === 'matrix' && given('matrix') === given('trace')) throw new UsageError('noise: --noise-model matrix needs exactly one of --matrix (rows of P(observed | true)) and --trace (a number in (1, K])');
  for (const [k, o] of Object.entries(m.options)) {
    if (o.required && !given(flagName(k, o)!)) required('noise', flagName(k, o)!, undefined);
  }
  return wrap(() => m.parse({ model: m.name, ...flagValues(m.options, v) }, { where: '--' }));
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
export function provenanceDocument(r: AnnotationResult, meta: { data: string; dataSha256: string; out: string; classifier?: string | null; images?: boolean }): Record<string, unknown> {
  const a = r.annotators;
  return {
    format: 'gauntlet-annotation-provenance/1',
    data: meta.data,
    data_sha256: meta.dataSha256,
    output: meta.out,
    images_copied: meta.images ?? true,
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
    ...NOISE_FLAGS,
    classes: { type: 'string' },
    seed: { type: 'string' },
    'batch-size': { type: 'string' },
    ...chunkFlags,
  });
  if (values.help) return (process.stdout.write(help), 0);
  const out = required('noise', 'out', values.out);
  guardOutputs('noise', [{ name: '--out', path: out }, { name: "--out's provenance sidecar", path: `${out}.provenance.json` }], [dataInput(values.data), { name: '--classifier', path: values.classifier }, { name: '--matrix', path: fileOption((values as Record<string, unknown>).matrix as string | undefined) }, { name: '--spec', path: fileOption(values.spec) }]);
  const spec = specFromOptions(values);
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  let classes = values.classes === undefined ? undefined : checkOpt('classes', values.classes, { min: 2, integer: true });
  if (!fs.existsSync(path.dirname(path.resolve(out)))) throw new UsageError(`'--out' folder ${path.dirname(out)} does not exist`);

  const { copyImages } = parseFlags(NOISE_OUTPUT_OPTIONS, values);
  const file = values.data ?? defaultAssets.data;
  const data = await openChunked({ path: file });
  // npz inputs that stream keep their arrays byte for byte; others are loaded whole, as before.
  const streamedNpz = data.streamed && data.npzArrays !== null && data.npzKeys !== null;
  // Other streamed sources (npy, IDX) are written as loadDataset's arrays, x as float32.
  const whole = data.streamed ? null : await openAnnotatedData(file);
  const ds: Pick<Dataset, 'name' | 'size' | 'itemShape' | 'labels' | 'ids' | 'classNames' | 'extras'> = whole ? whole.ds : data;
  const trueLabels = trueLabelsOf(ds as Dataset) ?? ds.labels;
  if (!trueLabels) throw new DataError(`${file}: has no labels ('y'), which noise needs as the true labels`);
  const chunkItems = batchAligned(chunkItemsOpt(values['chunk-items'], ds.itemShape), batchSize);
  const source: ChunkedData = whole ? chunkedFromDataset(whole.ds, file) : data;

  let probs: Float64Array | null = null;
  let classifier: string | null = null;
  const hasher = new DatasetHasher(ds.size, ds.itemShape, ds.labels !== null);
  if (spec.model === 'instance') {
    const model = await openClassifier(values.classifier, values.threads);
    try {
      classifier = model.label;
      const onProgress = progressReporter('noise');
      let scores: Float32Array | null = null;
      let numClasses = 0;
      let kind: Predictions['kind'] = 'logits';
      for await (const c of source.chunks(chunkItems)) {
        hasher.update(c.x);
        model.checkData({ name: ds.name, size: c.size, itemShape: ds.itemShape, x: c.x, labels: null } as unknown as Dataset);
        const pred = await model.predictItems(c.x, c.size, { batchSize, onProgress: onProgress ? (done) => onProgress(c.start + done, ds.size) : undefined });
        if (!scores) {
          numClasses = pred.numClasses;
          scores = new Float32Array(ds.size * numClasses);
        }
        scores.set(pred.scores, c.start * numClasses);
        kind = pred.kind;
      }
      if (classes !== undefined && classes !== numClasses) throw new UsageError(`'--classes' is ${classes} but the classifier has ${numClasses} classes`);
      classes = numClasses;
      probs = toProbabilities(scores ?? new Float32Array(0), numClasses, kind);
    } finally {
      await model.close();
    }
  } else {
    for await (const c of source.chunks(chunkItems)) hasher.update(c.x);
  }
  const dataSha256 = hasher.digest(ds.labels);
  let maxLabel = 0;
  for (let i = 0; i < trueLabels.length; i++) maxLabel = Math.max(maxLabel, trueLabels[i]!);
  const K = classes ?? ds.classNames?.length ?? Math.max(2, maxLabel + 1);
  if (maxLabel >= K) throw new DataError(`${file}: label ${maxLabel} is outside the ${K} classes [0, ${K - 1}]`);

  const r = applyAnnotation(trueLabels, K, spec, new Rng(seed), { ids: ds.ids, probs });
  const sidecar = `${out}.provenance.json`;
  // The input's arrays in its own order ('x' as a placeholder that the chunks fill), as outputArrays sees them.
  const xPlaceholder = (dtype: string): NpyArrayLike => ({ dtype, shape: [data.size, ...data.itemShape], data: [] });
  const inputArrays: Record<string, NpyArrayLike> = whole
    ? whole.arrays
    : streamedNpz
      ? Object.fromEntries(data.npzKeys!.map((k) => [k, k === 'x' ? xPlaceholder(data.xDescr) : data.npzArrays![k]!]))
      : { ...datasetToArrays({ ...data, x: new Float32Array(0), metadata: null } as unknown as Dataset), x: xPlaceholder('<f4') };
  const arrays = outputArrays(inputArrays, r);
  if (!copyImages) delete arrays.x;
  // Ctrl-C: exit at once (130/143), removing the unfinished temporary output; nothing was written.
  const stop = onInterrupt((sig) => `gauntlet: noise interrupted (${sig}); nothing was written`, 0);
  try {
    await withNpzWriter(out, async (w) => {
      for (const [key, arr] of Object.entries(arrays)) {
        if (key !== 'x' || whole) {
          await w.array(key, arr);
          continue;
        }
        await w.begin('x', streamedNpz ? data.xDescr : '<f4', arr.shape);
        for await (const c of data.chunks(chunkItems)) await (streamedNpz ? w.writeBytes(c.raw) : w.write(c.x));
        await w.end();
      }
    });
  } finally {
    stop.dispose();
  }
  const doc = provenanceDocument(r, { data: file, dataSha256, out, classifier, images: copyImages });
  await writeFileAtomic(sidecar, Buffer.from(JSON.stringify(doc) + '\n'));

  const acc = r.annotators ? Array.from(r.annotators.realisedAccuracy) : null;
  const result = {
    data: file,
    out,
    images_copied: copyImages,
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
    `data        ${file}  (${result.items} items, ${K} classes)`,
    `noise       ${JSON.stringify(r.spec)}  seed ${seed}`,
    `realised    ${fmt(r.realisedRate)} of labels differ from the truth (${result.flipped} items)${r.expectedRate !== null ? `; expected ${fmt(r.expectedRate)}` : ''}`,
  ];
  if (r.annotators) {
    const a = r.annotators;
    lines.push(`annotators  ${a.annotators.length}, ${a.labelCounts.reduce((x, y) => x + y, 0)} labels; consensus by ${a.aggregation.method}`);
    a.annotators.forEach((x, i) => lines.push(`  ${x.id.padEnd(6)} ${x.kind.padEnd(9)} ${String(a.labelCounts[i]).padStart(6)} labels  accuracy ${fmt(a.realisedAccuracy[i]!)}`));
  }
  lines.push(`wrote       ${out}${copyImages ? '' : "  (labels only; --copy-images also copies 'x')"}`, `provenance  ${sidecar}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
