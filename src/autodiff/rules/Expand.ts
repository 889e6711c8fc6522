import type { Rule } from '../context.js';

/** Expand (numpy broadcasting to a shape): dX = gy summed back over the broadcast axes; the shape input gets none. */
export const Expand: Rule = ({ node, e, gy, shape }) => [e.unbroadcast(gy[0]!, shape(node.output[0]!), shape(node.input[0]!)), null];
