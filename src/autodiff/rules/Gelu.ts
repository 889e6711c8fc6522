import { unsupported, type Rule } from '../context.js';
import { attrString } from '../../onnx/graph.js';

const C = Math.sqrt(2 / Math.PI);
const K = 0.044715;

/**
 * Gelu (opset 20). approximate='none': Y = X·Φ(X), dX = gy·(Φ(X) + X·φ(X)) with
 * Φ(x) = ½(1 + erf(x/√2)), φ(x) = exp(−x²/2)/√(2π).
 * approximate='tanh': Y = ½X(1 + t), t = tanh(c·(X + kX³)), c = √(2/π), k = 0.044715,
 * dX = gy·½·(1 + t + X·(1 − t²)·c·(1 + 3kX²)).
 */
export const Gelu: Rule = ({ node, b, gy }) => {
  const x = node.input[0]!;
  const mode = attrString(node, 'approximate', 'none');
  const x2 = b.op('Mul', [x, x]);
  let slope: string;
  if (mode === 'none') {
    const cdf = b.op('Mul', [b.op('Add', [b.op('Erf', [b.op('Mul', [x, b.scalarF(Math.SQRT1_2)])]), b.scalarF(1)]), b.scalarF(0.5)]);
    const pdf = b.op('Mul', [b.op('Exp', [b.op('Mul', [x2, b.scalarF(-0.5)])]), b.scalarF(1 / Math.sqrt(2 * Math.PI))]);
    slope = b.op('Add', [cdf, b.op('Mul', [x, pdf])]);
  } else if (mode === 'tanh') {
    const inner = b.op('Mul', [b.op('Mul', [x, b.op('Add', [b.op('Mul', [x2, b.scalarF(K)]), b.scalarF(1)])]), b.scalarF(C)]);
    const t = b.op('Tanh', [inner]);
    const du = b.op('Mul', [b.op('Add', [b.op('Mul', [x2, b.scalarF(3 * K)]), b.scalarF(1)]), b.scalarF(C)]);
    const rest = b.op('Mul', [b.op('Mul', [x, b.op('Sub', [b.scalarF(1), b.op('Mul', [t, t])])]), du]);
    slope = b.op('Mul', [b.op('Add', [b.op('Add', [t, b.scalarF(1)]), rest]), b.scalarF(0.5)]);
  } else {
    unsupported(node, `approximate='${mode}' has no gradient rule (only 'none' and 'tanh')`);
  }
  return [b.op('Mul', [gy[0]!, slope], {}, 'gelu_grad')];
};
