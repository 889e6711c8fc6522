/**
 * Stream scenarios: a YAML (or JSON) file that says which model serves which data, how items
 * arrive, which stresses strike when, and which monitors watch. `loadScenario` reads and validates
 * one; every mistake is a one-line ConfigError naming the key path and what is allowed.
 *
 * ```yaml
 * model: ./model.onnx            # or a full declaration { path, layout, bounds, preprocess, ... };
 * data: ./pool.npz               #   relative paths resolve against the scenario file
 * seed: 0
 * length: 6000                   # items in the stream, drawn from the data by a seeded sampler
 * sample: with-replacement       # or without-replacement (length ≤ data size), sequential
 * rate: 200                      # items per second offered; arrivals: poisson (default) or uniform
 * segments:                      # items outside segments are clean; each segment is one episode
 *   - { from: 2000, to: 3000, drift: { corruption: gaussian_noise, severity: 4 } }
 *   - { from: 3500, to: 3700, adversarial: { attack: fgsm, eps: 0.1, fraction: 0.5 } }
 *   - { from: 4500, to: 6000, drift: { corruption: contrast, severity: { gradual: [1, 5] } },
 *       annotation: { annotators: 3, annotator_accuracy: 0.6 } }
 * label_delay: 200               # labels (true label and annotations) arrive this many items later
 * annotation: { annotators: 3, annotator_accuracy: 0.95 }   # who labels items outside segments
 * monitors: default              # or a list: - { type: ks, on: confidence, alpha: 1e-5 }
 * policy: { abstain_below: 0.5, on_alert: [drift, adversarial], hold: 200 }
 * shadow: ./challenger.onnx      # or canary: { model: ./challenger.onnx, fraction: 0.1 }
 * serving: { max_batch: 32, max_wait_ms: 2 }   # micro-batching of the timed ORT replay; false: off
 * evaluation: { settle: 200, bucket: 50 }
 * ```
 *
 * Severity of a corruption: a number 1–5 (the whole segment), or a schedule from the drift library
 * over the segment — `{ gradual: [1, 5] }` (each item drifted to 5 with probability rising from 0
 * to 1 across the segment, else 1), `{ incremental: [1, 5] }` (the severity itself ramps),
 * `{ recurring: [0, 4], period: 300, duty: 0.25 }`, `{ abrupt: [2, 5], at: 400 }`, or a full
 * `{ kind, … }` schedule whose positions count from the segment's start. Severity 0 leaves an item clean.
 * Tabular / general shifts (`{ shift: mean, amount: 1.5 }`) apply to every segment item.
 */
import { readYamlFile } from '../yaml.js';
import path from 'node:path';
import { defaultAssets } from '../defaults.js';
import { ConfigError } from '../errors.js';
import { fail, keyPath, opt, parseOptions, showValue, type OptionMap, type ParseContext } from '../options/schema.js';
import { parseDataDeclaration, parseModelDeclaration, type DataRef, type ModelRef } from '../options/declarations.js';
import { parseAttackSpec, type AttackSpec } from '../stress/adversarial/index.js';
import { parseAnnotationSpec, type AnnotationSpec } from '../stress/annotation/index.js';
import { CORRUPTION_OPTIONS, parseDriftSpec, parseSchedule, type DriftSchedule, type DriftSpec } from '../stress/drift/index.js';
import { defaultMonitorList, getMonitorType, monitorTypeNames } from './monitors/index.js';
import { MONITOR_KINDS, type MonitorKind } from './types.js';

/** The stress kinds a segment can carry (its episode's kinds). */
export const EPISODE_KINDS = ['drift', 'adversarial', 'annotation'] as const;
export type EpisodeKind = (typeof EPISODE_KINDS)[number];

export interface SegmentDrift {
  /** The drift spec (for a corruption, `severity` is the schedule's largest severity). */
  readonly spec: DriftSpec;
  /** Severity over the segment (positions from its start), for corruptions; null for shifts. */
  readonly schedule: DriftSchedule | null;
}

export interface ScenarioSegment {
  /** First item (inclusive) and end (exclusive), stream positions. */
  readonly from: number;
  readonly to: number;
  readonly kinds: readonly EpisodeKind[];
  readonly drift: SegmentDrift | null;
  /** An attack on a seeded `fraction` of the segment's items (the attacker sees the drifted input). */
  readonly adversarial: { readonly spec: AttackSpec; readonly fraction: number } | null;
  /** Who labels the segment's items (replaces the scenario's `annotation`). */
  readonly annotation: AnnotationSpec | null;
}

