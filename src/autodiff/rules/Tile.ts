import type { Rule } from '../context.js';

/**
 * Tile: Y repeats X rᵢ times along each axis, so dX = gy reshaped to [r₀, d₀, r₁, d₁, …] (only
 * tiled axes split) and summed over the repeat axes. The repeats are read from the probed shapes
 * (rᵢ = Yᵢ / Xᵢ), so computed repeats work too; the repeats input gets no gradient.
 */
export const Tile: Rule = ({ node, e, gy, shape, floatType }) => {
  const xs = shape(node.input[0]!);
  const ys = shape(node.output[0]!);
  if (xs.some((d) => d === 0)) return [e.zeros(xs, floatType), null];
  const split: number[] = [];
  const sumAxes: number[] = [];
  xs.forEach((d, i) => {
    const reps = ys[i]! / d;
    if (reps > 1) {
      sumAxes.push(split.length);
      split.push(reps);
    }
    split.push(d);
  });
  if (sumAxes.length === 0) return [gy[0]!, null];
  return [e.reduceSum(e.reshape(gy[0]!, split), sumAxes, false), null];
};
