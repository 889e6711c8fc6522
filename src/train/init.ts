/**
 * `init: reinit`: PyTorch's default initialisation of every trainable parameter, drawn from the
 * recipe's seed (`init: keep`, the default, trains from the model's own weights).
 *
 * As torch.nn's `reset_parameters`:
 * - Conv / ConvTranspose / Gemm / MatMul weight: kaiming_uniform_(a = √5), i.e. U(−b, b) with
 *   b = gain·√(3 / fan_in), gain = √(2 / (1 + a²)) — which is b = 1/√fan_in. fan_in is torch's
 *   `_calculate_fan_in_and_fan_out` on the weight as torch stores it: Conv [out, in/g, k…] →
 *   in/g·∏k; ConvTranspose [in, out/g, k…] → out/g·∏k (torch's own quirk, kept); Linear
 *   [out, in] → in (Gemm with transB = 1; transB = 0 and MatMul store [in, out] → dims[0]).
 * - their bias: U(−1/√fan_in, 1/√fan_in) with the weight's fan_in.
 * - BatchNormalization, LayerNormalization, InstanceNormalization: scale 1, bias 0; BatchNorm
 *   running mean 0 and variance 1.
 * - PRelu slope 0.25; Gather table (nn.Embedding) N(0, 1).
 * A trainable parameter used some other way is a UsageError naming it (nothing is guessed).
 *
 * Each parameter draws from its own stream, `rng.fork('init:<name>')`, in row-major order, so the
 * result does not depend on which other parameters train. (Same distribution as torch, not the
 * same numbers: torch's generator is not reproduced.)
 */
import { UsageError } from '../errors.js';
import { attrInt } from '../onnx/graph.js';
import { cloneModel, num, type ModelP, type NodeP } from '../onnx/proto.js';
import { makeTensor } from '../onnx/tensor.js';
import { Rng } from '../rng.js';

export type InitMode = 'keep' | 'reinit';

interface Use { node: NodeP; index: number }

/**
 * A copy of `model` with `params` (initializer names) re-drawn as torch's defaults, and every
 * BatchNorm whose scale or bias is among them reset to running mean 0, variance 1.
 */
export function reinitModel(model: ModelP, params: readonly string[], seed: number): ModelP {
  const m = cloneModel(model);
  const g = m.graph;
  const uses = new Map<string, Use[]>();
  for (const node of g.node) node.input.forEach((v, index) => v && uses.set(v, [...(uses.get(v) ?? []), { node, index }]));
  const dimsOf = new Map(g.initializer.map((t) => [t.name ?? '', (t.dims ?? []).map(num)]));
  const rng = new Rng(seed);
  const values = new Map<string, Float32Array>();
  const uniform = (name: string, size: number, bound: number): Float32Array => {
    const r = rng.fork(`init:${name}`);
    return Float32Array.from({ length: size }, () => r.range(-bound, bound));
  };
  for (const name of params) {
    const dims = dimsOf.get(name);
    if (!dims) throw new UsageError(`init: no initializer named '${name}'`);
    const size = dims.reduce((a, b) => a * b, 1);
    const use = uses.get(name)?.[0];
    if (!use) throw new UsageError(`init: reinit: parameter '${name}' is used by no node`);
    const { node, index } = use;
    const op = node.op_type;
    const weightFanIn = (w: string): number => {
      const wd = dimsOf.get(w);
      if (!wd) throw new UsageError(`init: reinit: the weight of ${op} node ${node.name ?? ''} is not an initializer, so its bias has no fan_in`);
      if (op === 'Gemm') return attrInt(node, 'transB', 0) ? wd[1]! : wd[0]!;
      if (op === 'MatMul') return wd[0]!;
      return wd.slice(1).reduce((a, b) => a * b, 1);
    };
    let v: Float32Array;
    if ((op === 'Conv' || op === 'ConvTranspose' || op === 'Gemm') && index === 1) v = uniform(name, size, 1 / Math.sqrt(weightFanIn(name)));
    else if (op === 'MatMul' && index === 1 && dims.length === 2) v = uniform(name, size, 1 / Math.sqrt(dims[0]!));
    else if ((op === 'Conv' || op === 'ConvTranspose' || op === 'Gemm') && index === 2) v = uniform(name, size, 1 / Math.sqrt(weightFanIn(node.input[1]!)));
    else if (op === 'Add' && isMatMulBias(g.node, node, name)) v = uniform(name, size, 1 / Math.sqrt(matMulFanIn(g.node, node, dimsOf)));
    else if (['BatchNormalization', 'LayerNormalization', 'InstanceNormalization'].includes(op) && (index === 1 || index === 2)) v = new Float32Array(size).fill(index === 1 ? 1 : 0);
    else if (op === 'PRelu' && index === 1) v = new Float32Array(size).fill(0.25);
    else if (op === 'Gather' && index === 0) {
      const r = rng.fork(`init:${name}`);
      v = Float32Array.from({ length: size }, () => r.normal());
    } else throw new UsageError(`init: reinit does not know torch's default for parameter '${name}' (input ${index} of ${op} node ${node.name ?? ''}); use init: keep or freeze it`);
    values.set(name, v);
    if (op === 'BatchNormalization') {
      values.set(node.input[3]!, new Float32Array(dimsOf.get(node.input[3]!)!.reduce((a, b) => a * b, 1)));
      values.set(node.input[4]!, new Float32Array(dimsOf.get(node.input[4]!)!.reduce((a, b) => a * b, 1)).fill(1));
    }
  }
  g.initializer = g.initializer.map((t) => {
    const v = values.get(t.name ?? '');
    return v ? makeTensor(t.name!, (t.dims ?? []).map(num), v) : t;
  });
  return m;
}

/** An Add right after a MatMul with an initializer weight, adding `name`: nn.Linear exported as MatMul + Add. */
function isMatMulBias(nodes: readonly NodeP[], add: NodeP, name: string): boolean {
  const other = add.input.find((v) => v !== name);
  return nodes.some((n) => n.op_type === 'MatMul' && n.output[0] === other);
}
function matMulFanIn(nodes: readonly NodeP[], add: NodeP, dimsOf: Map<string, number[]>): number {
  const mm = nodes.find((n) => n.op_type === 'MatMul' && add.input.includes(n.output[0]!))!;
  const w = dimsOf.get(mm.input[1]!);
  if (!w) throw new UsageError(`init: reinit: MatMul node ${mm.name ?? ''} has no initializer weight, so the bias after it has no fan_in`);
  return w[0]!;
}
