import { attrInt, attrInts } from '../../onnx/graph.js';
import type { LowerContext } from '../lower.js';
import { NotLowered } from '../lower.js';
import { bodyOf, inlineBody, nodeCount } from './inline.js';
import { UNROLL_MAX_NODES } from './Loop.js';

/**
 * Scan (opset 9 and later): unrolled over the probed sequence length. Step t reads element t (or
 * T − 1 − t for a reverse scan input) of each scan input along its axis (Slice + Squeeze), runs a
 * copy of the body with the states bound, and the scan outputs are stacked along their axes
 * (Unsqueeze + Concat), in reverse for a reverse scan output.
 */
export function lowerScan(ctx: LowerContext): string {
  const { node, b, e, probe, opset } = ctx;
  if (opset < 9) throw new NotLowered('Scan before opset 9 (with sequence_lens) is not supported');
  const body = bodyOf(node, 'body');
  if (!body) throw new NotLowered('a Scan without a body');
  const m = attrInt(node, 'num_scan_inputs');
  if (m === undefined) throw new NotLowered('a Scan without num_scan_inputs');
  const n = node.input.length - m;
  const xs = node.input.slice(n);
  const inAxes = attrInts(node, 'scan_input_axes') ?? xs.map(() => 0);
  const inDirs = attrInts(node, 'scan_input_directions') ?? xs.map(() => 0);
  const k = body.output.length - n;
  const outAxes = attrInts(node, 'scan_output_axes') ?? Array.from({ length: k }, () => 0);
  const outDirs = attrInts(node, 'scan_output_directions') ?? Array.from({ length: k }, () => 0);
  const shapes = xs.map((x) => probe.shapes.get(x));
  if (shapes.some((s) => !s)) throw new NotLowered('the shape of a scan input was not observed');
  const axes = inAxes.map((a, j) => (a < 0 ? a + shapes[j]!.length : a));
  const steps = shapes[0]![axes[0]!]!;
  if (shapes.some((s, j) => s![axes[j]!] !== steps)) throw new NotLowered('its scan inputs have different lengths');
  if (steps === 0) throw new NotLowered('it scans zero steps');
  if (steps * nodeCount(body) > UNROLL_MAX_NODES) throw new NotLowered(`unrolled, its ${steps} steps of ${nodeCount(body)} nodes would exceed ${UNROLL_MAX_NODES} nodes`);
  const hint = node.name || 'scan';
  let states = node.input.slice(0, n);
  const outs: string[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < steps; t++) {
    const elems = xs.map((x, j) => {
      const i = inDirs[j] === 1 ? steps - 1 - t : t;
      return e.squeeze(e.slice(x, [i], [i + 1], [axes[j]!]), [axes[j]!]);
    });
    const r = inlineBody(b, body, [...states, ...elems], `${hint}_t${t}`);
    states = r.slice(0, n);
    r.slice(n).forEach((v, j) => outs[j]!.push(e.unsqueeze(v, [outAxes[j]!])));
  }
  const stacked = outs.map((list, j) => {
    const ordered = outDirs[j] === 1 ? [...list].reverse() : list;
    return ordered.length === 1 ? ordered[0]! : b.op('Concat', ordered, { axis: outAxes[j]! }, `${hint}_out`);
  });
  [...states, ...stacked].forEach((v, i) => node.output[i] && b.nodes.push({ op_type: 'Identity', input: [v], output: [node.output[i]!], attribute: [], name: b.name(`${hint}_out`), domain: '' }));
  return `unrolled over its ${steps} steps`;
}
