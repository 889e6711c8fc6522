import type { Dataset } from '../data/dataset.js';
import type { ResolvedDeclaration } from './declaration.js';
import type { OutputKind, PredictOptions, Predictions } from './model.js';

/**
 * What black-box code needs of a model: predictions for data-domain inputs, nothing else. The
 * local `Model` (ONNX Runtime) and `EndpointModel` (a deployed Open Inference Protocol or KServe
 * v1 server) both satisfy it. Code that needs gradients or the graph takes a `Model`.
 */
export interface Classifier {
  /** 'onnx' for a local model run in ONNX Runtime, 'endpoint' for a deployed one (black-box). */
  readonly source: 'onnx' | 'endpoint';
  readonly label: string;
  /** sha256 of the model file; for an endpoint, of its URL and metadata. */
  readonly sha256: string;
  readonly decl: ResolvedDeclaration;
  /** Expected data-domain item shape; strings are symbolic dims. Null when unknown. */
  readonly itemShape: (number | string)[] | null;
  /** Static batch dimension, or null when any batch size is accepted. */
  readonly fixedBatch: number | null;
  /** Number of classes when the model states it (graph or metadata), else null. */
  readonly numClasses: number | null;
  /** The output kind, once known (declared, or detected by the first prediction). */
  readonly outputKind: OutputKind | null;
  /** How the output kind was established. */
  readonly outputKindReason: string;
  /** Checks that a dataset fits the model's input (and, when given, its class count). */
  checkData(ds: Dataset, numClasses?: number): void;
  /** Runs the model on `n` items packed in `x`; returns raw outputs [n, K]. */
  predictBatch(x: Float32Array, n: number): Promise<{ scores: Float32Array; numClasses: number }>;
  /** Predicts a whole dataset in batches. */
  predict(ds: Dataset, opts?: PredictOptions): Promise<Predictions>;
  /** Predicts `n` items packed row-major in `x`, in batches. */
  predictItems(x: Float32Array, n: number, opts?: PredictOptions): Promise<Predictions>;
  close(): Promise<void>;
}
