import { ModelError, UsageError } from '../errors.js';
import { GraphBuilder } from '../onnx/builder.js';
import { realInputs, valueShape, makeValueInfo, valueElemType } from '../onnx/graph.js';
import { makeTensor } from '../onnx/tensor.js';
import { cloneModel, DataType, type ModelP } from '../onnx/proto.js';

/**
 * How a model sees the data domain. Everything Gauntlet does to inputs (ε-balls, corruptions,
 * clipping) happens in the data domain; preprocessing is folded into the graph so that gradients
 * flow through it and an ε means the same thing for every model.
 */
export interface ModelDeclaration {
  /** Input layout the model expects. Data-domain images are always NCHW. Default: NCHW for rank-4 inputs. */
  layout?: 'NCHW' | 'NHWC';
  /** Data-domain bounds [low, high]. Default [0, 1]. */
  bounds?: [number, number];
  /** Preprocessing the model expects after the data domain: x_model = (x · scale − mean) / std, per channel. */
  preprocess?: { scale?: number; mean?: number[]; std?: number[] };
  /**
   * What the model outputs; 'auto' (default) detects it from the first batch. 'sigmoid': one
   * column (or a vector) holding the probability p of class 1 of a binary classifier, read as the
   * two classes [1 − p, p]. A one-column output declared 'logits' is a binary logit z, read as
   * the logits [0, z]; one declared 'probabilities' is read as 'sigmoid'.
   */
  output?: 'logits' | 'probabilities' | 'sigmoid' | 'auto';
  /** Which graph input / output to use when the model has several. Default: the first. */
  inputName?: string;
  outputName?: string;
  /**
   * A config's `output:` value that is also an output kind ('logits', 'probabilities', 'auto'):
   * the graph output of that name when the model has one, else (the pre-0.2 meaning) the kind.
   */
  outputNameOrKind?: string;
  /**
   * Values of the graph inputs besides the data input, fed on every batch: 'zeros' (of the
   * input's shape, its batch dim the data's), a number (filling the input's static shape), or a
   * .npy file ({ npy: path }). They are folded into the graph as constants (`foldExtraInputs`).
   */
  extraInputs?: Record<string, 'zeros' | number | { npy: string }>;
}

export interface ResolvedDeclaration {
  layout: 'NCHW' | 'NHWC' | 'flat';
  bounds: [number, number];
  /** True when the bounds were declared (not the [0, 1] default). */
  boundsDeclared: boolean;
  preprocess: { scale: number; mean: number[] | null; std: number[] | null } | null;
  output: 'logits' | 'probabilities' | 'sigmoid' | 'auto';
  inputName: string;
  outputName: string;
}

