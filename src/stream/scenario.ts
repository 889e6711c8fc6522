/**
 * Stream scenarios: a YAML (or JSON) file that says which model serves which data, how items
 * arrive, which stresses strike when, and which monitors watch. `loadScenario` reads and validates
 * one; every mistake is a one-line ConfigError naming the key path and what is allowed.
 *
 * ```yaml
 * model: ./model.onnx            # relative paths resolve against the scenario file
 * data: ./pool.npz
 * seed: 0
 * length: 6000                   # items in the stream, drawn from the data by a seeded sampler
 * sample: with-replacement       # or without-replacement (length ≤ data size), sequential
 * rate: 200                      # items per second offered; arrivals: poisson (default) or uniform
 * segments:                      # items outside segments are clean; each segment is one episode
 *   - { from: 2000, to: 3000, drift: { corruption: gaussian_noise, severity: 4 } }
 *   - { from: 3500, to: 3700, adversarial: { attack: fgsm, eps: 0.1, fraction: 0.5 } }
 *   - { from: 4500, to: 6000, drift: { corruption: contrast, severity: { gradual: [1, 5] } },
 *       annotation: { annotators: 3, annotator-accuracy: 0.6 } }
 * label_delay: 200               # labels (true label and annotations) arrive this many items later
 * annotation: { annotators: 3, annotator-accuracy: 0.95 }   # who labels items outside segments
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
import { parseAttackSpec, type AttackSpec } from '../stress/adversarial/index.js';
import { parseAnnotationSpec, type AnnotationSpec } from '../stress/annotation/index.js';
import { asObject, checkKeys, checkNumber, keyPath, show, type NumberRange } from '../stress/drift/config.js';
import { parseDriftSpec, parseSchedule, type DriftSchedule, type DriftSpec } from '../stress/drift/index.js';
import { defaultMonitorList, getMonitorType, monitorTypeNames } from './monitors/index.js';
import { resolveOptions } from './options.js';
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
  readonly model: string;
  readonly data: string;
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
  readonly challenger: { readonly mode: 'shadow' | 'canary'; readonly model: string; readonly fraction: number; readonly rule: PromotionRule } | null;
  readonly serving: { readonly enabled: boolean; readonly maxBatch: number; readonly maxWaitMs: number };
  readonly evaluation: { readonly settle: number; readonly bucket: number };
  /** Items per batch for attacks, monitoring passes and the deterministic predictions. */
  readonly batchSize: number;
}

const TOP_KEYS = ['model', 'data', 'seed', 'length', 'sample', 'rate', 'arrivals', 'segments', 'label_delay', 'annotation', 'monitors', 'policy', 'shadow', 'canary', 'serving', 'evaluation', 'batch_size'];
const SAMPLES = ['with-replacement', 'without-replacement', 'sequential'] as const;
const ARRIVALS = ['poisson', 'uniform'] as const;
export const DEFAULT_ANNOTATION = { annotators: 3, 'annotator-accuracy': 0.95 };
export const DEFAULT_RULE: PromotionRule = { minLabelled: 200, maxAccuracyDrop: 0.01, maxLatencyRatio: 2 };

/** Reads and validates a YAML (or JSON) scenario file. */
export function loadScenario(file: string): Scenario {
  const raw = readYamlFile(file);
  return resolveScenario(raw, file, path.dirname(path.resolve(file)));
}

/** The embedded default scenario (`assets/default/stream.yaml`: the example on the default model and data). */
export function defaultScenario(): Scenario {
  return loadScenario(path.join(path.dirname(defaultAssets.model), 'stream.yaml'));
}

const num = (v: unknown, name: string, range: NumberRange): number => checkNumber(name, v, range);
function opt<T>(o: Record<string, unknown>, key: string, dflt: T, f: (v: unknown, name: string) => T, where = ''): T {
  return o[key] === undefined ? dflt : f(o[key], keyPath(where, key));
}
function choice<T extends string>(v: unknown, name: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new ConfigError(`'${name}' must be one of ${allowed.join(', ')}, got ${show(v)}`);
  return v as T;
}
function filePath(v: unknown, name: string, baseDir: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`'${name}' must be a file path, got ${show(v)}`);
  return path.resolve(baseDir, v);
}

