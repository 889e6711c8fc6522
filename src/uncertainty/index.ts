/** Uncertainty under stress: temperature scaling, ensembles, MC dropout, conformal sets, selective prediction. */
export { calibrationSplit, type CalibrationSplit } from './split.js';
export { predictProbabilities, pickRows, type ProbabilityTable } from './probs.js';
export { uncertaintyScores, entropyRows, decomposeUncertainty, type UncertaintyScores, type UncertaintyDecomposition } from './scores.js';
export { fitTemperature, applyTemperature, temperatureEffect, type TemperatureFit, type TemperatureFitOptions, type CalibrationFigures } from './temperature.js';
export { foldTemperature } from './fold.js';
export { combineMembers, predictEnsemble, type EnsembleResult } from './ensemble.js';
export { mcDropoutGraph, McDropout, mcDropoutPredict, type DropoutSite, type McDropoutResult, type McDropoutOptions } from './mc-dropout.js';
export {
  calibrateConformal,
  conformalScores,
  predictionSets,
  conformalReport,
  CONFORMAL_SCORES,
  type ConformalScore,
  type ConformalOptions,
  type ConformalCalibration,
  type PredictionSets,
  type ConformalReport,
} from './conformal.js';
export { riskCoverageCurve, fitSelectiveThreshold, selectiveAt, selectiveItems, type RiskCoverageCurve, type SelectiveOutcome } from './selective.js';
export { parseUncertaintySpec, type UncertaintySpec } from './spec.js';
export {
  prepareUncertainty,
  uncertaintyCell,
  uncertaintyContextSummary,
  type UncertaintyItems,
  type UncertaintyCellInput,
  type UncertaintyContext,
  type UncertaintyCellSummary,
  type UncertaintyContextSummary,
  type PrepareUncertaintyOptions,
} from './campaign.js';
