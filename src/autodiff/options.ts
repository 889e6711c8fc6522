import { opt, parseOptions, type OptionMap, type OptionsOf } from '../options/schema.js';

/** How MaxPool's gradient treats exact ties within a window (see `GRADIENT_OPTIONS`). */
export const MAXPOOL_TIES = ['first', 'share'] as const;
export type MaxpoolTies = (typeof MAXPOOL_TIES)[number];

/**
 * Options of the gradient engine, declared once: YAML `maxpool_ties`, flag `--maxpool-ties`,
 * TypeScript `maxpoolTies` (the `GradientEngine`, `buildTrainingGraph` and `buildBackward`
 * options).
 *
 * maxpool_ties: `first` (default) gives a window's whole gradient to its first maximum in row-major
 * order, as PyTorch does (and ONNX Runtime's MaxPool Indices), so gradients match PyTorch's on
 * images with flat regions; `share` splits it equally among exact ties (the symmetric subgradient,
 * Gauntlet's rule on most routes before this option existed), which keeps ORT's blocked MaxPool
 * kernel on windows that tile the input (see README, Gradients, for what each costs).
 */
export const GRADIENT_OPTIONS = {
  maxpool_ties: opt.choice(MAXPOOL_TIES, {
    default: 'first',
    doc: "MaxPool gradient at exact ties: first (the window's first maximum gets it, as in PyTorch) | share (split equally)",
  }),
} satisfies OptionMap;

export type GradientOptions = OptionsOf<typeof GRADIENT_OPTIONS>;

/** The gradient options with their defaults filled in (from TypeScript: camelCase keys). */
export function gradientOptions(o: Partial<GradientOptions> = {}): GradientOptions {
  return parseOptions(GRADIENT_OPTIONS, o, { where: '', camelCase: true });
}
