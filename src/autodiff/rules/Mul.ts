import type { GradContext, Rule } from '../context.js';
import { attrFloat } from '../../onnx/graph.js';
import type { NodeP } from '../../onnx/proto.js';
import { hardSwishGrad } from './HardSwish.js';

/**
 * Mul: dA = gy·B, dB = gy·A, each summed back over broadcast axes. The activations exporters
 * write as a Mul of x and a function of x get one rule for the pair (`activationOf`).
 */
export const Mul: Rule = (ctx) => {
  const { node, e, gy, needs, shape } = ctx;
  const [a, b] = node.input as [string, string];
  const fused = activationOf(ctx);
  if (fused) return fused;
  const ys = shape(node.output[0]!);
  return [
    needs[0] ? e.unbroadcast(e.op('Mul', [gy[0]!, b]), ys, shape(a)) : null,
    needs[1] ? e.unbroadcast(e.op('Mul', [gy[0]!, a]), ys, shape(b)) : null,
  ];
};

/**
 * x·f(x) with f's node feeding only this Mul, as exporters write SiLU (f = Sigmoid) and, before
 * opset 14, HardSwish (f = HardSigmoid with α = 1/6, β = ½): one rule for the pair, in PyTorch's
 * own backward formula, and the walk skips f's node. Fewer elementwise nodes than the two rules
 * and the Sum of their two contributions to x (EfficientNet-B0 has 49 SiLUs, MobileNetV3-small 18
 * HardSwishes; at batch 8 each node's cost is mostly its own overhead). Null for any other Mul.
 * - SiLU: dX = (gy·σ)·(1 + x·(1 − σ)) (silu_backward, in its order of operations), σ read from
 *   the forward Sigmoid.
 * - HardSwish: `hardSwishGrad` (hardswish_backward: the bounds ±3 in the middle piece, where the
 *   two separate rules would give HardSigmoid's 0 slope).
 */
function activationOf(ctx: GradContext): (string | null)[] | null {
  const { node, b, gy, needs, producer, consumers, shape } = ctx;
  const [a, c] = node.input as [string, string];
  if (a === c || shape(a).join() !== shape(c).join()) return null;
  for (const [k, x, f] of [[0, a, c], [1, c, a]] as const) {
    const fn = producer(f);
    if (!fn || fn.input[0] !== x || consumers(f) !== 1 || !needs[k]) continue;
    let dx: string;
    if (fn.op_type === 'Sigmoid') {
      const one = b.scalarF(1);
      const inner = b.op('Add', [one, b.op('Mul', [x, b.op('Sub', [one, f])])]);
      dx = b.op('Mul', [b.op('Mul', [gy[0]!, f]), inner], {}, 'silu_grad');
    } else if (isHardSigmoidOfSwish(fn)) dx = hardSwishGrad(b, x, gy[0]!);
    else continue;
    ctx.skip([fn]);
    return k === 0 ? [dx, null] : [null, dx];
  }
  return null;
}

/** HardSigmoid(x) = max(0, min(1, x/6 + ½)), HardSwish's gate (α as a float32 attribute). */
function isHardSigmoidOfSwish(n: NodeP): boolean {
  return n.op_type === 'HardSigmoid' && attrFloat(n, 'alpha', 0.2) === Math.fround(1 / 6) && attrFloat(n, 'beta', 0.5) === 0.5;
}
