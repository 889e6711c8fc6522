import { UnsupportedOpError } from '../errors.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { AttrValue } from '../onnx/graph.js';
import { DataType, type NodeP } from '../onnx/proto.js';
import { makeTensor } from '../onnx/tensor.js';
import type { MaxpoolTies } from './options.js';

/**
 * What a vector–Jacobian rule sees: its node, the gradients of the node's outputs, which inputs
 * need a gradient, the concrete shapes from the probe run, and opset-aware emit helpers. A rule
 * returns one gradient value name (or null) per node input.
 */
export interface GradContext {
  readonly node: NodeP;
  readonly b: GraphBuilder;
  /** Opset-aware emit helpers (ReduceSum, Unsqueeze, unbroadcast, …). */
  readonly e: Emit;
  readonly opset: number;
  /** Gradient of each node output, or null where none flows. */
  readonly gy: readonly (string | null)[];
  /** Whether each node input needs a gradient. */
  readonly needs: readonly boolean[];
  /** Concrete shape of a value (from the probe run). */
  shape(value: string): number[];
  /** Values of a small integer tensor that does not depend on the data (constants, shapes), else undefined. */
  staticInts(value: string | undefined): number[] | undefined;
  /** Values of a constant float tensor (initializer or Constant), else undefined. */
  constFloats(value: string | undefined): Float32Array | Float64Array | undefined;
  /**
   * Name of the node's forward output `index`, adding it to the forward node when the model did
   * not ask for it (e.g. MaxPool's Indices). The forward result is unchanged.
   */
  forwardOutput(index: number, hint: string): string;
  /** The node that produces a value (undefined for graph inputs and initializers). */
  producer(value: string): NodeP | undefined;
  /** How many nodes consume a value (graph outputs count as consumers). */
  consumers(value: string): number;
  /**
   * Peephole for chains like Relu → MaxPool or Conv → Relu → MaxPool: `chain` lists the nodes
   * that feed the current node, nearest first (each feeding the one before it). The rule hands in
   * the gradient of the last one's first input directly (having applied the chain's Jacobians
   * itself, more cheaply), and the walk skips every node of the chain. Only valid when each
   * chain node's output feeds nothing but the next node towards the current one.
   */
  bypass(chain: readonly NodeP[], inputGrad: string): void;
  /**
   * Marks nodes whose Jacobians the current rule has applied itself (e.g. the Sigmoid of
   * x·Sigmoid(x)): the walk skips them, and the rule returns no gradient for the inputs they
   * make. Same condition as `bypass`: each one's output feeds only the current node's chain.
   */
  skip(nodes: readonly NodeP[]): void;
  /** The model's float element type name. */
  readonly floatType: 'float32' | 'float64';
  /** MaxPool's tie rule: the window's first maximum (PyTorch) or equal shares (`GRADIENT_OPTIONS`). */
  readonly maxpoolTies: MaxpoolTies;
}

export type Rule = (ctx: GradContext) => (string | null)[];

/**
/**
 * Throws the UnsupportedOpError for a node whose rule does not cover what the node asks for (an
 * attribute, a geometry, a data-dependent input), naming the node and `reason`. The walk gathers
 * these from every node and throws them together; callers with a black-box fallback catch them.
 * With `input` (an index into the node's inputs), the error also names that input: one that needs
 * a gradient the rule has no rule for (a data-dependent exponent, a BatchNorm running statistic).
 */
export function unsupported(node: NodeP, reason: string, input?: number): never {
  const named = input === undefined ? {} : { input: node.input[input] || `#${input}` };
  throw new UnsupportedOpError([{ opType: node.op_type, nodeName: node.name ?? '', ...named, reason }]);
}