export interface MonitorSpec {
  /** Unique name, used in alerts (`ks-confidence`, `adwin`). */
  readonly name: string;
  readonly type: string;
  /** The signal it watches, for monitors fed a per-item signal. */
  readonly on: string | null;
  /** Projection size for `on: input-projection`. */
  readonly dims: number | null;
  /** Every option, defaults filled in. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** When a challenger is promoted: enough labels, accuracy not worse by more than a margin, latency not much worse. */
export interface PromotionRule {
  readonly minLabelled: number;
  readonly maxAccuracyDrop: number;
  readonly maxLatencyRatio: number;
}

export interface Scenario {
  /** The file it came from, or 'default'. */
  readonly source: string;
  /** The model declaration (a bare path in the file is `{ path }`). */
  readonly model: ModelRef;
  /** The data declaration. */
  readonly data: DataRef;
  readonly seed: number;
  readonly length: number;
  readonly sample: 'with-replacement' | 'without-replacement' | 'sequential';
  /** Items per second offered. */
  readonly rate: number;
  readonly arrivals: 'poisson' | 'uniform';
  readonly segments: readonly ScenarioSegment[];
  readonly labelDelay: number;
  /** Who labels items outside annotation segments (null: true labels only, no annotations). */
  readonly annotation: AnnotationSpec | null;
  readonly monitors: 'default' | readonly MonitorSpec[];
  readonly policy: { readonly abstainBelow: number; readonly onAlert: readonly MonitorKind[]; readonly hold: number };
  readonly challenger: { readonly mode: 'shadow' | 'canary'; readonly model: ModelRef; readonly fraction: number; readonly rule: PromotionRule } | null;
  readonly serving: { readonly enabled: boolean; readonly maxBatch: number; readonly maxWaitMs: number };
  readonly evaluation: { readonly settle: number; readonly bucket: number };
  /** Items per batch for attacks, monitoring passes and the deterministic predictions. */
  readonly batchSize: number;
}

const SAMPLES = ['with-replacement', 'without-replacement', 'sequential'] as const;
const ARRIVALS = ['poisson', 'uniform'] as const;
export const DEFAULT_ANNOTATION = { annotators: 3, annotator_accuracy: 0.95 };
export const DEFAULT_RULE: PromotionRule = { minLabelled: 200, maxAccuracyDrop: 0.01, maxLatencyRatio: 2 };

/** The scenario's top-level keys with their own values (the sections below are parsed apart). */
export const SCENARIO_OPTIONS = {
  seed: opt.integer({ doc: 'the stream seed: every random draw derives from it', min: 0, max: Number.MAX_SAFE_INTEGER, default: 0 }),
  length: opt.integer({ doc: 'items in the stream, drawn from the data by a seeded sampler', min: 1, max: 100_000_000, default: 6000 }),
  sample: opt.choice(SAMPLES, { doc: 'how items are drawn from the data (without-replacement: length <= data size)', default: 'with-replacement' }),
  rate: opt.number({ doc: 'items per second offered', min: 0, minExclusive: true, max: 1e7, default: 200 }),
  arrivals: opt.choice(ARRIVALS, { doc: 'arrival process', default: 'poisson' }),
  label_delay: opt.integer({ doc: 'labels (true label and annotations) arrive this many items later', min: 0, default: 200 }),
  batch_size: opt.integer({ doc: 'items per batch for attacks, monitoring passes and predictions', min: 1, max: 65536, default: 256 }),
} satisfies OptionMap;
const SECTION_KEYS = ['model', 'data', 'segments', 'annotation', 'monitors', 'policy', 'shadow', 'canary', 'serving', 'evaluation'] as const;

const ON_ALERT_EXPECTED = `'all', 'none' or a list of ${MONITOR_KINDS.join(', ')}`;
/** `policy:` — the safe-fail policy. */
export const POLICY_OPTIONS = {
  abstain_below: opt.number({ doc: 'confidence below which the served prediction abstains', min: 0, max: 1, default: 0.5 }),
  on_alert: opt.custom<MonitorKind[], { doc: string; default: MonitorKind[]; flag: false }>(
    ON_ALERT_EXPECTED,
    (v, p, ctx) => {
      if (v === 'none' || v === false) return [];
      if (v === 'all') return [...MONITOR_KINDS];
      if (Array.isArray(v)) return v.map((k, i) => ALERT_KIND.check(k, `${p}[${i}]`, ctx));
      return fail(p, { code: 'type', value: v, expected: ON_ALERT_EXPECTED });
    },
    { doc: 'alert kinds that make the policy abstain', default: [...MONITOR_KINDS], flag: false },
  ),
  hold: opt.integer({ doc: 'items an alert keeps the policy engaged', min: 0, default: 200 }),
} satisfies OptionMap;
const ALERT_KIND = opt.choice(MONITOR_KINDS, { doc: 'alert kind' });

/** `rule:` of a challenger — when it is promoted. */
export const RULE_OPTIONS = {
  min_labelled: opt.integer({ doc: 'labelled challenger items needed for a decision', min: 1, default: DEFAULT_RULE.minLabelled }),
  max_accuracy_drop: opt.number({ doc: 'accuracy the challenger may lose against the champion', min: -1, max: 1, default: DEFAULT_RULE.maxAccuracyDrop }),
  max_latency_ratio: opt.number({ doc: "challenger p95 latency allowed, as a multiple of the champion's", min: 0, minExclusive: true, default: DEFAULT_RULE.maxLatencyRatio }),
} satisfies OptionMap;

const MODEL_DECL = opt.custom<unknown, { doc: string; required: true; flag: false }>('a model path or {path, layout, bounds, preprocess, ...}', (v) => v, {
  doc: "the challenger's model: a path or a model declaration",
  required: true,
  flag: false,
});
/** `shadow:` (every item) and `canary:` (a fraction) — the challenger. */
export const CHALLENGER_OPTIONS = {
  shadow: { model: MODEL_DECL, rule: opt.object(RULE_OPTIONS, { doc: 'promotion rule' }) },
  canary: {
    model: MODEL_DECL,
    fraction: opt.number({ doc: 'share of items the challenger serves', min: 0, max: 1, minExclusive: true, maxExclusive: true, default: 0.1 }),
    rule: opt.object(RULE_OPTIONS, { doc: 'promotion rule' }),
  },
} satisfies Record<'shadow' | 'canary', OptionMap>;

/** `serving:` — micro-batching of the timed replay (false: off). */
export const SERVING_OPTIONS = {
  max_batch: opt.integer({ doc: 'largest micro-batch', min: 1, max: 65536, default: 32 }),
  max_wait_ms: opt.number({ doc: 'longest wait for a batch to fill, ms', min: 0, max: 60_000, default: 2 }),
} satisfies OptionMap;

/** `evaluation:` — how episodes and the timeline are measured. */
export const EVALUATION_OPTIONS = {
  settle: opt.integer({ doc: 'items after an episode ends before recovery is judged', min: 0, default: 200 }),
  bucket: opt.integer({ doc: 'items per timeline bucket', min: 1, default: 50 }),
} satisfies OptionMap;

/** A segment's own keys (its stresses are parsed by their kinds' parsers). */
export const SEGMENT_OPTIONS = {
  from: opt.integer({ doc: 'first item of the segment', min: 0, required: true }),
  to: opt.integer({ doc: 'end of the segment (exclusive)', min: 1, required: true }),
} satisfies OptionMap;

/** The keys of a monitor entry besides its type's options. */
export const MONITOR_ENTRY_OPTIONS = {
  type: opt.string({ doc: 'the monitor type (gauntlet list monitors)', required: true }),
  name: opt.string({ doc: 'unique name used in alerts (default type-on)' }),
  on: opt.string({ doc: 'the signal it watches (monitors fed a per-item signal)' }),
  dims: opt.integer({ doc: "projection size for 'on: input-projection'", min: 1, max: 4096, default: 16 }),
} satisfies OptionMap;

function asMapping(v: unknown, where: string, example: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, { code: 'type', value: v, expected: `a mapping like ${example}` });
  return v as Record<string, unknown>;
}

