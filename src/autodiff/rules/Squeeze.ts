import { Reshape } from './Reshape.js';

/**
 * Squeeze (axes as an attribute before opset 13, as an input from 13): only the shape changes,
 * so dX = gy reshaped to X's probed shape; the axes input gets no gradient.
 */
export const Squeeze = Reshape;
