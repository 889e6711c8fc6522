import type { Rule } from '../context.js';

/** ReverseSequence reverses each item's first `len` steps: a permutation that is its own inverse, so dX = ReverseSequence(gy). */
export const ReverseSequence: Rule = ({ node, b, gy }) => [b.op('ReverseSequence', [gy[0]!, node.input[1]!], Object.fromEntries(node.attribute.map((a) => [a.name, Number(a.i ?? 0)])), 'revseq_grad'), null];
