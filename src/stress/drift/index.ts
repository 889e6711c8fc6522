/**
 * Distribution shift: image corruptions of the ImageNet-C family (Hendrycks & Dietterich 2019),
 * tabular / general shifts (covariate, missingness, quantisation, subpopulation, label shift),
 * measured shift magnitude (KS, PSI, MMD), drift schedules for streams, the corruption error summary
 * (mCE), and gallery PNGs. The campaign calls `parseDriftSpec` and `applyDrift`.
 */
export { SEVERITIES, type BatchShape, type Corruption, type Severity } from './types.js';
export { SMALL_IMAGE_MAX_SIDE, type SeverityTable } from './base.js';
export {
  corruptions,
  corruptionNames,
  getCorruption,
  shifts,
  shiftNames,
  getShift,
  type ShiftSpec,
  type MeanShiftSpec,
  type ScaleShiftSpec,
  type NoiseShiftSpec,
  type MissingShiftSpec,
  type QuantizeShiftSpec,
  type SubpopulationShiftSpec,
  type PriorShiftSpec,
} from './registry.js';
export { parseDriftSpec, applyDrift, startShift, describeSpec, imageBatchShape, CORRUPTION_OPTIONS, corruptionOptions, type DriftSpec, type CorruptionSpec, type DriftResult } from './spec.js';
export type { ShiftKind, FeatureRef, ShiftData, ShiftPass, ShiftStream } from './shift/common.js';
export { dropValues } from './shift/missing.js';
export { targetCounts } from './shift/prior.js';
export {
  ksStatistic,
  ksPValue,
  psi,
  featureDistances,
  mmdTest,
  mmdPickedRows,
  standardisedMmd,
  datasetDistances,
  MMD_UNITS,
  MMD_MAX_PER_SIDE,
  MMD_PERMUTATIONS,
  PSI_BINS,
  PSI_EPSILON,
  type FeatureDistance,
  type MmdResult,
  type MmdOptions,
  type MmdUnits,
  type ShiftDistances,
} from './distance.js';
export { SCHEDULE_KINDS, SCHEDULE_OPTIONS, parseSchedule, severityAt, driftProbabilityAt, sampleSchedule, type DriftSchedule, type ScheduleKind } from './schedule.js';
export {
  summarizeCorruptionErrors,
  type CorruptionErrors,
  type ErrorRun,
  type CorruptionSummary,
  type CorruptionSummaryRow,
} from './summary.js';
export { renderGallery, writeGalleryPng, corruptionGallery, type GalleryColumn, type GalleryOptions } from './gallery.js';
export { jpegRoundTrip } from './jpeg.js';
