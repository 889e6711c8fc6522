import { Reshape } from './Reshape.js';

/**
 * Unsqueeze (axes as an attribute before opset 13, as an input from 13): only the shape changes,
 * so dX = gy reshaped to X's probed shape; the axes input gets no gradient.
 */
export const Unsqueeze = Reshape;
