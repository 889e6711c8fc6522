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
  /**
   * Where gradients are taken. 'input' (default): at the data input. 'embedding': for a text
   * classifier whose data input holds integer token ids and goes first into an embedding lookup
   * (a Gather on a [V, D] float initializer), at the lookup's output — the ids are fed as usual,
   * attacks move the embeddings and project them back to the nearest vocabulary rows.
   */
  wrt?: 'input' | 'embedding';
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
  /**
   * The integer element type of a token-id data input, or null for a float32 input. The data
   * holds the ids as float32 values (exact up to 2^24); `foldIdsInput` casts them back in the graph.
   */
  ids?: 'int64' | 'int32' | null;
  /** Where gradients are taken (see `ModelDeclaration.wrt`); default 'input'. */
  wrt?: 'input' | 'embedding';
}

/** Checks a declaration against a model and fills in defaults. */
export function resolveDeclaration(model: ModelP, decl: ModelDeclaration = {}, label = 'model'): ResolvedDeclaration {
  const inputs = realInputs(model.graph);
  if (inputs.length === 0) throw new ModelError(`${label}: has no graph inputs`);
  const inputName = decl.inputName ?? inputs[0]!.name;
  const input = inputs.find((i) => i.name === inputName);
  if (!input) throw new UsageError(`'input' must be one of the graph inputs ${inputs.map((i) => i.name).join(', ')}, got ${inputName}`);
  const elem = valueElemType(input);
  const ids = elem === DataType.INT64 ? 'int64' : elem === DataType.INT32 ? 'int32' : null;
  if (elem !== DataType.FLOAT && !ids) throw new ModelError(`${label}: input ${inputName} is not float32; Gauntlet needs a float32 input (or int64/int32 token ids)`);
  const wrt = decl.wrt ?? 'input';
  if (wrt === 'embedding' && !ids) throw new UsageError(`'wrt: embedding' is for token-id inputs; ${label}: input ${inputName} is float32 (its gradient is taken at the input itself)`);
  if (ids && (decl.preprocess || decl.layout)) throw new UsageError(`${label}: input ${inputName} holds integer token ids; 'preprocess' and 'layout' apply to float inputs`);
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
  return { layout, bounds: [bounds[0], bounds[1]], boundsDeclared: decl.bounds !== undefined, preprocess, output, inputName, outputName, ids, wrt };
}

/**
 * Returns a copy of the model whose token-id input `inputName` (int64 or int32) takes float32
 * values, cast back to the integer type at the start of the graph, so that the ids travel through
 * Gauntlet's float32 batches like any input. The original model is not modified.
 */
export function foldIdsInput(model: ModelP, decl: ResolvedDeclaration): ModelP {
  if (!decl.ids) return model;
  const m = cloneModel(model);
  const g = m.graph;
  const b = new GraphBuilder(g, 'gauntlet_ids_');
  const inner = b.name('ids');
  for (const n of g.node) n.input = n.input.map((v) => (v === decl.inputName ? inner : v));
  if (g.output.some((o) => o.name === decl.inputName)) throw new ModelError('model passes its input straight to an output; cannot fold the token-id cast');
  const to = decl.ids === 'int64' ? DataType.INT64 : DataType.INT32;
  g.node = [{ op_type: 'Cast', input: [decl.inputName], output: [inner], attribute: [{ name: 'to', type: 2, i: to }], name: b.name('cast'), domain: '' }, ...g.node];
  const idx = g.input.findIndex((i) => i.name === decl.inputName);
  g.input[idx] = makeValueInfo(decl.inputName, DataType.FLOAT, valueShape(g.input[idx]));
  return m;
}

/** The embedding lookup a token-id input goes into first (see `findEmbedding`). */
export interface EmbeddingLookup {
  /** The Gather node's name and its output (the embeddings, [N, T, D]). */
  node: string;
  output: string;
  /** The [V, D] float initializer it reads. */
  table: string;
  vocab: number;
  dim: number;
}

/**
 * Finds the embedding lookup of a token-id input in a model prepared by `foldIdsInput`: the ids
 * (after the cast) must be read by exactly one node, a Gather (axis 0) on a [V, D] float32
 * initializer. Throws a one-line ModelError naming the input and what reads it otherwise.
 */
export function findEmbedding(model: ModelP, decl: ResolvedDeclaration, label: string): EmbeddingLookup {
  const g = model.graph;
  const cast = g.node.find((n) => n.op_type === 'Cast' && n.input[0] === decl.inputName && n.name?.startsWith('gauntlet_ids_'));
  const ids = cast ? cast.output[0]! : decl.inputName;
  const readers = g.node.filter((n) => n.input.includes(ids));
  const inits = new Map(g.initializer.map((t) => [t.name ?? '', t]));
  const describe = (n: (typeof readers)[number]): string => {
    const what = n.op_type === 'Gather' ? ` on '${n.input[0]}'${inits.has(n.input[0]!) ? ` [${(inits.get(n.input[0]!)!.dims ?? []).map(Number).join(', ')}]` : ' (not an initializer)'}` : '';
    return `${n.op_type}${what} (node ${n.name || 'unnamed'})`;
  };
  const fail = (found: string): never => {
    throw new ModelError(`${label}: 'wrt: embedding' needs the token-id input '${decl.inputName}' to go first into an embedding lookup (a Gather on a [V, D] float initializer); ${found}`);
  };
  if (readers.length === 0) fail('nothing reads it');
  if (readers.length > 1) fail(`it is read by ${readers.length} nodes: ${readers.map(describe).join(', ')}`);
  const n = readers[0]!;
  const table = inits.get(n.input[0] ?? '');
  const axis = Number(n.attribute.find((a) => a.name === 'axis')?.i ?? 0);
  const dims = (table?.dims ?? []).map(Number);
  if (n.op_type !== 'Gather' || n.input[1] !== ids || !table || table.data_type !== DataType.FLOAT || dims.length !== 2 || axis !== 0) {
    fail(`it goes into ${describe(n)}${n.op_type === 'Gather' && table && dims.length !== 2 ? ' (not a [V, D] table)' : n.op_type === 'Gather' && table && table.data_type !== DataType.FLOAT ? ' (not float32)' : ''}`);
  }
  return { node: n.name ?? '', output: n.output[0]!, table: table!.name!, vocab: dims[0]!, dim: dims[1]! };
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
