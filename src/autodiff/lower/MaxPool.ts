import { attrInt, attrInts, attrString } from '../../onnx/graph.js';
import { resolveWindow } from '../spatial.js';
import type { LowerContext } from '../lower.js';
import { NotLowered } from '../lower.js';

/**
 * MaxPool of rank 1 or 3, rewritten as 2-D MaxPools, whose rule covers every geometry and both
 * tie rules:
 *
 * - 1-D (input [N, C, L]): the 2-D MaxPool of [N, C, 1, L] (kernel 1 × k); the Indices output, if
 *   used, is the same flat index.
 * - 3-D (input [N, C, D, H, W]): a max over a box is a max over depth of the maxima over
 *   height × width, so a 2-D MaxPool of [N, C·D, H, W] (the H and W geometry) is followed by a 2-D
 *   MaxPool of [N, C, D, OH·OW] with kernel kd × 1 (the depth geometry). Taking each stage's first
 *   maximum gives the box's first maximum in (d, h, w) row-major order, PyTorch's rule. The Indices
 *   output is not supported here.
 *
 * 2-D MaxPools are left to the rule.
 */
export function lowerMaxPool(ctx: LowerContext): string {
  const { node, probe } = ctx;
  const xs = probe.shapes.get(node.input[0]!);
  if (xs?.length === 3) return lower1d(ctx);
  if (xs?.length === 5) return lower3d(ctx, xs, probe.shapes.get(node.output[0]!)!);
  throw new NotLowered('a 2-D MaxPool (the rule takes it)');
}

function squeezeTo(ctx: LowerContext, from: string, to: string, axis: number): void {
  const { b, opset } = ctx;
  b.nodes.push({
    op_type: 'Squeeze',
    input: opset >= 13 ? [from, b.constI64([axis])] : [from],
    output: [to],
    attribute: opset >= 13 ? [] : [{ name: 'axes', type: 7, ints: [axis] }],
    name: b.name('maxpool_out'),
    domain: '',
  });
}

function lower1d(ctx: LowerContext): string {
  const { node, b, e } = ctx;
  const k = attrInts(node, 'kernel_shape')!;
  const strides = attrInts(node, 'strides') ?? [1];
  const dil = attrInts(node, 'dilations') ?? [1];
  const pads = attrInts(node, 'pads') ?? [0, 0];
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const x4 = e.unsqueeze(node.input[0]!, [2]);
  const outs = b.opN('MaxPool', [x4], node.output.length > 1 && node.output[1] ? 2 : 1, {
    kernel_shape: [1, k[0]!],
    strides: [1, strides[0]!],
    dilations: [1, dil[0]!],
    ...(autoPad === 'NOTSET' ? { pads: [0, pads[0]!, 0, pads[1]!] } : { auto_pad: autoPad }),
    ceil_mode: attrInt(node, 'ceil_mode', 0),
    storage_order: attrInt(node, 'storage_order', 0),
  }, `${node.name || 'maxpool'}_2d`);
  squeezeTo(ctx, outs[0]!, node.output[0]!, 2);
  if (outs[1]) squeezeTo(ctx, outs[1], node.output[1]!, 2);
  return 'as a 2-D MaxPool over [N, C, 1, L]';
}

function lower3d(ctx: LowerContext, xs: number[], ys: number[]): string {
  const { node, b, e } = ctx;
  if (node.output[1]) throw new NotLowered('3-D MaxPool with its Indices output used');
  if (attrInt(node, 'storage_order', 0) !== 0) throw new NotLowered('storage_order=1 has no gradient rule');
  const [n, c, d, h, w] = xs as [number, number, number, number, number];
  const [od, oh, ow] = [ys[2]!, ys[3]!, ys[4]!];
  const win = resolveWindow(node, [d, h, w], [od, oh, ow], attrInts(node, 'kernel_shape')!);
  const ceil = attrInt(node, 'ceil_mode', 0);
  const hint = node.name || 'maxpool3d';
  const planes = b.op('MaxPool', [e.reshape(node.input[0]!, [n, c * d, h, w])], {
    kernel_shape: win.kernel.slice(1),
    strides: win.strides.slice(1),
    dilations: win.dilations.slice(1),
    pads: [win.pads[1]!, win.pads[2]!, win.pads[4]!, win.pads[5]!],
    ceil_mode: ceil,
  }, `${hint}_hw`);
  const depth = b.op('MaxPool', [e.reshape(planes, [n, c, d, oh * ow])], {
    kernel_shape: [win.kernel[0]!, 1],
    strides: [win.strides[0]!, 1],
    dilations: [win.dilations[0]!, 1],
    pads: [win.pads[0]!, 0, win.pads[3]!, 0],
    ceil_mode: ceil,
  }, `${hint}_d`);
  b.nodes.push({ op_type: 'Reshape', input: [depth, b.constI64([n, c, od, oh, ow])], output: [node.output[0]!], attribute: [], name: b.name(`${hint}_out`), domain: '' });
  return 'as a 2-D MaxPool over height × width, then one over depth';
}
