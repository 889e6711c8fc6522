/**
 * The campaign's one entry point to distribution shift: `parseDriftSpec` validates a config entry,
 * `applyDrift` applies it to a dataset (never mutating it).
 *
 * Config entries:
 * - `{ corruption: 'gaussian_noise', severity: 3 }` — an image corruption (see `gauntlet list corruptions`);
 * - `{ shift: 'mean', features: ['age'], amount: 1.5 }`, `{ shift: 'scale', factor: 2 }`,
 *   `{ shift: 'noise', amount: 0.5 }`, `{ shift: 'missing', rate: 0.1 }`, `{ shift: 'quantize', levels: 4 }`,
 *   `{ shift: 'subpopulation', feature: 'age', op: '>', value: 40, weight: 3 }`,
 *   `{ shift: 'prior', proportions: [0.7, 0.2, 0.1] }`.
 *
 * Example: `applyDrift(ds, parseDriftSpec({ corruption: 'fog', severity: 2 }, 'drift[0]'), new Rng(0))`.
 */
import { ConfigError, DataError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import type { Dataset } from '../../data/dataset.js';
import { fail, keyPath, opt, parseOptions, type OptionMap, type ParseContext } from '../../options/schema.js';
import { corruptionNames, getCorruption, getShift, shiftNames, type ShiftSpec } from './registry.js';
import { withInputs, type DriftResult, type ShiftData, type ShiftPass } from './shift/common.js';
import { missingPass } from './shift/missing.js';
import { honourImmutable } from './immutable.js';
import type { BatchShape, Severity } from './types.js';

/** An image corruption at a severity. */
export interface CorruptionSpec {
  readonly corruption: string;
  readonly severity: Severity;
}

/** One drift: an image corruption or a tabular / general shift. */
export type DriftSpec = CorruptionSpec | ShiftSpec;

export type { DriftResult };

const EXAMPLE = "{corruption: 'gaussian_noise', severity: 3} or {shift: 'mean', amount: 1.5}";

/** The keys of a corruption entry (every corruption takes these; none has keys of its own). */
export const CORRUPTION_OPTIONS = {
  corruption: opt.choice(corruptionNames, { doc: 'the image corruption', required: true, metavar: 'NAME' }),
  severity: opt.integer({ doc: 'severity, 1 (mild) to 5 (severe), as in ImageNet-C', min: 1, max: 5, required: true, metavar: 'S' }),
} satisfies OptionMap;

/** The option map of one corruption (the same for all: corruption and severity). */
export function corruptionOptions(name: string): OptionMap {
  getCorruption(name);
  return CORRUPTION_OPTIONS;
}

/**
 * Validates a drift config entry and returns it normalised (defaults filled in). `where` is the
 * entry's key path for messages (`drift[2]`). Throws an OptionError naming the key path, the bad
 * value and the allowed values. The result round-trips through JSON. `{shift: 'missing', fill:
 * 'nan'}` is refused here (models cannot run on NaN); the shift kind's own `parse` accepts it for
 * export. With `camelCase` (objects from TypeScript), camelCase keys are the canonical spelling.
 */
export function parseDriftSpec(obj: unknown, where: string, ctx: Omit<ParseContext, 'where'> = {}): DriftSpec {
  const c: ParseContext = { ...ctx, where };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) fail(c, { code: 'type', value: obj, expected: `a mapping like ${EXAMPLE}` });
  const o = obj as Record<string, unknown>;
  if ('corruption' in o && 'shift' in o) throw new ConfigError(`'${where}' has both 'corruption' and 'shift'; give one`);
  if ('corruption' in o) {
    const s = parseOptions(CORRUPTION_OPTIONS, o, c);
    return { corruption: s.corruption, severity: s.severity as Severity };
  }
  if ('shift' in o) {
    const name = o.shift;
    if (typeof name !== 'string' || !(shiftNames as readonly string[]).includes(name)) {
      fail(keyPath(where, 'shift'), { code: 'choice', value: name, expected: `one of ${shiftNames.join(', ')}` });
    }
    let spec: ShiftSpec;
    try {
      spec = getShift(name).parse(o, c);
    } catch (e) {
      // Say which shift a key is unknown for.
      if (e instanceof ConfigError && /unknown key/.test(e.message)) throw new ConfigError(e.message.replace(/; allowed keys are/, ` for shift '${name}'; allowed keys are`));
      throw e;
    }
    if (spec.shift === 'missing' && spec.fill === 'nan') {
      throw new ConfigError(`'${keyPath(where, 'fill')}' 'nan' gives NaN inputs, which models cannot run; use 'mean' (NaN is for exporting data: gauntlet shift --kind missing --fill nan)`);
    }
    return spec;
  }
  throw new ConfigError(`'${where}' must have 'corruption' (one of ${corruptionNames.join(', ')}) or 'shift' (one of ${shiftNames.join(', ')})`);
}

