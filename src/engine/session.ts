import ort from 'onnxruntime-node';
import { ModelError } from '../errors.js';
import { encodeModel, type ModelP } from '../onnx/proto.js';

export interface SessionOptions {
  /** Threads for one op (0 = ONNX Runtime's default, all cores). */
  threads?: number;
  /**
   * ORT's memory pattern (default on): after the first run, one block sized for every
   * intermediate tensor at once is planned and kept. Off, tensors come from the arena as ops run,
   * so buffers are reused: a training graph of the default CNN at batch 128 then holds ~115 MB
   * instead of ~230 MB, at the same step time (measured, alternating).
   */
  memPattern?: boolean;
}

/** Creates an ORT CPU session from a model object; ORT's own failures become ModelErrors. */
export async function createSession(model: ModelP | Uint8Array, label: string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.threads ?? 0,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      enableMemPattern: opts.memPattern ?? true,
    });
  } catch (e) {
    throw new ModelError(`${label}: ONNX Runtime cannot load it (${firstLine((e as Error).message)})`);
  }
}

/**
 * Time spent inside ONNX Runtime's `run()` by `runFloat` in this process (milliseconds) and the
 * number of runs: every model batch of predictions, attacks and explanations goes through it. A
 * campaign's compute floor is the difference of two readings around its cells — the ORT time of
 * the run's own batches — so outside load that slows the run slows its floor alike.
 */
export const ortClock = { ms: 0, runs: 0 };

/** Runs a session on one float32 input, returning the requested outputs as float32 arrays with dims. */
export async function runFloat(
  session: ort.InferenceSession,
  feeds: Record<string, { data: Float32Array | BigInt64Array | Int32Array; dims: readonly number[] }>,
  outputs: readonly string[],
  label: string,
): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) {
    const type = v.data instanceof Float32Array ? 'float32' : v.data instanceof BigInt64Array ? 'int64' : 'int32';
    ortFeeds[k] = new ort.Tensor(type, v.data, v.dims);
  }
  let res: ort.InferenceSession.OnnxValueMapType;
  const t0 = performance.now();
  try {
    res = await session.run(ortFeeds, outputs as string[]);
  } catch (e) {
    throw new ModelError(`${label}: inference failed (${firstLine((e as Error).message)})`);
  }
  ortClock.ms += performance.now() - t0;
  ortClock.runs++;
  const out: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const name of outputs) {
    const t = res[name]!;
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>, Number);
    out[name] = { data, dims: [...t.dims] };
  }
  return out;
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim()) ?? s;
}
