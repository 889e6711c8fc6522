/**
 * Every image corruption, in ImageNet-C's order (noise, blur, weather, digital, then the four extra
 * corruptions), and every tabular / general shift. `gauntlet list corruptions`, the config schema
 * (`parseDriftSpec`) and the CLI's `corrupt --corruption` / `shift --kind` choices are driven by
 * these lists.
 */
import { UsageError } from '../../errors.js';
import type { Corruption } from './types.js';
import { gaussianNoise } from './corruptions/gaussian_noise.js';
import { shotNoise } from './corruptions/shot_noise.js';
import { impulseNoise } from './corruptions/impulse_noise.js';
import { defocusBlur } from './corruptions/defocus_blur.js';
import { glassBlur } from './corruptions/glass_blur.js';
import { motionBlur } from './corruptions/motion_blur.js';
import { zoomBlur } from './corruptions/zoom_blur.js';
import { snow } from './corruptions/snow.js';
import { frost } from './corruptions/frost.js';
import { fog } from './corruptions/fog.js';
import { brightness } from './corruptions/brightness.js';
import { contrast } from './corruptions/contrast.js';
import { elasticTransform } from './corruptions/elastic_transform.js';
import { pixelate } from './corruptions/pixelate.js';
import { jpegCompression } from './corruptions/jpeg_compression.js';
import { speckleNoise } from './corruptions/speckle_noise.js';
import { gaussianBlur } from './corruptions/gaussian_blur.js';
import { spatter } from './corruptions/spatter.js';
import { saturate } from './corruptions/saturate.js';
import type { ShiftKind } from './shift/common.js';
import { meanShift, type MeanShiftSpec } from './shift/mean.js';
import { scaleShift, type ScaleShiftSpec } from './shift/scale.js';
import { noiseShift, type NoiseShiftSpec } from './shift/noise.js';
import { missingShift, type MissingShiftSpec } from './shift/missing.js';
import { quantizeShift, type QuantizeShiftSpec } from './shift/quantize.js';
import { subpopulationShift, type SubpopulationShiftSpec } from './shift/subpopulation.js';
import { priorShift, type PriorShiftSpec } from './shift/prior.js';

export type { MeanShiftSpec, ScaleShiftSpec, NoiseShiftSpec, MissingShiftSpec, QuantizeShiftSpec, SubpopulationShiftSpec, PriorShiftSpec };

/** The registry: one entry per corruption. */
export const corruptions: readonly Corruption[] = [
  gaussianNoise,
  shotNoise,
  impulseNoise,
  defocusBlur,
  glassBlur,
  motionBlur,
  zoomBlur,
  snow,
  frost,
  fog,
  brightness,
  contrast,
  elasticTransform,
  pixelate,
  jpegCompression,
  speckleNoise,
  gaussianBlur,
  spatter,
  saturate,
];

/** Names of the corruptions, in registry order. */
export const corruptionNames: readonly string[] = corruptions.map((c) => c.name);

/** The corruption of a name; throws UsageError "unknown corruption 'x'; known: …". */
export function getCorruption(name: string): Corruption {
  const c = corruptions.find((k) => k.name === name);
  if (!c) throw new UsageError(`unknown corruption '${name}'; known: ${corruptionNames.join(', ')}`);
  return c;
}

/** A tabular / general shift spec (a config entry with `shift: <kind>`). */
export type ShiftSpec = MeanShiftSpec | ScaleShiftSpec | NoiseShiftSpec | MissingShiftSpec | QuantizeShiftSpec | SubpopulationShiftSpec | PriorShiftSpec;

type AnyShiftKind =
  | ShiftKind<MeanShiftSpec>
  | ShiftKind<ScaleShiftSpec>
  | ShiftKind<NoiseShiftSpec>
  | ShiftKind<MissingShiftSpec>
  | ShiftKind<QuantizeShiftSpec>
  | ShiftKind<SubpopulationShiftSpec>
  | ShiftKind<PriorShiftSpec>;

/** The shift registry: one entry per kind. */
export const shifts: readonly AnyShiftKind[] = [meanShift, scaleShift, noiseShift, missingShift, quantizeShift, subpopulationShift, priorShift];

/** Names of the shift kinds (`mean`, `scale`, `noise`, `missing`, `quantize`, `subpopulation`, `prior`). */
export const shiftNames: readonly ShiftSpec['shift'][] = shifts.map((s) => s.name);

/** The shift kind of a name; throws UsageError "unknown shift 'x'; known: …". */
export function getShift(name: string): ShiftKind<ShiftSpec> {
  const s = shifts.find((k) => k.name === name);
  if (!s) throw new UsageError(`unknown shift '${name}'; known: ${shiftNames.join(', ')}`);
  return s as unknown as ShiftKind<ShiftSpec>;
}