/** The [n, C, H, W] batch shape of an image dataset; DataError for other data. */
export function imageBatchShape(ds: Pick<Dataset, 'name' | 'size' | 'itemShape'>): BatchShape {
  const s = ds.itemShape;
  if (s.length === 2) return [ds.size, 1, s[0]!, s[1]!];
  if (s.length === 3 && (s[0] === 1 || s[0] === 3)) return [ds.size, s[0]!, s[1]!, s[2]!];
  throw new DataError(
    `${ds.name}: image corruptions need images of shape [C, H, W] with C = 1 or 3 (or [H, W]), got items of shape [${s.join(', ')}]`,
  );
}

/** A one-line description of a spec (`gaussian_noise severity 3`, `shift mean amount=1.5`). */
export function describeSpec(spec: DriftSpec): string {
  if ('corruption' in spec) return `${spec.corruption} severity ${spec.severity}`;
  const rest = Object.entries(spec)
    .filter(([k]) => k !== 'shift')
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return `shift ${spec.shift}${rest.length ? ' ' + rest.join(' ') : ''}`;
}

/**
 * Applies a drift to a dataset, drawing from `rng`; the dataset is not mutated. Resampling shifts
 * (`prior`, `subpopulation` resample) return the source item of each output item in `indices`;
 * `subpopulation` in reweight mode returns per-item `weights`. `immutable` (column indices of
 * tabular data) restricts value-changing shifts to the other features (see `immutable.ts`).
 * `onProgress` counts images done (corruptions; shifts are quick).
 */
export function applyDrift(ds: Dataset, spec: DriftSpec, rng: Rng, opts: { readonly immutable?: readonly number[]; onProgress?: (done: number, total: number) => void } = {}): DriftResult {
  if ('corruption' in spec) {
    const c = getCorruption(spec.corruption);
    const shape = imageBatchShape(ds);
    const x = c.apply(ds.x, shape, spec.severity, rng, opts.onProgress);
    return { dataset: withInputs(ds, x), description: `${c.name} at severity ${spec.severity}` };
  }
  // Immutable features (column indices, from the data declaration) are left alone by value-changing shifts.
  return getShift(spec.shift).apply(ds, honourImmutable(ds, spec, opts.immutable), rng);
}

/**
 * A shift's two passes for data read in chunks (see `ShiftPass`): the values `applyDrift` gives, never
 * a whole set. `immutable` as in `applyDrift`; `exportNan` lets `missing` with fill 'nan' through
 * (export only: `gauntlet shift`), which `applyDrift` refuses.
 */
export function startShift(ds: ShiftData, spec: ShiftSpec, opts: { readonly immutable?: readonly number[]; readonly exportNan?: boolean } = {}): ShiftPass {
  const s = honourImmutable(ds, spec, opts.immutable);
  if (s.shift === 'missing' && opts.exportNan) return missingPass(ds, s);
  return getShift(s.shift).stream(ds, s);
}
