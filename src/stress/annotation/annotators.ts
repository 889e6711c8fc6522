/**
 * Simulated annotators: K people (or tools), each with a confusion matrix P(label | true), each
 * labelling m of the items, every label with a provenance record.
 *
 * Kinds (a config entry `{ kind, count?, ... }`; `annotators: 5` means five `noisy` ones):
 * - `reliable`: accuracy 0.95 by default, errors uniform over the other classes;
 * - `noisy`: accuracy `annotator-accuracy` (default 0.8) by default, errors uniform;
 *   both take `accuracy`, a per-class profile `class-accuracy` (one accuracy per true class), or a
 *   given `confusion` (K rows of P(label | true));
 * - `spammer`: answers uniformly at random whatever the item (accuracy 1/K);
 * - `swapper`: systematically swaps the given class pairs `swaps` (default (0,1), (2,3), …) with
 *   probability `swap-rate` (default 1), and is accurate (`accuracy`, default 0.95) elsewhere.
 *
 * Coverage: each item is labelled by `coverage` = m of the K annotators, assigned greedily to the
 * least-loaded annotators with seeded tie-breaks, so loads differ by at most one and the sets mix.
 * Timestamps come from a seeded clock per annotator: a start within the first 8 hours of
 * 2024-01-01 UTC, then 5 s plus an exponential pause (mean 25 s) per label, items in index order.
 *
 * Example: `simulateAnnotators(y, 10, parseAnnotatorsSpec({ annotators: 5, 'annotator-accuracy': 0.7,
 * coverage: 3 }, 'noise'), new Rng(1))`.
 */
