import type { Rule } from '../context.js';
import { reduceExtremumGrad } from './ReduceMax.js';

/** ReduceMin: as ReduceMax (`reduceExtremumGrad`), to the minimum. */
export const ReduceMin: Rule = reduceExtremumGrad;