/** Checks a declaration against a model and fills in defaults. */
export function resolveDeclaration(model: ModelP, decl: ModelDeclaration = {}, label = 'model'): ResolvedDeclaration {
  const inputs = realInputs(model.graph);
  if (inputs.length === 0) throw new ModelError(`${label}: has no graph inputs`);
  const inputName = decl.inputName ?? inputs[0]!.name;
  const input = inputs.find((i) => i.name === inputName);
  if (!input) throw new UsageError(`'input' must be one of the graph inputs ${inputs.map((i) => i.name).join(', ')}, got ${inputName}`);
  if (valueElemType(input) !== DataType.FLOAT) throw new ModelError(`${label}: input ${inputName} is not float32; Gauntlet needs a float32 input`);
  let outputName = decl.outputName ?? model.graph.output[0]!.name;
  let output = decl.output ?? 'auto';
  if (decl.outputNameOrKind !== undefined) {
    if (model.graph.output.some((o) => o.name === decl.outputNameOrKind)) outputName = decl.outputNameOrKind;
    else output = decl.outputNameOrKind as ResolvedDeclaration['output'];
  }
  if (!model.graph.output.some((o) => o.name === outputName)) {
    throw new UsageError(`'output' must be one of the graph outputs ${model.graph.output.map((o) => o.name).join(', ')}, got ${outputName}`);
  }
  const rank = valueShape(input)?.length ?? 0;
  const layout = decl.layout ?? (rank === 4 ? 'NCHW' : 'flat');
  if (decl.layout && rank !== 4) throw new UsageError(`'layout' applies to rank-4 image inputs; input ${inputName} has rank ${rank}`);
  const bounds = decl.bounds ?? [0, 1];
  if (!(bounds.length === 2 && Number.isFinite(bounds[0]) && Number.isFinite(bounds[1]) && bounds[0] < bounds[1])) {
    throw new UsageError(`'bounds' must be [low, high] with low < high, got ${JSON.stringify(decl.bounds)}`);
  }
  let preprocess: ResolvedDeclaration['preprocess'] = null;
  if (decl.preprocess) {
    const { scale = 1, mean, std } = decl.preprocess;
    if (!(Number.isFinite(scale) && scale !== 0)) throw new UsageError(`'preprocess.scale' must be a finite non-zero number, got ${scale}`);
    if (std && std.some((s) => !(s > 0))) throw new UsageError(`'preprocess.std' values must be > 0, got ${JSON.stringify(std)}`);
    if (mean && std && mean.length !== std.length) throw new UsageError(`'preprocess.mean' and 'preprocess.std' must have the same length`);
    const dims = valueShape(input);
    const ch = dims && dims.length === 4 ? dims[layout === 'NHWC' ? 3 : 1] : dims && dims.length === 2 ? dims[1] : undefined;
    for (const [key, v] of [['mean', mean], ['std', std]] as const) {
      if (v && typeof ch === 'number' && ch > 0 && v.length !== 1 && v.length !== ch) {
        throw new UsageError(`'preprocess.${key}' has ${v.length} values, but input ${inputName} has ${ch} ${dims!.length === 4 ? 'channels' : 'features'} (${layout}); give ${ch} values, or one for all`);
      }
    }
    preprocess = { scale, mean: mean ?? null, std: std ?? null };
  }
  return { layout, bounds: [bounds[0], bounds[1]], boundsDeclared: decl.bounds !== undefined, preprocess, output, inputName, outputName };
}

/**
 * Returns a copy of the model whose input `inputName` takes data-domain values (NCHW for images)
 * and applies the declared preprocessing and layout change inside the graph. Graph outputs other
 * than `outputName` are kept. The original model is not modified.
 */
export function foldPreprocessing(model: ModelP, decl: ResolvedDeclaration): ModelP {
  if (!decl.preprocess && decl.layout !== 'NHWC') return model;
  const m = cloneModel(model);
  const g = m.graph;
  const b = new GraphBuilder(g, 'gauntlet_pre_');
  const input = g.input.find((i) => i.name === decl.inputName)!;
  const shape = valueShape(input);
  let cur = decl.inputName;
  // Data domain is NCHW; per-channel constants broadcast as [1, C, 1, 1] (rank 4) or [C] (flat).
  const chShape = (c: number): number[] => (shape && shape.length === 4 ? [1, c, 1, 1] : [c]);
  if (decl.preprocess) {
    const { scale, mean, std } = decl.preprocess;
    if (scale !== 1) cur = b.op('Mul', [cur, b.scalarF(scale)], {}, 'scale');
    if (mean) cur = b.op('Sub', [cur, b.constF(mean, chShape(mean.length), 'mean')], {}, 'center');
    if (std) cur = b.op('Div', [cur, b.constF(std, chShape(std.length), 'std')], {}, 'standardize');
  }
  if (decl.layout === 'NHWC') cur = b.op('Transpose', [cur], { perm: [0, 2, 3, 1] }, 'to_nhwc');
  // Rewire every consumer of the original input to the preprocessed value.
  const inner = b.name('model_input');
  for (const n of g.node) n.input = n.input.map((v) => (v === decl.inputName ? inner : v));
  for (const o of g.output) if (o.name === decl.inputName) throw new ModelError('model passes its input straight to an output; cannot fold preprocessing');
  b.nodes.push({ op_type: 'Identity', input: [cur], output: [inner], attribute: [], name: b.name('pre_out'), domain: '' });
  g.node = [...b.nodes, ...g.node];
  g.initializer = [...g.initializer, ...b.initializers];
  if (decl.layout === 'NHWC' && shape) {
    const [n, h, w, c] = shape;
    const idx = g.input.indexOf(input);
    g.input[idx] = makeValueInfo(decl.inputName, DataType.FLOAT, [n!, c!, h!, w!]);
  }
  return m;
}