import { ConfigError, DataError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import type { AnnotationMatrix, LabelProvenance } from './types.js';
import {
  asObject,
  cfgChoice,
  cfgNumber,
  cfgNumberList,
  cfgStochasticMatrix,
  checkKeys,
  checkLabels,
  checkNumber,
  copyMatrix,
  keyPath,
  pickWeighted,
  show,
} from './util.js';

export type AnnotatorKind = 'reliable' | 'noisy' | 'spammer' | 'swapper';
export const ANNOTATOR_KINDS: readonly AnnotatorKind[] = ['reliable', 'noisy', 'spammer', 'swapper'];
export type AggregateMethod = 'majority' | 'dawid-skene';
export const AGGREGATE_METHODS: readonly AggregateMethod[] = ['majority', 'dawid-skene'];

/** One kind of annotator, `count` times. */
export interface AnnotatorEntry {
  readonly kind: AnnotatorKind;
  readonly count: number;
  readonly accuracy?: number;
  readonly 'class-accuracy'?: readonly number[];
  readonly confusion?: readonly (readonly number[])[];
  readonly swaps?: readonly (readonly [number, number])[];
  readonly 'swap-rate'?: number;
}

/** Simulated annotators (a config entry with `annotators`). */
export interface AnnotatorsSpec {
  readonly model: 'annotators';
  /** How many `noisy` annotators, or a list of entries. */
  readonly annotators: number | readonly AnnotatorEntry[];
  /** Accuracy of `noisy` annotators that give none, in [0, 1]. */
  readonly 'annotator-accuracy': number;
  /** Annotators per item, in [1, K]. */
  readonly coverage: number;
  /** How the consensus (observed) label is formed. */
  readonly aggregate: AggregateMethod;
}

/** A resolved annotator. */
export interface SimulatedAnnotator {
  readonly id: string;
  readonly kind: AnnotatorKind;
  /** P(label | true), K×K. */
  readonly confusion: number[][];
}

export interface SimulatedAnnotations {
  readonly annotators: readonly SimulatedAnnotator[];
  readonly annotations: AnnotationMatrix;
  /** One record per label, item-major, annotators in index order. */
  readonly provenance: LabelProvenance[];
  /** Share of each annotator's labels equal to the true label (NaN if it labelled nothing). */
  readonly realisedAccuracy: Float64Array;
  /** Labels given by each annotator. */
  readonly labelCounts: Int32Array;
}

const SPEC_KEYS = ['model', 'annotators', 'annotator-accuracy', 'coverage', 'aggregate'] as const;
const ENTRY_KEYS: Record<AnnotatorKind, readonly string[]> = {
  reliable: ['kind', 'count', 'accuracy', 'class-accuracy', 'confusion'],
  noisy: ['kind', 'count', 'accuracy', 'class-accuracy', 'confusion'],
  spammer: ['kind', 'count'],
  swapper: ['kind', 'count', 'accuracy', 'swaps', 'swap-rate'],
};
const PROB = { min: 0, max: 1 } as const;
export const MAX_ANNOTATORS = 1000;

/** Validates a simulated-annotators config entry. */
export function parseAnnotatorsSpec(raw: unknown, where: string): AnnotatorsSpec {
  const obj = asObject(raw, where, "{annotators: 5, 'annotator-accuracy': 0.7, coverage: 3}");
  checkKeys(obj, SPEC_KEYS, where);
  if (obj.model !== undefined && obj.model !== 'annotators') throw new ConfigError(`'${keyPath(where, 'model')}' must be 'annotators' (or absent) with 'annotators', got ${show(obj.model)}`);
  const accuracy = cfgNumber(obj, 'annotator-accuracy', where, PROB, 0.8);
  let annotators: number | AnnotatorEntry[];
  let total: number;
  if (Array.isArray(obj.annotators)) {
    const name = keyPath(where, 'annotators');
    if (obj.annotators.length === 0) throw new ConfigError(`'${name}' must list at least one annotator entry`);
    annotators = obj.annotators.map((e: unknown, i) => parseEntry(e, `${name}[${i}]`));
    total = annotators.reduce((a, e) => a + e.count, 0);
    if (total > MAX_ANNOTATORS) throw new ConfigError(`'${name}' must add up to at most ${MAX_ANNOTATORS} annotators, got ${total}`);
  } else {
    annotators = cfgNumber(obj, 'annotators', where, { min: 1, max: MAX_ANNOTATORS, integer: true });
    total = annotators;
  }
  const coverage = cfgNumber(obj, 'coverage', where, { min: 1, max: total, integer: true }, total);
  const aggregate = cfgChoice(obj, 'aggregate', where, AGGREGATE_METHODS, 'majority');
  return { model: 'annotators', annotators, 'annotator-accuracy': accuracy, coverage, aggregate };
}

function parseEntry(raw: unknown, where: string): AnnotatorEntry {
  const obj = asObject(raw, where, "{kind: 'noisy', accuracy: 0.7, count: 3}");
  const kind = cfgChoice(obj, 'kind', where, ANNOTATOR_KINDS, 'noisy');
  checkKeys(obj, ENTRY_KEYS[kind], where);
  const count = cfgNumber(obj, 'count', where, { min: 1, max: MAX_ANNOTATORS, integer: true }, 1);
  const given = ['accuracy', 'class-accuracy', 'confusion'].filter((k) => obj[k] !== undefined);
  if (kind !== 'swapper' && given.length > 1) throw new ConfigError(`'${where}' must give at most one of accuracy, class-accuracy, confusion, got ${given.join(' and ')}`);
  const e: { -readonly [K in keyof AnnotatorEntry]: AnnotatorEntry[K] } = { kind, count };
  if (obj.accuracy !== undefined) e.accuracy = cfgNumber(obj, 'accuracy', where, PROB);
  if (obj['class-accuracy'] !== undefined) e['class-accuracy'] = cfgNumberList(obj['class-accuracy'], keyPath(where, 'class-accuracy'), PROB);
  if (obj.confusion !== undefined) e.confusion = cfgStochasticMatrix(obj.confusion, keyPath(where, 'confusion'));
  if (obj['swap-rate'] !== undefined) e['swap-rate'] = cfgNumber(obj, 'swap-rate', where, PROB);
  if (obj.swaps !== undefined) {
    const name = keyPath(where, 'swaps');
    if (!Array.isArray(obj.swaps) || obj.swaps.length === 0) throw new ConfigError(`'${name}' must be a non-empty list of class pairs like [[0, 6], [2, 4]], got ${show(obj.swaps)}`);
    const seen = new Set<number>();
    e.swaps = obj.swaps.map((p: unknown, i) => {
      if (!Array.isArray(p) || p.length !== 2) throw new ConfigError(`'${name}[${i}]' must be a pair of classes like [0, 6], got ${show(p)}`);
      const a = checkNumber(`${name}[${i}][0]`, p[0], { min: 0, integer: true });
      const b = checkNumber(`${name}[${i}][1]`, p[1], { min: 0, integer: true });
      if (a === b || seen.has(a) || seen.has(b)) throw new ConfigError(`'${name}[${i}]' must pair two different classes not already swapped, got [${a}, ${b}]`);
      seen.add(a).add(b);
      return [a, b] as const;
    });
  }
  return e;
}

/** P(label | true) with accuracy `acc` on every class and errors uniform over the others. */
export function confusionFromAccuracy(acc: number, numClasses: number): number[][] {
  return confusionFromProfile(new Array<number>(numClasses).fill(acc));
}

/** P(label | true) with accuracy `accs[k]` on true class k and errors uniform over the others. */
export function confusionFromProfile(accs: readonly number[]): number[][] {
  const K = accs.length;
  return accs.map((a, i) => Array.from({ length: K }, (_, j) => (i === j ? a : (1 - a) / (K - 1))));
}

/** A swapper's P(label | true): pairs swapped with probability `rate`, accuracy `acc` elsewhere. */
export function swapperConfusion(numClasses: number, swaps: readonly (readonly [number, number])[], rate: number, acc: number): number[][] {
  const m = confusionFromAccuracy(acc, numClasses);
  for (const [a, b] of swaps) {
    for (const [from, to] of [[a, b], [b, a]] as const) {
      m[from] = m[from]!.map((_, j) => (j === from ? 1 - rate : j === to ? rate : 0));
    }
  }
  return m;
}

/** Default swaps: (0, 1), (2, 3), … */
export function defaultSwaps(numClasses: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 0; a + 1 < numClasses; a += 2) out.push([a, a + 1]);
  return out;
}

