/**
 * Simulated annotators: K people (or tools), each with a confusion matrix P(label | true), each
 * labelling m of the items, every label with a provenance record.
 *
 * Kinds (a config entry `{ kind, count?, ... }`; `annotators: 5` means five `noisy` ones):
 * - `reliable`: accuracy 0.95 by default, errors uniform over the other classes;
 * - `noisy`: accuracy `annotator_accuracy` (default 0.8) by default, errors uniform;
 *   both take `accuracy`, a per-class profile `class_accuracy` (one accuracy per true class), or a
 *   given `confusion` (K rows of P(label | true));
 * - `spammer`: answers uniformly at random whatever the item (accuracy 1/K);
 * - `swapper`: systematically swaps the given class pairs `swaps` (default (0,1), (2,3), …) with
 *   probability `swap_rate` (default 1), and is accurate (`accuracy`, default 0.95) elsewhere.
 *
 * Coverage: each item is labelled by `coverage` = m of the K annotators, assigned greedily to the
 * least-loaded annotators with seeded tie-breaks, so loads differ by at most one and the sets mix.
 * Timestamps come from a seeded clock per annotator: a start within the first 8 hours of
 * 2024-01-01 UTC, then 5 s plus an exponential pause (mean 25 s) per label, items in index order.
 *
 * Example: `simulateAnnotators(y, 10, parseAnnotatorsSpec({ annotators: 5, annotator_accuracy: 0.7,
 * coverage: 3 }, 'noise'), new Rng(1))`.
 */
