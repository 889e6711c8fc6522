import type { FallibleLowering, LowerContext } from '../lower.js';
import { NotLowered } from '../lower.js';
import { bodyOf, inlineBody } from './inline.js';

/**
 * If: the branch the model takes is inlined in place of the node. When the condition does not
 * depend on the data (constants, shapes, declared extra inputs) the probe says which branch that
 * is, and only it is inlined. Otherwise both branches are inlined and each output is
 * Where(cond, then, else): right for every batch, with the gradient going through the branch
 * taken (Where's rule); the other branch is evaluated too, so both must run on the data.
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
  const t = inlineBody(b, thenG, [], `${hint}_then`);
  const f = inlineBody(b, elseG, [], `${hint}_else`);
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