/** The spec's annotators for K classes, with ids `a0`, `a1`, … */
export function resolveAnnotators(spec: AnnotatorsSpec, numClasses: number): SimulatedAnnotator[] {
  const K = numClasses;
  const entries: AnnotatorEntry[] = typeof spec.annotators === 'number' ? [{ kind: 'noisy', count: spec.annotators }] : [...spec.annotators];
  const out: SimulatedAnnotator[] = [];
  entries.forEach((e, ei) => {
    const where = typeof spec.annotators === 'number' ? 'annotators' : `annotators[${ei}]`;
    let confusion: number[][];
    if (e.kind === 'spammer') confusion = confusionFromAccuracy(1 / K, K);
    else if (e.kind === 'swapper') {
      const swaps = e.swaps ?? defaultSwaps(K);
      swaps.forEach(([a, b], i) => {
        if (a >= K || b >= K) throw new ConfigError(`'${where}.swaps[${i}]' must pair classes in [0, ${K - 1}], got [${a}, ${b}]`);
      });
      confusion = swapperConfusion(K, swaps, e['swap-rate'] ?? 1, e.accuracy ?? 0.95);
    } else if (e.confusion) {
      if (e.confusion.length !== K) throw new ConfigError(`'${where}.confusion' is ${e.confusion.length}x${e.confusion.length} but the labels have ${K} classes`);
      confusion = copyMatrix(e.confusion);
    } else if (e['class-accuracy']) {
      if (e['class-accuracy'].length !== K) throw new ConfigError(`'${where}.class-accuracy' has ${e['class-accuracy'].length} entries but the labels have ${K} classes`);
      confusion = confusionFromProfile(e['class-accuracy']);
    } else {
      confusion = confusionFromAccuracy(e.accuracy ?? (e.kind === 'reliable' ? 0.95 : spec['annotator-accuracy']), K);
    }
    for (let c = 0; c < e.count; c++) out.push({ id: `a${out.length}`, kind: e.kind, confusion: copyMatrix(confusion) });
  });
  return out;
}

