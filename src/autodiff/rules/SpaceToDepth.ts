import type { Rule } from '../context.js';
import { attrInt } from '../../onnx/graph.js';

/** SpaceToDepth (blocksize b) only permutes elements; its inverse is DepthToSpace in DCR mode, so dX = DepthToSpace(gy). */
export const SpaceToDepth: Rule = ({ node, e, gy }) => [e.op('DepthToSpace', [gy[0]!], { blocksize: attrInt(node, 'blocksize', 1) }, 's2d_grad')];
