import { attrInts, attrString } from '../onnx/graph.js';
import type { NodeP } from '../onnx/proto.js';

/** Resolved window geometry of a Conv / ConvTranspose / pooling node for concrete shapes. */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads then end pads, ONNX order. */
  pads: number[];
}

/**
 * Resolves kernel, strides, dilations and explicit pads (auto_pad included) from the node's
 * attributes and the probed input and output spatial sizes.
 */
export function resolveWindow(node: NodeP, inSpatial: number[], outSpatial: number[], kernel: number[]): Window {
  const r = inSpatial.length;
  const strides = attrInts(node, 'strides') ?? new Array(r).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array(r).fill(1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let pads = attrInts(node, 'pads') ?? new Array(2 * r).fill(0);
  if (autoPad === 'VALID') pads = new Array(2 * r).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      const total = Math.max(0, (outSpatial[i]! - 1) * strides[i]! + dilations[i]! * (kernel[i]! - 1) + 1 - inSpatial[i]!);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i]!;
    }
  }
  return { kernel, strides, dilations, pads };
}

/**
 * For the input gradient of a strided window op: the extra rows/cols at the end of each input
 * axis that no window reaches (floor mode), i.e. ConvTranspose's output_padding.
 */
export function outputPadding(w: Window, inSpatial: number[], outSpatial: number[]): number[] {
  return inSpatial.map((h, i) => {
    const reached = (outSpatial[i]! - 1) * w.strides[i]! - w.pads[i]! - w.pads[i + inSpatial.length]! + w.dilations[i]! * (w.kernel[i]! - 1) + 1;
    return h - reached;
  });
}