/** Reads and validates a YAML (or JSON) scenario file. */
export function loadScenario(file: string): Scenario {
  const raw = readYamlFile(file);
  return resolveScenario(raw, file, path.dirname(path.resolve(file)));
}

/** The embedded default scenario (`assets/default/stream.yaml`: the example on the default model and data). */
export function defaultScenario(): Scenario {
  return loadScenario(path.join(path.dirname(defaultAssets.model), 'stream.yaml'));
}

/** Validates a scenario object; relative paths resolve against `baseDir`. */
export function resolveScenario(raw: unknown, source: string, baseDir: string): Scenario {
  const o = asMapping(raw, 'scenario', '{ length: 6000, segments: [...] }');
  const ctx: ParseContext = { where: '', baseDir };
  const top = parseOptions(SCENARIO_OPTIONS, o, ctx, { extraKeys: SECTION_KEYS });
  const model = parseModelDeclaration(o.model, { where: 'model', baseDir }, defaultAssets.model);
  const data = parseDataDeclaration(o.data, { where: 'data', baseDir }, defaultAssets.data);
  const { seed, length, sample, rate, arrivals, labelDelay, batchSize } = top;
  if (o.segments !== undefined && !Array.isArray(o.segments)) fail('segments', { code: 'type', value: o.segments, expected: 'a list of { from, to, drift | adversarial | annotation }' });
  const segments = ((o.segments as unknown[] | undefined) ?? []).map((s, i) => resolveSegment(s, `segments[${i}]`, length));
  const annotation = o.annotation === undefined ? parseAnnotationSpec(DEFAULT_ANNOTATION, 'annotation') : o.annotation === null || o.annotation === 'none' ? null : streamAnnotation(o.annotation, 'annotation');
  const monitors = resolveMonitors(o.monitors);
  const policy = resolvePolicy(o.policy);
  if (o.shadow !== undefined && o.canary !== undefined) throw new ConfigError(`'shadow' and 'canary' exclude each other: one challenger runs either on every item or on a fraction of them`);
  const challenger = o.shadow !== undefined ? resolveChallenger(o.shadow, 'shadow', baseDir) : o.canary !== undefined ? resolveChallenger(o.canary, 'canary', baseDir) : null;
  const serving = resolveServing(o.serving);
  const evaluation = parseOptions(EVALUATION_OPTIONS, o.evaluation ?? {}, { where: 'evaluation' });
  const s: Scenario = { source, model, data, seed, length, sample, rate, arrivals, segments, labelDelay, annotation, monitors, policy, challenger, serving, evaluation, batchSize };
  checkReferences(s);
  return s;
}