/** Validates a scenario object; relative paths resolve against `baseDir`. */
export function resolveScenario(raw: unknown, source: string, baseDir: string): Scenario {
  const o = asObject(raw, 'scenario', '{ length: 6000, segments: [...] }');
  checkKeys(o, TOP_KEYS, 'scenario');
  const model = o.model === undefined ? defaultAssets.model : filePath(o.model, 'model', baseDir);
  const data = o.data === undefined ? defaultAssets.data : filePath(o.data, 'data', baseDir);
  const seed = opt(o, 'seed', 0, (v, n) => num(v, n, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }));
  const length = opt(o, 'length', 6000, (v, n) => num(v, n, { min: 1, max: 100_000_000, integer: true }));
  const sample = opt(o, 'sample', 'with-replacement' as const, (v, n) => choice(v, n, SAMPLES));
  const rate = opt(o, 'rate', 200, (v, n) => num(v, n, { min: 0, minExclusive: true, max: 1e7 }));
  const arrivals = opt(o, 'arrivals', 'poisson' as const, (v, n) => choice(v, n, ARRIVALS));
  const labelDelay = opt(o, 'label_delay', 200, (v, n) => num(v, n, { min: 0, integer: true }));
  const batchSize = opt(o, 'batch_size', 256, (v, n) => num(v, n, { min: 1, max: 65536, integer: true }));
  if (o.segments !== undefined && !Array.isArray(o.segments)) throw new ConfigError(`'segments' must be a list of { from, to, drift | adversarial | annotation }, got ${show(o.segments)}`);
  const segments = ((o.segments as unknown[] | undefined) ?? []).map((s, i) => resolveSegment(s, `segments[${i}]`, length));
  const annotation = o.annotation === undefined ? parseAnnotationSpec(DEFAULT_ANNOTATION, 'annotation') : o.annotation === null || o.annotation === 'none' ? null : streamAnnotation(o.annotation, 'annotation');
  const monitors = resolveMonitors(o.monitors);
  const policy = resolvePolicy(o.policy);
  if (o.shadow !== undefined && o.canary !== undefined) throw new ConfigError(`'shadow' and 'canary' exclude each other: one challenger runs either on every item or on a fraction of them`);
  const challenger = o.shadow !== undefined ? resolveChallenger(o.shadow, 'shadow', baseDir) : o.canary !== undefined ? resolveChallenger(o.canary, 'canary', baseDir) : null;
  const serving = resolveServing(o.serving);
  const evaluation = resolveEvaluation(o.evaluation);
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
  const o = asObject(raw, where, '{ from: 2000, to: 3000, drift: { corruption: gaussian_noise, severity: 4 } }');
  checkKeys(o, ['from', 'to', 'drift', 'adversarial', 'annotation'], where);
  if (o.from === undefined) throw new ConfigError(`'${where}.from' is required: the first item of the segment, an integer in [0, ${length - 1}]`);
  if (o.to === undefined) throw new ConfigError(`'${where}.to' is required: the end of the segment (exclusive), an integer in [1, ${length}]`);
  const from = num(o.from, `${where}.from`, { min: 0, max: length - 1, integer: true });
  const to = num(o.to, `${where}.to`, { min: from + 1, max: length, integer: true });
  const kinds: EpisodeKind[] = [];
  let drift: SegmentDrift | null = null;
  if (o.drift !== undefined) {
    drift = resolveDrift(o.drift, `${where}.drift`, to - from);
    kinds.push('drift');
  }
  let adversarial: ScenarioSegment['adversarial'] = null;
  if (o.adversarial !== undefined) {
    const a = asObject(o.adversarial, `${where}.adversarial`, '{ attack: fgsm, eps: 0.1, fraction: 0.5 }');
    const { fraction: f, ...rest } = a;
    const fraction = f === undefined ? 1 : num(f, `${where}.adversarial.fraction`, { min: 0, max: 1, minExclusive: true });
    const spec = parseAttackSpec(rest, `${where}.adversarial`);
    if (Array.isArray(spec.eps)) {
      if (spec.eps.length !== 1) throw new ConfigError(`'${where}.adversarial.eps' must be one number in a stream, got ${show(spec.eps)}`);
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

function resolveDrift(raw: unknown, where: string, len: number): SegmentDrift {
  const o = asObject(raw, where, '{ corruption: gaussian_noise, severity: 4 }');
  if (!('corruption' in o)) {
    const spec = parseDriftSpec(o, where);
    if ('shift' in spec && (spec.shift === 'prior' || spec.shift === 'subpopulation')) {
      throw new ConfigError(`'${where}.shift' '${spec.shift}' resamples or reweights items, which a stream does through its sampler; use corruption, mean, scale, noise, missing or quantize`);
    }
    return { spec, schedule: null };
  }
  checkKeys(o, ['corruption', 'severity'], where);
  const sw = `${where}.severity`;
  const sev = o.severity;
  let schedule: DriftSchedule;
  if (sev === undefined) throw new ConfigError(`'${sw}' is required: 1-5, or a schedule like { gradual: [1, 5] }`);
  if (typeof sev === 'number') {
    const s = num(sev, sw, { min: 1, max: 5, integer: true });
    schedule = { kind: 'abrupt', from: s, to: s, at: 0 };
  } else {
    const so = asObject(sev, sw, '3 or { gradual: [1, 5] } or { kind: recurring, from: 0, to: 4, period: 300 }');
    if ('kind' in so) schedule = parseSchedule(so, sw);
    else {
      const short = SHORTHANDS.filter((k) => k in so);
      if (short.length !== 1) throw new ConfigError(`'${sw}' must be a number 1-5 or one of { gradual: [a, b] }, { incremental: [a, b] }, { recurring: [a, b], period }, { abrupt: [a, b], at }, or { kind, ... }; got ${show(sev)}`);
      const k = short[0]!;
      const pair = so[k];
      if (!Array.isArray(pair) || pair.length !== 2) throw new ConfigError(`'${sw}.${k}' must be a pair [from, to] of severities 0-5, got ${show(pair)}`);
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
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(`'monitors' must be 'default' or a non-empty list like [{ type: ks, on: confidence }, adwin], got ${show(raw)}`);
  const names = new Set<string>();
  return raw.map((entry, i) => {
    const where = `monitors[${i}]`;
    const e = typeof entry === 'string' ? { type: entry } : asObject(entry, where, '{ type: ks, on: confidence, alpha: 0.0001 }');
    const spec = resolveMonitor(e, where);
    if (names.has(spec.name)) throw new ConfigError(`'${where}.name' '${spec.name}' is already used by another monitor; give each a unique name`);
    names.add(spec.name);
    return spec;
  });
}

/** Validates one monitor entry `{ type, name?, on?, dims?, ...options }`. */
export function resolveMonitor(e: Record<string, unknown>, where: string): MonitorSpec {
  const type = e.type;
  const mt = typeof type === 'string' ? getMonitorType(type) : undefined;
  if (!mt) throw new ConfigError(`'${where}.type' must be one of ${monitorTypeNames.join(', ')}, got ${show(type)}`);
  let on: string | null = null;
  if (mt.signals.length) on = e.on === undefined ? mt.signals[0]! : choice(e.on, `${where}.on`, mt.signals);
  else if (e.on !== undefined) throw new ConfigError(`'${where}.on' does not apply to '${mt.type}' (it is fed ${mt.feed === 'error' ? 'the delayed 0/1 error' : mt.feed === 'annotations' ? 'the arriving annotations' : 'squeeze scores'})`);
  let dims: number | null = null;
  if (on === 'input-projection') dims = e.dims === undefined ? 16 : num(e.dims, `${where}.dims`, { min: 1, max: 4096, integer: true });
  else if (e.dims !== undefined) throw new ConfigError(`'${where}.dims' applies only with 'on: input-projection'`);
  let name = on ? `${mt.type}-${on}` : mt.type;
  if (e.name !== undefined) {
    if (typeof e.name !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(e.name)) throw new ConfigError(`'${where}.name' must be 1-64 letters, digits or _.:-, got ${show(e.name)}`);
    name = e.name;
  }
  const options = resolveOptions(where, mt.defaults as Required<Record<string, unknown>>, mt.ranges, e, true, ['type', 'name', 'on', 'dims']);
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
  const dflt = { abstainBelow: 0.5, onAlert: [...MONITOR_KINDS] as MonitorKind[], hold: 200 };
  if (raw === undefined) return dflt;
  const o = asObject(raw, 'policy', '{ abstain_below: 0.5, on_alert: [drift, adversarial], hold: 200 }');
  checkKeys(o, ['abstain_below', 'on_alert', 'hold'], 'policy');
  const abstainBelow = opt(o, 'abstain_below', dflt.abstainBelow, (v, n) => num(v, n, { min: 0, max: 1 }), 'policy');
  const hold = opt(o, 'hold', dflt.hold, (v, n) => num(v, n, { min: 0, integer: true }), 'policy');
  let onAlert = dflt.onAlert;
  const v = o.on_alert;
  if (v === 'none' || v === false) onAlert = [];
  else if (v === 'all' || v === undefined) onAlert = dflt.onAlert;
  else if (Array.isArray(v)) onAlert = v.map((k, i) => choice(k, `policy.on_alert[${i}]`, MONITOR_KINDS));
  else throw new ConfigError(`'policy.on_alert' must be 'all', 'none' or a list of ${MONITOR_KINDS.join(', ')}, got ${show(v)}`);
  return { abstainBelow, onAlert, hold };
}

function resolveChallenger(raw: unknown, mode: 'shadow' | 'canary', baseDir: string): NonNullable<Scenario['challenger']> {
  const o = typeof raw === 'string' && mode === 'shadow' ? { model: raw } : asObject(raw, mode, mode === 'shadow' ? 'challenger.onnx or { model: challenger.onnx }' : '{ model: challenger.onnx, fraction: 0.1 }');
  checkKeys(o, mode === 'shadow' ? ['model', 'rule'] : ['model', 'fraction', 'rule'], mode);
  if (o.model === undefined) throw new ConfigError(`'${mode}.model' is required: the challenger's .onnx file`);
  const model = filePath(o.model, `${mode}.model`, baseDir);
  const fraction = mode === 'shadow' ? 1 : opt(o, 'fraction', 0.1, (v, n) => num(v, n, { min: 0, max: 1, minExclusive: true, maxExclusive: true }), mode);
  let rule = DEFAULT_RULE;
  if (o.rule !== undefined) {
    const w = `${mode}.rule`;
    const r = asObject(o.rule, w, '{ min_labelled: 200, max_accuracy_drop: 0.01, max_latency_ratio: 2 }');
    checkKeys(r, ['min_labelled', 'max_accuracy_drop', 'max_latency_ratio'], w);
    rule = {
      minLabelled: opt(r, 'min_labelled', DEFAULT_RULE.minLabelled, (v, n) => num(v, n, { min: 1, integer: true }), w),
      maxAccuracyDrop: opt(r, 'max_accuracy_drop', DEFAULT_RULE.maxAccuracyDrop, (v, n) => num(v, n, { min: -1, max: 1 }), w),
      maxLatencyRatio: opt(r, 'max_latency_ratio', DEFAULT_RULE.maxLatencyRatio, (v, n) => num(v, n, { min: 0, minExclusive: true }), w),
    };
  }
  return { mode, model, fraction, rule };
}

function resolveServing(raw: unknown): Scenario['serving'] {
  const dflt = { enabled: true, maxBatch: 32, maxWaitMs: 2 };
  if (raw === undefined || raw === true) return dflt;
  if (raw === false) return { ...dflt, enabled: false };
  const o = asObject(raw, 'serving', '{ max_batch: 32, max_wait_ms: 2 } or false');
  checkKeys(o, ['max_batch', 'max_wait_ms'], 'serving');
  return {
    enabled: true,
    maxBatch: opt(o, 'max_batch', dflt.maxBatch, (v, n) => num(v, n, { min: 1, max: 65536, integer: true }), 'serving'),
    maxWaitMs: opt(o, 'max_wait_ms', dflt.maxWaitMs, (v, n) => num(v, n, { min: 0, max: 60_000 }), 'serving'),
  };
}

function resolveEvaluation(raw: unknown): Scenario['evaluation'] {
  const dflt = { settle: 200, bucket: 50 };
  if (raw === undefined) return dflt;
  const o = asObject(raw, 'evaluation', '{ settle: 200, bucket: 50 }');
  checkKeys(o, ['settle', 'bucket'], 'evaluation');
  return {
    settle: opt(o, 'settle', dflt.settle, (v, n) => num(v, n, { min: 0, integer: true }), 'evaluation'),
    bucket: opt(o, 'bucket', dflt.bucket, (v, n) => num(v, n, { min: 1, integer: true }), 'evaluation'),
  };
}
