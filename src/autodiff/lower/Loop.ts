import { attrTensor } from '../../onnx/graph.js';
import type { GraphP } from '../../onnx/proto.js';
import { tensorValues } from '../../onnx/tensor.js';
import type { LowerContext } from '../lower.js';
import { NotLowered } from '../lower.js';
import { bodyOf, boolConst, inlineBody, nodeCount } from './inline.js';

/** Most nodes an unrolled Loop or Scan may add to the graph. */
export const UNROLL_MAX_NODES = 50_000;

/**
 * Loop with a trip count that does not depend on the data and a condition that stays true (a
 * `for` loop, as PyTorch exports one): unrolled for the probed trip count, each iteration a copy
 * of the body with the iteration number and the carried values bound; scan outputs are stacked
 * on a new first axis (Unsqueeze + Concat). A loop whose condition is computed in the body (a
 * `while` loop) or whose trip count depends on the data is left with that reason.
 */
export function lowerLoop(ctx: LowerContext): string {
  const { node, b, e, probe, isStatic } = ctx;
  const body = bodyOf(node, 'body');
  if (!body) throw new NotLowered('a Loop without a body');
  const [m, cond] = [node.input[0] ?? '', node.input[1] ?? ''];
  if (!m) throw new NotLowered('it has no trip count (a while loop): only loops with a fixed trip count are unrolled');
  if (!isStatic(m)) throw new NotLowered(`its trip count '${m}' depends on the data: only loops with a fixed trip count are unrolled`);
  if (cond && !isStatic(cond)) throw new NotLowered(`its condition '${cond}' depends on the data: only loops with a fixed trip count are unrolled`);
  if (!staysTrue(body, (v) => isStatic(v) && (probe.ints.get(v)?.every((c) => c !== 0) ?? false))) throw new NotLowered('its condition is computed in the body (a while loop): only loops whose condition stays true are unrolled');
  const trip = cond && probe.ints.get(cond)?.[0] === 0 ? 0 : probe.ints.get(m)?.[0];
  if (trip === undefined) throw new NotLowered(`its trip count '${m}' was not observed`);
  const carried0 = node.input.slice(2);
  const n = carried0.length;
  const k = body.output.length - 1 - n;
  if (trip === 0 && k > 0) throw new NotLowered('it runs zero times and has scan outputs (empty tensors of unknown shape)');
  if (trip * nodeCount(body) > UNROLL_MAX_NODES) throw new NotLowered(`unrolled, its ${trip} iterations of ${nodeCount(body)} nodes would exceed ${UNROLL_MAX_NODES} nodes`);
  const hint = node.name || 'loop';
  const yes = boolConst(b, true);
  let carried = carried0;
  const scans: string[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < trip; i++) {
    const iter = b.constI64([i], []);
    const outs = inlineBody(b, body, [iter, yes, ...carried], `${hint}_it${i}`);
    carried = outs.slice(1, 1 + n);
    outs.slice(1 + n).forEach((v, j) => scans[j]!.push(e.unsqueeze(v, [0])));
  }
  const results = [...carried, ...scans.map((s) => (s.length === 1 ? s[0]! : b.op('Concat', s, { axis: 0 }, `${hint}_scan`)))];
  results.forEach((v, i) => node.output[i] && b.nodes.push({ op_type: 'Identity', input: [v], output: [node.output[i]!], attribute: [], name: b.name(`${hint}_out`), domain: '' }));
  return `unrolled for its ${trip} iterations`;
}

/**
 * Whether a Loop body's condition output is its condition input (passed through) or a constant
 * true: a body constant, or an outer value that `outerTrue` knows to be a data-independent true.
 */
function staysTrue(body: GraphP, outerTrue: (v: string) => boolean): boolean {
  const condIn = body.input[1]?.name;
  let v = body.output[0]?.name;
  for (let hops = 0; v && hops < 16; hops++) {
    if (v === condIn) return true;
    const init = body.initializer.find((t) => t.name === v);
    if (init) return tensorValues(init).every((x) => x !== 0);
    const producer = body.node.find((nd) => nd.output.includes(v!));
    if (!producer) return !body.input.some((i) => i.name === v) && outerTrue(v);
    if (producer.op_type === 'Identity' || producer.op_type === 'Cast') v = producer.input[0];
    else if (producer.op_type === 'Constant') {
      const t = attrTensor(producer, 'value');
      return t !== undefined && tensorValues(t).every((x) => x !== 0);
    } else return false;
  }
  return false;
}
