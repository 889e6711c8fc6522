import type { Rule } from '../context.js';
import { attrInt, attrString } from '../../onnx/graph.js';

/**
 * DepthToSpace (blocksize b) only permutes elements, so dX is the inverse permutation of gy:
 * SpaceToDepth for mode DCR (the default), and for CRD the reverse of its reshape/transpose:
 * gy [N, C/b², H·b, W·b] → [N, C/b², H, b, W, b] → perm [0, 1, 3, 5, 2, 4] → [N, C, H, W].
 */
export const DepthToSpace: Rule = ({ node, e, gy, shape }) => {
  const blocksize = attrInt(node, 'blocksize', 1);
  if (attrString(node, 'mode', 'DCR') === 'DCR') return [e.op('SpaceToDepth', [gy[0]!], { blocksize }, 'd2s_grad')];
  const [n, c, h, w] = shape(node.input[0]!) as [number, number, number, number];
  const g6 = e.reshape(gy[0]!, [n, c / (blocksize * blocksize), h, blocksize, w, blocksize]);
  return [e.reshape(e.transpose(g6, [0, 1, 3, 5, 2, 4]), [n, c, h, w])];
};
