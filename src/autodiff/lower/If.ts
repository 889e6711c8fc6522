import type { GraphP } from '../../onnx/proto.js';
import { graphReads } from '../../onnx/subgraph.js';
import type { FallibleLowering, LowerContext } from '../lower.js';
import { NotLowered } from '../lower.js';
import { bodyOf, inlineBody } from './inline.js';

const GATED_TYPES: Readonly<Record<string, 'float32' | 'float64'>> = { float32: 'float32', float64: 'float64' };

/**
 * If: the branch the model takes is inlined in place of the node. When the condition does not
 * depend on the data (constants, shapes, declared extra inputs) the probe says which branch that
 * is, and only it is inlined. Otherwise both branches are inlined and each output is
 * Where(cond, then, else): right for every batch, with the gradient going through the branch
 * taken (Where's rule); the other branch is evaluated too, so both must run on the data.
 *
 * The branch not taken may overflow or give NaN (exp of a large value, √ of a negative one), and
 * so may its backward pass (0·∞, 0/0), whatever its output's gradient is. So each branch reads
 * its float, data-dependent captures through a gate: the then branch reads Where(cond, x, 0),
 * the else branch Where(cond, 0, x) (the "double where"). The branch taken reads x itself; the
 * other reads zeros, and Where's rule selects (never multiplies), so what comes back from the
 * branch not taken is dropped, NaN or not: the gradient is exactly the taken branch's.
 */
export function lowerIf(ctx: LowerContext): string | FallibleLowering {
  const { node, b, probe, isStatic } = ctx;
  const cond = node.input[0]!;
  const thenG = bodyOf(node, 'then_branch');
  const elseG = bodyOf(node, 'else_branch');
  if (!thenG || !elseG) throw new NotLowered('an If without then_branch and else_branch');
  const hint = node.name || 'if';
  const bind = (outs: string[]) => outs.forEach((v, i) => node.output[i] && b.nodes.push({ op_type: 'Identity', input: [v], output: [node.output[i]!], attribute: [], name: b.name(`${hint}_out`), domain: '' }));
  const known = probe.ints.get(cond);
  if (isStatic(cond) && known && known.length === 1) {
    const taken = known[0] !== 0;
    bind(inlineBody(b, taken ? thenG : elseG, [], `${hint}_${taken ? 'then' : 'else'}`));
    return `${taken ? 'then' : 'else'} branch inlined (the condition does not depend on the data)`;
  }
  if (known && known.length !== 1) throw new NotLowered(`its condition '${cond}' has ${known.length} elements, not one`);
  // The condition as a scalar, so that a gate keeps its capture's shape (a [1] condition would
  // broadcast a scalar capture to [1]).
  const c0 = probe.shapes.get(cond)?.length === 0 ? cond : b.op('Reshape', [cond, b.constI64([], [0])], {}, `${hint}_cond`);
  const gates = (branch: GraphP, taken: boolean) => {
    const m = new Map<string, string>();
    for (const v of graphReads(branch)) {
      const type = GATED_TYPES[probe.types.get(v) ?? ''];
      if (!type || isStatic(v)) continue;
      const zero = b.tensor(`${hint}_zero`, [], type === 'float64' ? new Float64Array(1) : new Float32Array(1));
      m.set(v, b.op('Where', taken ? [c0, v, zero] : [c0, zero, v], {}, `${hint}_${taken ? 'then' : 'else'}_gate`));
    }
    return m;
  };
  const t = inlineBody(b, thenG, [], `${hint}_then`, gates(thenG, true));
  const f = inlineBody(b, elseG, [], `${hint}_else`, gates(elseG, false));
  if (t.length !== f.length) throw new NotLowered('its branches have different numbers of outputs');
  bind(t.map((v, i) => b.op('Where', [cond, v, f[i]!], {}, `${hint}_merge`)));
  const dims = (s: number[] | undefined) => `[${s?.join(', ') ?? '?'}]`;
  return {
    check: (pr) => {
      const k = t.findIndex((v, i) => dims(pr.shapes.get(v)) !== dims(pr.shapes.get(f[i]!)));
      return k < 0 ? null : `the branch taken depends on the data, and its branches give output ${k} different shapes (${dims(pr.shapes.get(t[k]!))} and ${dims(pr.shapes.get(f[k]!))}), which a Where merge cannot hold`;
    },
    note: 'both branches inlined and merged with Where (the condition depends on the data)',
    mayFail: 'the branch taken depends on the data, and its two branches cannot be evaluated side by side for a Where merge',
  };
}
