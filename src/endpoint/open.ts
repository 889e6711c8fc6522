import { Model } from '../engine/model.js';
import type { ModelRef } from '../options/declarations.js';
import { EndpointModel } from './model.js';
import { isEndpointUrl } from './options.js';

/**
 * Opens a declared model for black-box use: an ONNX file in ONNX Runtime, or a deployed model
 * (`path`/`endpoint` an http(s) URL) as an EndpointModel. Callers that need gradients or the graph
 * use `Model.open` and refuse endpoints (see `isEndpointRef`).
 */
export async function openClassifier(ref: ModelRef, opts: { threads?: number } = {}): Promise<Model | EndpointModel> {
  const { path, endpoint, ...decl } = ref;
  if (endpoint || isEndpointUrl(path)) return EndpointModel.open(endpoint ?? { url: path }, decl);
  return Model.open(path, { ...decl, threads: opts.threads });
}

/** True when a declared model is a deployed endpoint (a black-box model). */
export function isEndpointRef(ref: { path: string; endpoint?: unknown }): boolean {
  return ref.endpoint !== undefined || isEndpointUrl(ref.path);
}
