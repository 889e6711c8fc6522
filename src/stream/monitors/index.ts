/**
 * The monitor registry: every monitor type a scenario may name, what it is fed, its option table,
 * and the default set. One class per file in this folder; the scenario schema and `gauntlet stream
 * --help` are driven by this list.
 */
import type { Rng } from '../../rng.js';
import { describeOptions, type OptionMap } from '../../options/schema.js';
import { defaultsOf } from '../options.js';
import { ITEM_SIGNALS, VECTOR_SIGNALS } from '../signals.js';
import type { Monitor, MonitorKind } from '../types.js';
import { ADWIN, ADWIN_OPTIONS } from './adwin.js';
import { AnnotationDisagreement, ANNOTATION_OPTIONS } from './annotation.js';
import { DDM, DDM_OPTIONS } from './ddm.js';
import { KSWindow, KS_OPTIONS } from './ks.js';
import { OnlineMMD, MMD_OPTIONS } from './mmd.js';
import { PageHinkley, PH_OPTIONS } from './page-hinkley.js';
import { PSIWindow, PSI_OPTIONS } from './psi.js';
import { SqueezeDetector, SQUEEZE_OPTIONS } from './squeeze.js';

export { ADWIN, type ADWINOptions } from './adwin.js';
export { AnnotationDisagreement, disputed, type AnnotationDisagreementOptions } from './annotation.js';
export { DDM, type DDMOptions } from './ddm.js';
export { KSWindow, ksCriticalValue, type KSWindowOptions } from './ks.js';
export { OnlineMMD, type OnlineMMDOptions } from './mmd.js';
export { PageHinkley, type PageHinkleyOptions } from './page-hinkley.js';
export { PSIWindow, type PSIWindowOptions } from './psi.js';
export { SqueezeDetector, squeezeBitDepth, squeezeMedian, type SqueezeDetectorOptions } from './squeeze.js';

/**
 * What a monitor is fed: `item` a number per item (`on`: a prediction or input signal), `vector` a
 * vector per item, `squeeze` the item's squeeze score, `error` 1/0 for a wrong/right prediction as
 * its label arrives, `annotations` the annotators' labels as they arrive.
 */
export type MonitorFeed = 'item' | 'vector' | 'squeeze' | 'error' | 'annotations';

export interface MonitorType {
  readonly type: string;
  readonly summary: string;
  readonly kind: MonitorKind;
  readonly feed: MonitorFeed;
  /** Allowed `on` values, the default first (empty: the feed fixes the signal). */
  readonly signals: readonly string[];
  /** Every option, declared once (snake_case keys in scenarios; camelCase for `create`). */
  readonly options: OptionMap;
  /** The options' defaults, camelCase keys. */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** Options whose value is a count of items that must be clean at the start of the stream. */
  readonly referenceOption: string | null;
  create(options: Record<string, unknown>, rng: Rng): Monitor<never>;
}

function entry<O extends object>(
  type: string,
  summary: string,
  feed: MonitorFeed,
  signals: readonly string[],
  options: OptionMap,
  referenceOption: string | null,
  create: (o: O, rng: Rng) => Monitor<never>,
): MonitorType {
  const defaults = defaultsOf(options);
  return {
    type,
    summary,
    kind: defaults.kind as MonitorKind,
    feed,
    signals,
    options,
    defaults,
    referenceOption,
    create: (o, rng) => create(o as O, rng),
  };
}

/** Every monitor type, in the order `--help` lists them. */
export const monitorTypes: readonly MonitorType[] = [
  entry('ks', 'windowed Kolmogorov-Smirnov test against a reference window', 'item', ITEM_SIGNALS, KS_OPTIONS, 'reference', (o) => new KSWindow(o) as Monitor<never>),
  entry('psi', 'windowed population stability index against a reference window', 'item', ITEM_SIGNALS, PSI_OPTIONS, 'reference', (o) => new PSIWindow(o) as Monitor<never>),
  entry('mmd', 'online MMD (RBF kernel) with a permutation threshold from the reference', 'vector', VECTOR_SIGNALS, MMD_OPTIONS, 'reference', (o, rng) => new OnlineMMD(o, rng) as Monitor<never>),
  entry('adwin', 'ADWIN adaptive window on the delayed 0/1 error', 'error', [], ADWIN_OPTIONS, null, (o) => new ADWIN(o) as Monitor<never>),
  entry('page-hinkley', 'Page-Hinkley test for a rise of the delayed error rate', 'error', [], PH_OPTIONS, null, (o) => new PageHinkley(o) as Monitor<never>),
  entry('ddm', 'DDM drift detection method on the delayed 0/1 error', 'error', [], DDM_OPTIONS, null, (o) => new DDM(o) as Monitor<never>),
  entry('squeeze', 'feature squeezing: rate of items whose prediction moves under bit-depth reduction', 'squeeze', [], SQUEEZE_OPTIONS, 'reference', (o) => new SqueezeDetector(o) as Monitor<never>),
  entry('annotation-disagreement', 'rate of items whose annotators disagree, as labels arrive', 'annotations', [], ANNOTATION_OPTIONS, 'reference', (o) => new AnnotationDisagreement(o) as Monitor<never>),
];

export const monitorTypeNames: readonly string[] = monitorTypes.map((m) => m.type);

export function getMonitorType(type: string): MonitorType | undefined {
  return monitorTypes.find((m) => m.type === type);
}

/** A monitor entry of the default set: type, signal and name (options are the type's defaults). */
export interface DefaultMonitor {
  readonly type: string;
  readonly on?: string;
  readonly [option: string]: unknown;
}

/**
 * The default set (`monitors: default`): KS on confidence and on an input statistic (total
 * variation for images, standard deviation otherwise), PSI on confidence, MMD on the probability
 * vector, ADWIN (alerting on a rise of the error rate only), Page–Hinkley, DDM, feature squeezing,
 * annotator disagreement — each with its type's default options.
 */
export function defaultMonitorList(image: boolean): DefaultMonitor[] {
  return [
    { type: 'ks', on: 'confidence' },
    ...(image ? [{ type: 'ks', on: 'input-tv' }] : [{ type: 'ks', on: 'input-std' }]),
    { type: 'psi', on: 'confidence' },
    { type: 'mmd', on: 'probabilities' },
    { type: 'adwin', direction: 'up' },
    { type: 'page-hinkley' },
    { type: 'ddm' },
    { type: 'squeeze' },
    { type: 'annotation-disagreement' },
  ];
}

/** Help lines: each type with its feed, signals and options. */
export function describeMonitorTypes(): string {
  return monitorTypes
    .map((m) => {
      const on = m.signals.length ? `  on: ${m.signals.join(' | ')} (default ${m.signals[0]})` : '';
      const opts = describeOptions(m.options)
        .filter((o) => o.key !== 'kind')
        .map((o) => `${o.key} ${o.expected.replace(/^an? (integer|number) in /, '')}, default ${o.default}`);
      return `  ${m.type.padEnd(24)} ${m.summary} [${m.kind}]\n${on ? `  ${on}\n` : ''}      ${opts.join('; ')}`;
    })
    .join('\n');
}