import { ConfigError, DataError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import type { AnnotationMatrix, LabelProvenance } from './types.js';
import { fail, keyPath, numberFromText, opt, parseOptions, type OptionMap, type ParseContext } from '../../options/schema.js';
import { checkLabels, copyMatrix, pickWeighted, probability, stochasticMatrix } from './util.js';

export type AnnotatorKind = 'reliable' | 'noisy' | 'spammer' | 'swapper';
export const ANNOTATOR_KINDS: readonly AnnotatorKind[] = ['reliable', 'noisy', 'spammer', 'swapper'];
export type AggregateMethod = 'majority' | 'dawid-skene';
export const AGGREGATE_METHODS: readonly AggregateMethod[] = ['majority', 'dawid-skene'];

/** One kind of annotator, `count` times. */
export interface AnnotatorEntry {
  readonly kind: AnnotatorKind;
  readonly count: number;
  readonly accuracy?: number;
  /** One accuracy per true class (YAML `class_accuracy`). */
  readonly classAccuracy?: readonly number[];
  readonly confusion?: readonly (readonly number[])[];
  readonly swaps?: readonly (readonly [number, number])[];
  /** Probability a swapper swaps a listed pair (YAML `swap_rate`). */
  readonly swapRate?: number;
}

/** Simulated annotators (a config entry with `annotators`). */
export interface AnnotatorsSpec {
  readonly model: 'annotators';
  /** How many `noisy` annotators, or a list of entries. */
  readonly annotators: number | readonly AnnotatorEntry[];
  /** Accuracy of `noisy` annotators that give none, in [0, 1] (YAML `annotator_accuracy`). */
  readonly annotatorAccuracy: number;
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

export const MAX_ANNOTATORS = 1000;

const COUNT = opt.integer({ doc: 'how many annotators of this kind', min: 1, max: MAX_ANNOTATORS, default: 1 });
const SWAPS_EXPECTED = 'a non-empty list of class pairs like [[0, 6], [2, 4]]';
const SWAPS = opt.custom<[number, number][], { doc: string; defaultText: string; flag: false }>(
  SWAPS_EXPECTED,
  (v, p) => {
    if (!Array.isArray(v) || v.length === 0) return fail(p, { code: 'type', value: v, expected: SWAPS_EXPECTED });
    const seen = new Set<number>();
    return v.map((pair: unknown, i) => {
      const pp = `${p}[${i}]`;
      if (!Array.isArray(pair) || pair.length !== 2) return fail(pp, { code: 'type', value: pair, expected: 'a pair of classes like [0, 6]' });
      const cls = opt.integer({ doc: 'class', min: 0 });
      const a = cls.check(pair[0], `${pp}[0]`, { where: pp });
      const b = cls.check(pair[1], `${pp}[1]`, { where: pp });
      if (a === b || seen.has(a) || seen.has(b)) fail(pp, { code: 'conflict', value: pair, expected: 'a pair of two different classes not already swapped' }, `'${pp}' must pair two different classes not already swapped, got [${a}, ${b}]`);
      seen.add(a).add(b);
      return [a, b] as [number, number];
    });
  },
  { doc: 'class pairs a swapper swaps', defaultText: '(0,1), (2,3), ...', flag: false },
);
const CLASS_ACCURACY = opt.list(probability('accuracy'), { doc: 'one accuracy per true class', minLength: 1 });

/** The keys of an annotator entry of each kind (`kind` and `count` for all). */
export const ANNOTATOR_ENTRY_OPTIONS = {
  reliable: {
    kind: opt.choice(ANNOTATOR_KINDS, { doc: 'the kind of annotator', default: 'noisy' }),
    count: COUNT,
    accuracy: opt.number({ doc: 'accuracy on every class, errors uniform', min: 0, max: 1, default: 0.95 }),
    class_accuracy: CLASS_ACCURACY,
    confusion: stochasticMatrix({ doc: 'P(label | true): K rows summing to 1' }),
  },
  noisy: {
    kind: opt.choice(ANNOTATOR_KINDS, { doc: 'the kind of annotator', default: 'noisy' }),
    count: COUNT,
    accuracy: opt.number({ doc: 'accuracy on every class, errors uniform', min: 0, max: 1, defaultText: 'annotator_accuracy' }),
    class_accuracy: CLASS_ACCURACY,
    confusion: stochasticMatrix({ doc: 'P(label | true): K rows summing to 1' }),
  },
  spammer: {
    kind: opt.choice(ANNOTATOR_KINDS, { doc: 'the kind of annotator', default: 'noisy' }),
    count: COUNT,
  },
  swapper: {
    kind: opt.choice(ANNOTATOR_KINDS, { doc: 'the kind of annotator', default: 'noisy' }),
    count: COUNT,
    accuracy: opt.number({ doc: 'accuracy outside the swapped pairs', min: 0, max: 1, default: 0.95 }),
    swaps: SWAPS,
    swap_rate: opt.number({ doc: 'probability of swapping a listed pair', min: 0, max: 1, default: 1 }),
  },
} satisfies Record<AnnotatorKind, OptionMap>;

const ENTRIES_EXPECTED = `an integer in [1, ${MAX_ANNOTATORS}] (that many noisy annotators), or a non-empty list of {kind, count, ...} entries`;

/** The keys of a simulated-annotators entry (`annotator-accuracy` before 0.2: still read, with a deprecation). */
export const ANNOTATORS_OPTIONS = {
  model: opt.choice(['annotators'] as const, { doc: "'annotators' (or absent)", flag: false }),
  annotators: opt.custom<number | AnnotatorEntry[], { doc: string; required: true; metavar: string }>(
    ENTRIES_EXPECTED,
    (v, p, ctx) => {
      if (typeof v === 'number') return opt.integer({ doc: '', min: 1, max: MAX_ANNOTATORS }).check(v, p, ctx);
      if (!Array.isArray(v) || v.length === 0) return fail(p, { code: 'type', value: v, expected: ENTRIES_EXPECTED });
      const entries = v.map((e: unknown, i) => parseEntry(e, { ...ctx, where: `${p}[${i}]` }));
      const total = entries.reduce((a, e) => a + e.count, 0);
      if (total > MAX_ANNOTATORS) fail(p, { code: 'range', value: total, expected: `entries adding up to at most ${MAX_ANNOTATORS} annotators` });
      return entries;
    },
    { doc: 'how many noisy annotators, or a list of {kind, count, accuracy, ...} entries', required: true, metavar: 'K' },
    numberFromText,
  ),
  annotator_accuracy: opt.number({ doc: 'accuracy of noisy annotators that give none', min: 0, max: 1, default: 0.8, metavar: 'A' }),
  coverage: opt.integer({ doc: 'annotators per item', min: 1, max: MAX_ANNOTATORS, defaultText: 'all annotators', metavar: 'M' }),
  aggregate: opt.choice(AGGREGATE_METHODS, { doc: 'how the consensus (observed) label is formed', default: 'majority', metavar: 'METHOD' }),
} satisfies OptionMap;

/** Validates a simulated-annotators config entry. With `camelCase`, the object comes from TypeScript code. */
export function parseAnnotatorsSpec(raw: unknown, where: string, ctx: Omit<ParseContext, 'where'> = {}): AnnotatorsSpec {
  const c: ParseContext = { ...ctx, where };
  const o = parseOptions(ANNOTATORS_OPTIONS, raw, c);
  const total = typeof o.annotators === 'number' ? o.annotators : o.annotators.reduce((a, e) => a + e.count, 0);
  const coverage = o.coverage ?? total;
  if (coverage > total) fail(keyPath(where, 'coverage'), { code: 'range', value: coverage, expected: `an integer in [1, ${total}] (the number of annotators)` });
  return { model: 'annotators', annotators: o.annotators, annotatorAccuracy: o.annotatorAccuracy, coverage, aggregate: o.aggregate };
}

function parseEntry(raw: unknown, ctx: ParseContext): AnnotatorEntry {
  const where = ctx.where;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(ctx, { code: 'type', value: raw, expected: "a mapping like {kind: 'noisy', accuracy: 0.7, count: 3}" });
  const kindRaw = (raw as Record<string, unknown>).kind;
  const kind = kindRaw === undefined ? 'noisy' : ANNOTATOR_ENTRY_OPTIONS.noisy.kind.check(kindRaw, keyPath(where, 'kind'), ctx);
  const e = parseOptions(ANNOTATOR_ENTRY_OPTIONS[kind], raw, ctx, { noDefaults: true }) as Record<string, unknown>;
  const given = ['accuracy', 'classAccuracy', 'confusion'].filter((k) => e[k] !== undefined);
  if (kind !== 'swapper' && given.length > 1) {
    const names = given.map((k) => (ctx.camelCase ? k : k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)));
    throw new ConfigError(`'${where}' must give at most one of ${ctx.camelCase ? 'accuracy, classAccuracy, confusion' : 'accuracy, class_accuracy, confusion'}, got ${names.join(' and ')}`);
  }
  return { ...e, kind, count: (e.count as number | undefined) ?? 1 } as AnnotatorEntry;
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
      confusion = swapperConfusion(K, swaps, e.swapRate ?? 1, e.accuracy ?? 0.95);
    } else if (e.confusion) {
      if (e.confusion.length !== K) throw new ConfigError(`'${where}.confusion' is ${e.confusion.length}x${e.confusion.length} but the labels have ${K} classes`);
      confusion = copyMatrix(e.confusion);
    } else if (e.classAccuracy) {
      if (e.classAccuracy.length !== K) throw new ConfigError(`'${where}.class_accuracy' has ${e.classAccuracy.length} entries but the labels have ${K} classes`);
      confusion = confusionFromProfile(e.classAccuracy);
    } else {
      confusion = confusionFromAccuracy(e.accuracy ?? (e.kind === 'reliable' ? 0.95 : spec.annotatorAccuracy), K);
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
  opt.integer({ doc: 'annotators per item', min: 1, max: numAnnotators }).check(coverage, 'coverage', { where: '' });
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