/**
 * Returns a copy of the model in which each declared extra input is a constant of the graph: a
 * number fills the input's static shape, a .npy file gives its own values (its shape must fit the
 * input's), 'zeros' are zeros of the input's shape, a symbolic dim named like the data input's
 * batch dim taking the batch size (computed from the data input's shape, so the values stay
 * independent of the data: an If on a declared sample rate takes one branch). Elements take the
 * input's type (float32, float64, int64, int32, bool).
 */
export function foldExtraInputs(model: ModelP, decl: ModelDeclaration, dataInput: string, label: string, readNpyFile: (file: string) => { shape: readonly number[]; data: ArrayLike<number | bigint> }): ModelP {
  const extra = decl.extraInputs;
  if (!extra || Object.keys(extra).length === 0) return model;
  const inputs = realInputs(model.graph);
  for (const name of Object.keys(extra)) {
    if (name === dataInput) throw new UsageError(`'inputs.${name}' is the data input; 'inputs' gives values to the other graph inputs`);
    if (!inputs.some((i) => i.name === name)) throw new UsageError(`'inputs.${name}': ${label} has no graph input named '${name}' (inputs: ${inputs.map((i) => i.name).join(', ')})`);
  }
  const m = cloneModel(model);
  const g = m.graph;
  const b = new GraphBuilder(g, 'gauntlet_in_');
  const batchDim = valueShape(g.input.find((i) => i.name === dataInput))?.[0];
  for (const [name, v] of Object.entries(extra)) {
    const vi = g.input.find((i) => i.name === name)!;
    const elem = valueElemType(vi) ?? DataType.FLOAT;
    const shape = valueShape(vi);
    const typed = (n: number, fill: (i: number) => number | bigint) => {
      if (elem === DataType.FLOAT) return Float32Array.from({ length: n }, (_, i) => Number(fill(i)));
      if (elem === DataType.DOUBLE) return Float64Array.from({ length: n }, (_, i) => Number(fill(i)));
      if (elem === DataType.INT64) return BigInt64Array.from({ length: n }, (_, i) => BigInt(Math.round(Number(fill(i)))));
      if (elem === DataType.INT32) return Int32Array.from({ length: n }, (_, i) => Math.round(Number(fill(i))));
      if (elem === DataType.BOOL) return Uint8Array.from({ length: n }, (_, i) => (Number(fill(i)) !== 0 ? 1 : 0));
      throw new ModelError(`${label}: input ${name} has element type ${elem}; 'inputs' feeds float, int32, int64 and bool inputs`);
    };
    const asTensor = (dims: number[], data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array) => {
      const t = makeTensor(name, dims, data);
      if (elem === DataType.BOOL) t.data_type = DataType.BOOL;
      g.initializer.push(t);
    };
    if (v === 'zeros' && shape && shape.some((d) => typeof d !== 'number')) {
      const bad = shape.filter((d) => typeof d !== 'number' && d !== batchDim);
      if (bad.length > 0) throw new ModelError(`${label}: input ${name} [${shape.join(', ')}] has symbolic dims (${bad.join(', ')}) other than the batch dim; give its value as a .npy file`);
      // Zeros of a shape whose batch dims come from the data input's shape.
      const parts = shape.map((d) => (typeof d === 'number' ? b.constI64([d]) : b.op('Slice', [b.op('Shape', [dataInput], {}, 'data_shape'), b.constI64([0]), b.constI64([1])], {}, 'batch')));
      const dims = b.op('Concat', parts, { axis: 0 }, 'zeros_shape');
      const zero = makeTensor('value', [1], typed(1, () => 0));
      if (elem === DataType.BOOL) zero.data_type = DataType.BOOL;
      b.nodes.push({ op_type: 'ConstantOfShape', input: [dims], output: [name], attribute: [{ name: 'value', type: 4, t: zero }], name: b.name(`${name}_zeros`), domain: '' });
    } else if (v === 'zeros' || typeof v === 'number') {
      if (!shape || shape.some((d) => typeof d !== 'number')) throw new ModelError(`${label}: input ${name} has no static shape; give its value as a .npy file`);
      const dims = shape as number[];
      asTensor(dims, typed(dims.reduce((a, c) => a * c, 1), () => (v === 'zeros' ? 0 : v)));
    } else {
      const arr = readNpyFile(v.npy);
      const dims = [...arr.shape];
      if (shape && (shape.length !== dims.length || shape.some((d, i) => typeof d === 'number' && d !== dims[i]))) {
        throw new UsageError(`'inputs.${name}': ${v.npy} has shape [${dims.join(', ')}] but input ${name} is [${shape.join(', ')}]`);
      }
      asTensor(dims, typed(dims.reduce((a, c) => a * c, 1), (i) => arr.data[i]!));
    }
    g.input = g.input.filter((i) => i.name !== name);
  }
  g.node = [...b.nodes, ...g.node];
  g.initializer = [...g.initializer, ...b.initializers];
  return m;
}

