import type { Rule } from '../context.js';
import { extremumGrad } from './Max.js';

/** Min (elementwise, variadic): gy to the argument(s) equal to the result, ties shared equally (see `extremumGrad`). */
export const Min: Rule = extremumGrad;