function streamAnnotation(v: unknown, where: string): AnnotationSpec {
  const spec = parseAnnotationSpec(v, where);
  if (spec.model === 'instance') throw new ConfigError(`'${where}.model' 'instance' needs the model's probabilities before labelling and is not available in streams; use symmetric, pairflip, matrix or annotators`);
  return spec;
}

function resolveSegment(raw: unknown, where: string, length: number): ScenarioSegment {
  const o = asMapping(raw, where, '{ from: 2000, to: 3000, drift: { corruption: gaussian_noise, severity: 4 } }');
  const seg = parseOptions(SEGMENT_OPTIONS, o, { where }, { extraKeys: EPISODE_KINDS });
  const from = opt.integer({ doc: 'from', min: 0, max: length - 1 }).check(seg.from, `${where}.from`, { where });
  const to = opt.integer({ doc: 'to', min: from + 1, max: length }).check(seg.to, `${where}.to`, { where });
  const kinds: EpisodeKind[] = [];
  let drift: SegmentDrift | null = null;
  if (o.drift !== undefined) {
    drift = resolveDrift(o.drift, `${where}.drift`, to - from);
    kinds.push('drift');
  }
  let adversarial: ScenarioSegment['adversarial'] = null;
  if (o.adversarial !== undefined) {
    const a = asMapping(o.adversarial, `${where}.adversarial`, '{ attack: fgsm, eps: 0.1, fraction: 0.5 }');
    const { fraction: f, ...rest } = a;
    const fraction = f === undefined ? 1 : FRACTION.check(f, `${where}.adversarial.fraction`, { where });
    const spec = parseAttackSpec(rest, `${where}.adversarial`);
    if (Array.isArray(spec.eps)) {
      if (spec.eps.length !== 1) throw new ConfigError(`'${where}.adversarial.eps' must be one number in a stream, got ${showValue(spec.eps)}`);
      spec.eps = spec.eps[0]!;
    }
    adversarial = { spec, fraction };
    kinds.push('adversarial');
  }
  let annotation: AnnotationSpec | null = null;
  if (o.annotation !== undefined) {
    annotation = streamAnnotation(o.annotation, `${where}.annotation`);
    kinds.push('annotation');
  }
  if (kinds.length === 0) throw new ConfigError(`'${where}' must give at least one of drift, adversarial, annotation`);
  return { from, to, kinds, drift, adversarial, annotation };
}