/** The graph output a binary head adds: [N, 2] scores of a one-column classifier. */
export const BINARY_OUTPUT = 'gauntlet_binary_scores';

/**
 * Returns a copy of the model with an output `BINARY_OUTPUT` [N, 2] built from the one-column
 * (or vector) output `outputName`: [1 − p, p] for a sigmoid probability ('sigmoid'), [0, z] for a
 * binary logit ('logit', whose softmax is [1 − σ(z), σ(z)]). Gradients flow through it.
 */
export function foldBinaryHead(model: ModelP, outputName: string, head: 'sigmoid' | 'logit'): ModelP {
  const m = cloneModel(model);
  const g = m.graph;
  const b = new GraphBuilder(g, 'gauntlet_bin_');
  const col = b.op('Reshape', [outputName, b.constI64([-1, 1])], {}, 'column');
  const other = head === 'sigmoid' ? b.op('Sub', [b.scalarF(1), col], {}, 'complement') : b.op('Mul', [col, b.scalarF(0)], {}, 'zero_logit');
  b.nodes.push({ op_type: 'Concat', input: [other, col], output: [BINARY_OUTPUT], attribute: [{ name: 'axis', type: 2, i: 1 }], name: b.name('two_classes'), domain: '' });
  g.node = [...g.node, ...b.nodes];
  g.initializer = [...g.initializer, ...b.initializers];
  g.output = [...g.output, makeValueInfo(BINARY_OUTPUT, DataType.FLOAT, null)];
  return m;
}

/** Whether a value's static shape is one column ([N, 1]) or a vector ([N]). */
export function isOneColumn(shape: (number | string)[] | null): boolean {
  return shape !== null && (shape.length === 1 || (shape.length === 2 && shape[1] === 1));
}

/** The data-domain item shape the model expects (without the batch dim), or null if symbolic. */
export function expectedItemShape(model: ModelP, decl: ResolvedDeclaration): (number | string)[] | null {
  const input = model.graph.input.find((i) => i.name === decl.inputName)!;
  const shape = valueShape(input);
  if (!shape || shape.length === 0) return null;
  const item = shape.slice(1);
  if (decl.layout === 'NHWC') return [item[2]!, item[0]!, item[1]!];
  return item;
}