/**
 * Assigns `coverage` annotators of `numAnnotators` to each of `numItems` items: each item goes to
 * the least-loaded annotators, ties broken by seeded keys. Returns [numItems, coverage] annotator
 * indices, each row ascending.
 */
export function assignCoverage(numItems: number, numAnnotators: number, coverage: number, rng: Rng): Int32Array {
  checkNumber('coverage', coverage, { min: 1, max: numAnnotators, integer: true }, (m) => new ConfigError(m));
  const A = numAnnotators;
  const load = new Float64Array(A);
  const key = new Float64Array(A);
  const order = Array.from({ length: A }, (_, a) => a);
  const out = new Int32Array(numItems * coverage);
  for (let i = 0; i < numItems; i++) {
    for (let a = 0; a < A; a++) key[a] = rng.uniform();
    if (coverage < A) order.sort((x, y) => load[x]! - load[y]! || key[x]! - key[y]!);
    const chosen = order.slice(0, coverage).sort((x, y) => x - y);
    chosen.forEach((a, j) => {
      out[i * coverage + j] = a;
      load[a]! += 1;
    });
  }
  return out;
}

const CLOCK_EPOCH_MS = Date.UTC(2024, 0, 1);

/**
 * Draws every annotator's labels for the items (true labels `labels`, K classes). Streams:
 * `rng.fork('coverage')` for the assignment, `rng.fork('labels')` for the labels (one draw per
 * label, item-major), `rng.fork('clock:<id>')` for each annotator's timestamps.
 */
export function simulateAnnotators(
  labels: Int32Array,
  numClasses: number,
  spec: AnnotatorsSpec,
  rng: Rng,
  ids: readonly string[] | null = null,
  provenanceSpec: unknown = spec,
): SimulatedAnnotations {
  checkLabels(labels, numClasses);
  const n = labels.length;
  if (ids && ids.length !== n) throw new DataError(`${ids.length} item ids for ${n} labels`);
  const annotators = resolveAnnotators(spec, numClasses);
  const A = annotators.length;
  const m = spec.coverage;
  if (m > A) throw new ConfigError(`'coverage' must be in [1, ${A}] (the number of annotators), got ${m}`);
  const assignment = assignCoverage(n, A, m, rng.fork('coverage'));
  const labelRng = rng.fork('labels');
  const clocks = annotators.map((a) => {
    const r = rng.fork(`clock:${a.id}`);
    return { rng: r, ms: CLOCK_EPOCH_MS + r.int(8 * 3600) * 1000 };
  });
  const matrix = new Int32Array(n * A).fill(-1);
  const correct = new Float64Array(A);
  const counts = new Int32Array(A);
  const provenance: LabelProvenance[] = [];
  for (let i = 0; i < n; i++) {
    const t = labels[i]!;
    for (let j = 0; j < m; j++) {
      const a = assignment[i * m + j]!;
      const label = pickWeighted(annotators[a]!.confusion[t]!, labelRng.uniform());
      matrix[i * A + a] = label;
      counts[a]! += 1;
      if (label === t) correct[a]! += 1;
      const clock = clocks[a]!;
      clock.ms += 5000 + Math.round(-25000 * Math.log(1 - clock.rng.uniform()));
      provenance.push({
        item: ids ? ids[i]! : String(i),
        annotator: annotators[a]!.id,
        label,
        timestamp: new Date(clock.ms).toISOString(),
        spec: provenanceSpec,
        seed: rng.seed,
      });
    }
  }
  return {
    annotators,
    annotations: { numItems: n, numAnnotators: A, numClasses, labels: matrix, annotatorIds: annotators.map((a) => a.id), itemIds: ids ? [...ids] : null },
    provenance,
    realisedAccuracy: correct.map((c, a) => (counts[a]! > 0 ? c / counts[a]! : NaN)),
    labelCounts: counts,
  };
}
