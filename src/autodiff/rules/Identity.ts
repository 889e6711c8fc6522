import type { Rule } from '../context.js';

/** Identity (also Dropout in inference): the gradient passes through unchanged. */
export const Identity: Rule = ({ gy }) => [gy[0]!];
