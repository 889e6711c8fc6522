import type { Rule } from '../context.js';
import { reduceGrad } from './ReduceSum.js';

/** ReduceMean: dX = gy / count, expanded back over the reduced axes (axes an input from opset 18). */
export const ReduceMean: Rule = (ctx) => reduceGrad(ctx, 18, true);
