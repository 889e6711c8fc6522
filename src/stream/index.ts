/**
 * Deployment-aware stress: replay a stream through a model with drift episodes, adversarial bursts
 * and labelling trouble, watch it with streaming monitors, defer when unsure, compare a shadow or
 * canary challenger, and score the monitors against the ground truth.
 *
 * Example:
 *   const result = await runStream(loadScenario('stream.yaml'));
 *   result.episodes.map((e) => e.delay);   // detection delay per episode (null: missed)
 *   writeStreamRun(result, 'gauntlet-stream');
 *
 * The monitors work on their own, River-style:
 *   const adwin = new ADWIN();
 *   for (const err of errors) if (adwin.update(err).driftDetected) alert();
 */
export { MONITOR_KINDS, type Monitor, type MonitorKind } from './types.js';
export * from './monitors/index.js';
export { binomialCriticalCount } from './binomial.js';
export { resolveOptions, defaultsOf } from './options.js';
export { ITEM_SIGNALS, VECTOR_SIGNALS, predictionSignals, inputSignals, RandomProjection, type ItemSignal, type VectorSignal } from './signals.js';
export {
  loadScenario,
  resolveScenario,
  defaultScenario,
  scenarioMonitors,
  resolveMonitor,
  EPISODE_KINDS,
  DEFAULT_ANNOTATION,
  DEFAULT_RULE,
  type Scenario,
  type ScenarioSegment,
  type SegmentDrift,
  type MonitorSpec,
  type PromotionRule,
  type EpisodeKind,
} from './scenario.js';
export { evaluateMonitors, type StreamAlert, type MonitorInfo, type Detection, type EpisodeResult, type MonitorEvaluation } from './evaluate.js';
export { ServingSimulator, percentile } from './serving.js';
export {
  runStream,
  type RunStreamOptions,
  type StreamResult,
  type EpisodeReport,
  type EpisodeStats,
  type Timeline,
  type LatencySummary,
  type ChallengerSummary,
  type PolicySummary,
} from './simulate.js';
export { renderTimeline } from './timeline.js';
export { writeStreamRun, streamEvents, STREAM_FILES } from './output.js';
