import { Reshape } from './Reshape.js';

/** Flatten: dX = gy reshaped to X's shape. */
export const Flatten = Reshape;