/** Emit helpers that pick the right form for the model's opset (attributes before 13/18, inputs after). */
export class Emit {
  constructor(readonly b: GraphBuilder, readonly opset: number) {}

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, hint = opType): string {
    return this.b.op(opType, inputs, attrs, hint);
  }

  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    if (this.opset >= 13) return this.b.op('ReduceSum', [x, this.b.constI64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.b.op('ReduceSum', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  reduceMean(x: string, axes: number[], keepdims: boolean): string {
    if (this.opset >= 18) return this.b.op('ReduceMean', [x, this.b.constI64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.b.op('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  reduceMax(x: string, axes: number[], keepdims: boolean): string {
    if (this.opset >= 18) return this.b.op('ReduceMax', [x, this.b.constI64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.b.op('ReduceMax', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  unsqueeze(x: string, axes: number[]): string {
    if (this.opset >= 13) return this.b.op('Unsqueeze', [x, this.b.constI64(axes)]);
    return this.b.op('Unsqueeze', [x], { axes });
  }

  squeeze(x: string, axes: number[]): string {
    if (this.opset >= 13) return this.b.op('Squeeze', [x, this.b.constI64(axes)]);
    return this.b.op('Squeeze', [x], { axes });
  }

  reshape(x: string, shape: readonly number[]): string {
    return this.b.op('Reshape', [x, this.b.constI64([...shape])]);
  }

  transpose(x: string, perm: number[]): string {
    if (perm.every((p, i) => p === i)) return x;
    return this.b.op('Transpose', [x], { perm });
  }

  /** Slice along axes with static starts/ends/steps. */
  slice(x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
    const ins = [x, this.b.constI64(starts), this.b.constI64(ends), this.b.constI64(axes)];
    if (steps) ins.push(this.b.constI64(steps));
    return this.b.op('Slice', ins);
  }

  /** Constant-pads with static per-axis [begins..., ends...]. */
  padZeros(x: string, pads: number[]): string {
    if (pads.every((p) => p === 0)) return x;
    return this.b.op('Pad', [x, this.b.constI64(pads)], { mode: 'constant' });
  }

  /** A tensor of zeros of the given shape and the graph's float type. */
  zeros(shape: readonly number[], floatType: 'float32' | 'float64'): string {
    const value = floatType === 'float64' ? makeTensor('value', [1], new Float64Array([0])) : makeTensor('value', [1], new Float32Array([0]));
    return this.b.op('ConstantOfShape', [this.b.constI64([...shape])], { value }, 'zeros');
  }

  /**
   * Y > 0 for a Relu's output Y (never negative), as Cast(Y → bool): nonzero is true. Half the
   * time of Greater(Y, 0), which ORT runs on a generic broadcast (ResNet-18's Relu masks: 3.4 ms
   * as Greater, under 1.2 ms as this Cast). A NaN is nonzero: its gradient passes, as in PyTorch's
   * threshold_backward.
   */
  positive(y: string): string {
    return this.b.op('Cast', [y], { to: DataType.BOOL }, 'positive');
  }

  /**
   * g where `cond` holds, else zero, as g · float(cond). ORT's Where with a scalar branch runs a
   * slow generic broadcast: on ResNet-18 (batch 128, 32×32) its Relu masks took 6.7 ms as Where and
   * 1.7 ms as Cast + Mul. Equal to Where(cond, g, 0) for every finite g, except that a zero keeps
   * g's sign (−0 where g < 0: equal as a number, and made +0 by the next Conv or sum that adds
   * it to anything). An infinite or NaN g where `cond` is false gives NaN instead of 0, which
   * leaves an overflowed gradient visible rather than hiding it.
   */
  masked(g: string, cond: string, floatType: 'float32' | 'float64', hint = 'masked'): string {
    return this.b.op('Mul', [g, this.castFloat(cond, floatType)], {}, hint);
  }

  /** Casts a bool/int tensor to the float type. */
  castFloat(x: string, floatType: 'float32' | 'float64'): string {
    return this.b.op('Cast', [x], { to: floatType === 'float64' ? DataType.DOUBLE : DataType.FLOAT });
  }

  /**
   * Sums a gradient of shape `gShape` down to `target` (undoes numpy-style broadcasting):
   * sums the leading extra axes and every axis where the target has size 1, then reshapes.
   */
  unbroadcast(g: string, gShape: readonly number[], target: readonly number[]): string {
    const lead = gShape.length - target.length;
    const axes: number[] = [];
    for (let i = 0; i < gShape.length; i++) {
      if (i < lead || (target[i - lead] === 1 && gShape[i] !== 1)) axes.push(i);
    }
    if (axes.length === 0 && lead === 0) return g;
    let r = this.reduceSum(g, axes, true);
    const keptShape = gShape.map((d, i) => (axes.includes(i) ? 1 : d));
    if (lead > 0 || keptShape.length !== target.length || keptShape.some((d, i) => d !== target[i])) r = this.reshape(r, target);
    return r;
  }
}