const SHORTHANDS = ['gradual', 'incremental', 'recurring', 'abrupt'] as const;
/** The share of a segment's items an attack strikes. */
const FRACTION = opt.number({ doc: "share of the segment's items attacked", min: 0, max: 1, minExclusive: true, default: 1 });
const SEVERITY = opt.integer({ doc: 'severity', min: 1, max: 5 });
/** A corruption in a segment: its severity is a number or a schedule over the segment. */
const STREAM_CORRUPTION_OPTIONS = {
  corruption: CORRUPTION_OPTIONS.corruption,
  severity: opt.custom('1-5, or a schedule like { gradual: [1, 5] }', (v) => v, { doc: 'severity over the segment', required: true }),
};

function resolveDrift(raw: unknown, where: string, len: number): SegmentDrift {
  const o = asMapping(raw, where, '{ corruption: gaussian_noise, severity: 4 }');
  if (!('corruption' in o)) {
    const spec = parseDriftSpec(o, where);
    if ('shift' in spec && (spec.shift === 'prior' || spec.shift === 'subpopulation')) {
      throw new ConfigError(`'${where}.shift' '${spec.shift}' resamples or reweights items, which a stream does through its sampler; use corruption, mean, scale, noise, missing or quantize`);
    }
    return { spec, schedule: null };
  }
  parseOptions(STREAM_CORRUPTION_OPTIONS, o, { where });
  const sw = `${where}.severity`;
  const sev = o.severity;
  let schedule: DriftSchedule;
  if (sev === undefined) throw new ConfigError(`'${sw}' is required: 1-5, or a schedule like { gradual: [1, 5] }`);
  if (typeof sev === 'number') {
    const s = SEVERITY.check(sev, sw, { where });
    schedule = { kind: 'abrupt', from: s, to: s, at: 0 };
  } else {
    const so = asMapping(sev, sw, '3 or { gradual: [1, 5] } or { kind: recurring, from: 0, to: 4, period: 300 }');
    if ('kind' in so) schedule = parseSchedule(so, sw);
    else {
      const short = SHORTHANDS.filter((k) => k in so);
      if (short.length !== 1) throw new ConfigError(`'${sw}' must be a number 1-5 or one of { gradual: [a, b] }, { incremental: [a, b] }, { recurring: [a, b], period }, { abrupt: [a, b], at }, or { kind, ... }; got ${showValue(sev)}`);
      const k = short[0]!;
      const pair = so[k];
      if (!Array.isArray(pair) || pair.length !== 2) fail(`${sw}.${k}`, { code: 'type', value: pair, expected: 'a pair [from, to] of severities 0-5' });
      const { [k]: _, ...rest } = so;
      const base = { kind: k, from: pair[0], to: pair[1] };
      const full = k === 'gradual' || k === 'incremental' ? { ...base, start: 0, end: len, ...rest } : { ...base, ...rest };
      schedule = parseSchedule(full, sw);
    }
  }
  const top = Math.max(schedule.from, schedule.to);
  if (top < 1) throw new ConfigError(`'${sw}' never reaches severity 1 or more: the segment would be clean`);
  const spec = parseDriftSpec({ corruption: o.corruption, severity: top }, where);
  return { spec, schedule };
}

function resolveMonitors(raw: unknown): Scenario['monitors'] {
  if (raw === undefined || raw === 'default') return 'default';
  if (!Array.isArray(raw) || raw.length === 0) fail('monitors', { code: 'type', value: raw, expected: "'default' or a non-empty list like [{ type: ks, on: confidence }, adwin]" });
  const names = new Set<string>();
  return raw.map((entry, i) => {
    const where = `monitors[${i}]`;
    const e = typeof entry === 'string' ? { type: entry } : asMapping(entry, where, '{ type: ks, on: confidence, alpha: 0.0001 }');
    const spec = resolveMonitor(e, where);
    if (names.has(spec.name)) throw new ConfigError(`'${where}.name' '${spec.name}' is already used by another monitor; give each a unique name`);
    names.add(spec.name);
    return spec;
  });
}

