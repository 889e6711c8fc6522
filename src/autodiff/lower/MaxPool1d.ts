import { attrInt, attrInts, attrString } from '../../onnx/graph.js';
import type { LowerContext } from '../lower.js';
import { NotLowered } from '../lower.js';

/**
 * 1-D MaxPool (input [N, C, L]): rewritten as the 2-D MaxPool of the input seen as [N, C, 1, L]
 * (kernel 1 × k), whose gradient rule covers every geometry; the Indices output, if used, is the
 * same flat index. Other ranks are left to the MaxPool rule.
 */
export function lowerMaxPool1d(ctx: LowerContext): string {
  const { node, b, e, probe } = ctx;
  const xs = probe.shapes.get(node.input[0]!);
  if (!xs || xs.length !== 3) throw new NotLowered('not a 1-D MaxPool');
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
  b.nodes.push({ op_type: 'Squeeze', input: ctx.opset >= 13 ? [outs[0]!, b.constI64([2])] : [outs[0]!], output: [node.output[0]!], attribute: ctx.opset >= 13 ? [] : [{ name: 'axes', type: 7, ints: [2] }], name: b.name('maxpool1d_out'), domain: '' });
  if (outs[1]) b.nodes.push({ op_type: 'Squeeze', input: ctx.opset >= 13 ? [outs[1], b.constI64([2])] : [outs[1]], output: [node.output[1]!], attribute: ctx.opset >= 13 ? [] : [{ name: 'axes', type: 7, ints: [2] }], name: b.name('maxpool1d_idx'), domain: '' });
  return 'as a 2-D MaxPool over [N, C, 1, L]';
}
