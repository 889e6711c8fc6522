import type { Rule } from '../context.js';

/** Reshape (also Flatten, Squeeze, Unsqueeze): dX = gy reshaped to X's shape. Shape inputs get none. */
export const Reshape: Rule = ({ node, e, gy, shape }) => [e.reshape(gy[0]!, shape(node.input[0]!)), ...node.input.slice(1).map(() => null)];