/** Validates one monitor entry `{ type, name?, on?, dims?, ...options }` (options snake_case; camelCase before 0.2). */
export function resolveMonitor(e: Record<string, unknown>, where: string): MonitorSpec {
  const type = e.type;
  const mt = typeof type === 'string' ? getMonitorType(type) : undefined;
  if (!mt) fail(keyPath(where, 'type'), { code: 'choice', value: type, expected: `one of ${monitorTypeNames.join(', ')}` });
  const own = Object.keys(mt.options);
  const ownEntries = Object.fromEntries(Object.entries(e).filter(([k]) => !(k in MONITOR_ENTRY_OPTIONS)));
  const head = parseOptions(MONITOR_ENTRY_OPTIONS, Object.fromEntries(Object.entries(e).filter(([k]) => k in MONITOR_ENTRY_OPTIONS)), { where });
  let on: string | null = null;
  if (mt.signals.length) on = e.on === undefined ? mt.signals[0]! : opt.choice(mt.signals, { doc: 'signal' }).check(e.on, `${where}.on`, { where });
  else if (e.on !== undefined) throw new ConfigError(`'${where}.on' does not apply to '${mt.type}' (it is fed ${mt.feed === 'error' ? 'the delayed 0/1 error' : mt.feed === 'annotations' ? 'the arriving annotations' : 'squeeze scores'})`);
  let dims: number | null = null;
  if (on === 'input-projection') dims = head.dims;
  else if (e.dims !== undefined) throw new ConfigError(`'${where}.dims' applies only with 'on: input-projection'`);
  let name = on ? `${mt.type}-${on}` : mt.type;
  if (head.name !== undefined) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(head.name)) fail(`${where}.name`, { code: 'type', value: head.name, expected: '1-64 letters, digits or _.:-' });
    name = head.name;
  }
  let options: Record<string, unknown>;
  try {
    options = parseOptions(mt.options, ownEntries, { where });
  } catch (err) {
    // Say which monitor type a key is unknown for (its own keys and type, name, on, dims are allowed).
    if (err instanceof ConfigError && /unknown key/.test(err.message)) throw new ConfigError(err.message.replace(/; allowed keys are .*$/, ` for monitor '${mt.type}'; allowed keys are ${[...Object.keys(MONITOR_ENTRY_OPTIONS), ...own].join(', ')}`));
    throw err;
  }
  return { name, type: mt.type, on, dims, options };
}

/** The monitor list of a scenario, with the default set expanded for image or other data. */
export function scenarioMonitors(s: Pick<Scenario, 'monitors'>, image: boolean): MonitorSpec[] {
  if (s.monitors !== 'default') return [...s.monitors];
  return defaultMonitorList(image).map((m, i) => resolveMonitor({ ...m }, `monitors[${i}]`));
}

function checkReferences(s: Scenario): void {
  const monitors = scenarioMonitors(s, true);
  for (const m of monitors) {
    const key = getMonitorType(m.type)!.referenceOption;
    if (!key) continue;
    const ref = m.options[key] as number;
    s.segments.forEach((seg, i) => {
      if (seg.from < ref) throw new ConfigError(`'segments[${i}].from' (${seg.from}) falls inside the reference of monitor '${m.name}' (the first ${ref} items must be clean); start the segment at ${ref} or later, or give the monitor a smaller 'reference'`);
    });
    if (ref >= s.length) throw new ConfigError(`'length' (${s.length}) must exceed the reference of monitor '${m.name}' (${ref} items)`);
  }
}

function resolvePolicy(raw: unknown): Scenario['policy'] {
  const p = parseOptions(POLICY_OPTIONS, raw ?? {}, { where: 'policy' });
  return { abstainBelow: p.abstainBelow, onAlert: p.onAlert, hold: p.hold };
}

function resolveChallenger(raw: unknown, mode: 'shadow' | 'canary', baseDir: string): NonNullable<Scenario['challenger']> {
  const o = typeof raw === 'string' && mode === 'shadow' ? { model: raw } : asMapping(raw, mode, mode === 'shadow' ? 'challenger.onnx or { model: challenger.onnx }' : '{ model: challenger.onnx, fraction: 0.1 }');
  const c = parseOptions(CHALLENGER_OPTIONS[mode], o, { where: mode, baseDir }) as { model: unknown; fraction?: number; rule?: { minLabelled: number; maxAccuracyDrop: number; maxLatencyRatio: number } };
  const model = parseModelDeclaration(c.model, { where: `${mode}.model`, baseDir });
  const rule = c.rule ? { minLabelled: c.rule.minLabelled, maxAccuracyDrop: c.rule.maxAccuracyDrop, maxLatencyRatio: c.rule.maxLatencyRatio } : DEFAULT_RULE;
  return { mode, model, fraction: mode === 'shadow' ? 1 : c.fraction!, rule };
}

function resolveServing(raw: unknown): Scenario['serving'] {
  if (raw === undefined || raw === true) raw = {};
  if (raw === false) return { enabled: false, ...parseOptions(SERVING_OPTIONS, {}, { where: 'serving' }) };
  const o = parseOptions(SERVING_OPTIONS, raw, { where: 'serving' });
  return { enabled: true, maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs };
}
