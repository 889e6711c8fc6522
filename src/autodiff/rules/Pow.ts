import { unsupported, type Rule } from '../context.js';

/**
 * Pow: Y = X^P (P broadcast), dX = gy·P·X^(P−1), summed back over broadcast axes. A constant
 * scalar exponent is folded (P = 0, 1, 2 need no Pow at all); any other exponent that needs no
 * gradient itself is used from the graph, cast to the float type. A gradient with respect to the
 * exponent (P on the input→loss path) is not supported: an UnsupportedOpError naming the node and P.
 */
export const Pow: Rule = ({ node, e, b, gy, needs, shape, constFloats, staticInts, floatType }) => {
  const [x, p] = node.input as [string, string];
  if (needs[1]) unsupported(node, `a data-dependent exponent ('${p}' depends on the differentiated input) has no gradient rule`, 1);
  if (!needs[0]) return [null, null];
  const g = gy[0]!;
  const pv = constFloats(p) ?? staticInts(p);
  let d: string;
  if (pv && pv.length === 1) {
    const k = pv[0]!;
    if (k === 0) d = e.op('Mul', [g, b.scalarF(0)]);
    else if (k === 1) d = g;
    else if (k === 2) d = e.op('Mul', [g, e.op('Mul', [x, b.scalarF(2)])]);
    else d = e.op('Mul', [g, e.op('Mul', [e.op('Pow', [x, b.scalarF(k - 1)]), b.scalarF(k)])]);
  } else {
    const pf = e.castFloat(p, floatType);
    d = e.op('Mul', [g, e.op('Mul', [pf, e.op('Pow', [x, e.op('Sub', [pf, b.scalarF(1)])])])]);
  }
  return [e.unbroadcast(d, shape(node.output[0]!), shape(x)), null];
};
