import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (this file compiles to dist/src/defaults.js). */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The embedded default: a small CNN trained on Fashion-MNIST, a stratified 2,000-image test slice,
 * and a stratified 10,000-image training slice (uint8, `scripts/make_train_slice.py`) that
 * `gauntlet train` uses when given no --data.
 */
export const defaultAssets = {
  model: path.join(packageRoot, 'assets', 'default', 'model.onnx'),
  data: path.join(packageRoot, 'assets', 'default', 'fashion-mnist-test-2000.npz'),
  trainData: path.join(packageRoot, 'assets', 'default', 'fashion-mnist-train-10k.npz'),
  meta: path.join(packageRoot, 'assets', 'default', 'meta.json'),
};

export interface DefaultMeta {
  class_names: string[];
  test_accuracy_10k?: number;
  slice_reference?: Record<string, number>;
  [k: string]: unknown;
}

/** The default model's recorded metadata (class names, recipe, measured accuracy). */
export function defaultMeta(): DefaultMeta {
  return JSON.parse(fs.readFileSync(defaultAssets.meta, 'utf8')) as DefaultMeta;
}
