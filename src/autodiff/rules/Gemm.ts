import type { Rule } from '../context.js';
import { attrFloat, attrInt, float } from '../../onnx/graph.js';

/**
 * Gemm: Y = α·A'·B' + β·C with A' = Aᵀ if transA, B' = Bᵀ if transB.
 * dA' = α·gy·B'ᵀ, dB' = α·A'ᵀ·gy (transposed back when the operand was), dC = β·gy summed over
 * broadcast axes. Each is one Gemm with the right transpose flags. Before opset 11 Gemm's C is
 * required, so those Gemms get a zero C with β = 0.
 */
export const Gemm: Rule = ({ node, e, b, gy, needs, shape }) => {
  const [a, bb, c] = node.input as [string, string, string?];
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  const tA = attrInt(node, 'transA', 0);
  const tB = attrInt(node, 'transB', 0);
  const g = gy[0]!;
  const out: (string | null)[] = [null, null, null];
  const zeroC = e.opset < 11 ? [b.constF([0])] : [];
  const gemm = (x: string, y: string, attrs: { transA: number; transB: number }, hint: string) =>
    e.op('Gemm', [x, y, ...zeroC], { alpha: float(alpha), beta: zeroC.length ? float(0) : undefined, ...attrs }, hint);
  if (needs[0]) {
    out[0] = tA
      ? gemm(bb, g, { transA: tB ? 1 : 0, transB: 1 }, 'gemm_da')
      : gemm(g, bb, { transA: 0, transB: tB ? 0 : 1 }, 'gemm_da');
  }
  if (needs[1]) {
    out[1] = tB
      ? gemm(g, a, { transA: 1, transB: tA ? 1 : 0 }, 'gemm_db')
      : gemm(a, g, { transA: tA ? 0 : 1, transB: 0 }, 'gemm_db');
  }
  if (needs[2] && c) {
    const scaled = beta === 1 ? g : e.op('Mul', [g, b.scalarF(beta)]);
    out[2] = e.unbroadcast(scaled, shape(node.output[0]!), shape(c));
  }
  return out;
};
