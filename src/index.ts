/**
 * Gauntlet's public API: the types and factories a user needs — open a model and data, evaluate,
 * take gradients, apply one stress kind (the adversarial, drift, annotation, explain, uncertainty and
 * stream namespaces), or run a campaign (whole, or one cell with `runCell`) and write its reports.
 * Helpers behind these (ONNX graph building and protobuf coding, gradient rules, arg-max rows) are
 * internal: import them from their modules. The library never prints or exits; it returns typed
 * results and throws typed errors (see errors.ts).
 */
export * from './errors.js';
export { Rng } from './rng.js';
export { defaultAssets } from './defaults.js';

export * from './data/index.js';

export { Model, type OpenModelOptions, type OutputKind, type PredictOptions, type Predictions } from './engine/model.js';
export type { ModelDeclaration } from './engine/declaration.js';
export type { Classifier } from './engine/classifier.js';
export { EndpointModel, parseEndpointUrl, type EndpointServing } from './endpoint/model.js';
export { EndpointError } from './endpoint/client.js';
export { openClassifier } from './endpoint/open.js';
export type { EndpointSpec } from './endpoint/options.js';
export { startServer, type ServeOptions, type RunningServer, type ModelMetadata } from './serve/server.js';
export { startMonitorProxy, type MonitorProxyOptions, type RunningMonitor, type MonitorAlert } from './monitor/proxy.js';
export { evaluate, type Evaluation } from './engine/evaluate.js';
export { classificationMetrics, toProbabilities, type ClassificationMetrics } from './metrics/classification.js';
export { LOWER_IS_BETTER, METRIC_NAMES, type MetricName, type MetricWithCi } from './metrics/suite.js';

export { readModelFile, summarizeModel, type ModelSummary } from './onnx/load.js';

export { GradientEngine, buildGradientModel, type GradientResult } from './autodiff/gradient.js';
export { LOSS_KINDS, type LossKind, type LossSpec } from './autodiff/loss.js';
export { GRADIENT_OPTIONS, MAXPOOL_TIES, type GradientOptions, type MaxpoolTies } from './autodiff/options.js';
export { gradcheck, type GradcheckResult } from './autodiff/gradcheck.js';

export * as adversarial from './stress/adversarial/index.js';
export * as drift from './stress/drift/index.js';
export * as annotation from './stress/annotation/index.js';
export * as explain from './explain/index.js';
export * as uncertainty from './uncertainty/index.js';
export * as stream from './stream/index.js';
export { loadConfig, resolveConfig, defaultConfig, type CampaignConfig } from './campaign/config.js';
export { makePlan } from './campaign/plan.js';
export { runCampaign, type CampaignEvent, type RunOptions } from './campaign/runner.js';
export { runCell, newCellCaches, CELL_HOOKS, type CellContext, type CellState, type CellHook } from './campaign/cell.js';
export type { CampaignResults, CellResult, Interaction, BudgetResult } from './campaign/types.js';
export { writeReports } from './report/index.js';
