/**
 * Every label-noise model, in the order `gauntlet list` shows them. The config schema
 * (`parseAnnotationSpec`) and the CLI's `noise --model` choices are driven by this list; simulated
 * annotators (`annotators.ts`) are the other kind of annotation spec.
 */
import type { Rng } from '../../rng.js';
import type { NoiseContext, NoiseModel, NoiseResult } from './types.js';
import { symmetric, type SymmetricSpec } from './noise/symmetric.js';
import { pairflip, type PairflipSpec } from './noise/pairflip.js';
import { matrix, type MatrixSpec } from './noise/matrix.js';
import { instance, type InstanceSpec } from './noise/instance.js';

export type { SymmetricSpec, PairflipSpec, MatrixSpec, InstanceSpec };

/** A label-noise spec (a config entry with `model: <name>`). */
export type NoiseSpec = SymmetricSpec | PairflipSpec | MatrixSpec | InstanceSpec;

export type AnyNoiseModel = NoiseModel<SymmetricSpec> | NoiseModel<PairflipSpec> | NoiseModel<MatrixSpec> | NoiseModel<InstanceSpec>;

/** The registry: one entry per noise model. */
export const noiseModels: readonly AnyNoiseModel[] = [symmetric, pairflip, matrix, instance];

/** Names of the noise models (`symmetric`, `pairflip`, `matrix`, `instance`). */
export const noiseModelNames: readonly NoiseSpec['model'][] = noiseModels.map((m) => m.name);

/** The noise model of a name, or undefined. */
export function getNoiseModel(name: string): AnyNoiseModel | undefined {
  return noiseModels.find((m) => m.name === name);
}

/** Applies the registered model that `spec.model` names. */
export function applyNoise(labels: Int32Array, numClasses: number, spec: NoiseSpec, rng: Rng, ctx: NoiseContext = {}): NoiseResult<NoiseSpec> {
  const m = getNoiseModel(spec.model) as NoiseModel<NoiseSpec> | undefined;
  if (!m) throw new RangeError(`unknown noise model '${spec.model}'`);
  return m.apply(labels, numClasses, spec, rng, ctx);
}
