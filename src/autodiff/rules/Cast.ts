import type { GradContext, Rule } from '../context.js';
import { attrInt } from '../../onnx/graph.js';
import { DataType } from '../../onnx/proto.js';

const FLOATS = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/**
 * Cast between float types: the gradient is cast back to the input's float type — with CastLike
 * from opset 15; before, the input's type is traced up its producers to the nearest Cast,
 * constant or graph input (float ops keep their first input's type). A Cast from a non-float
 * input gets no gradient (the walk never asks for one: its input is off the float path).
 */
export const Cast: Rule = (ctx) => {
  const { node, e, gy, needs, opset } = ctx;
  const x = node.input[0]!;
  if (!needs[0]) return [null];
  if (opset >= 15) return [e.op('CastLike', [gy[0]!, x], {}, 'cast_grad')];
  const from = traceFloatType(ctx, x);
  if (!FLOATS.has(from)) return [null];
  return [from === attrInt(node, 'to') ? gy[0]! : e.op('Cast', [gy[0]!], { to: from }, 'cast_grad')];
};

function traceFloatType({ producer, constFloats, floatType }: GradContext, value: string): number {
  let v = value;
  for (let hops = 0; hops < 10000; hops++) {
    const p = producer(v);
    if (!p) break;
    if (p.op_type === 'Cast') return attrInt(p, 'to', DataType.FLOAT);
    if (!p.input[0]) break;
    v = p.input[0];
  }
  const c = constFloats(v);
  if (c) return c instanceof Float64Array ? DataType.DOUBLE : DataType.FLOAT;
  return floatType === 'float64' ? DataType.DOUBLE : DataType.FLOAT;
}
