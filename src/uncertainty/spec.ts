import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { fail, keyPath, opt, parseOptions, type OptionMap, type OptionsOf, type ParseContext } from '../options/schema.js';
import { CONFORMAL_SCORES, type ConformalScore } from './conformal.js';

/**
 * The `uncertainty` section of a campaign, validated and resolved. It round-trips through JSON:
 * `parseUncertaintySpec(JSON.parse(JSON.stringify(spec)), where)` gives the same spec.
 *
 * ```yaml
 * uncertainty:
 *   temperature: true                     # fit T on the calibration split, report ECE/NLL before → after
 *   conformal: { alpha: 0.1, score: aps } # split conformal sets (score: lac | aps; randomized: APS only, default true)
 *   ensemble: [m2.onnx, m3.onnx]          # further members; the campaign's model is member 0
 *   mc_dropout: 20                        # MC-dropout passes (the model needs Dropout nodes)
 *   selective: { target_risk: 0.05 }      # confidence threshold meeting this risk on clean data
 *   calibration_fraction: 0.5             # share of the clean items that calibrate (default 0.5)
 * ```
 */
export interface UncertaintySpec {
  temperature: boolean;
  conformal: { alpha: number; score: ConformalScore; randomized: boolean } | null;
  /** Absolute paths of further ensemble members (empty: no ensemble). */
  ensemble: string[];
  /** MC-dropout passes, in [2, 1000] (0: off). */
  mc_dropout: number;
  selective: { target_risk: number } | null;
  calibration_fraction: number;
}

const OFF = [null, false] as const;

/** `conformal:` — split conformal prediction sets. */
export const CONFORMAL_OPTIONS = {
  alpha: opt.number({ doc: 'miscoverage: sets cover the true label with probability 1 - alpha', min: 0, max: 1, minExclusive: true, maxExclusive: true, required: true }),
  score: opt.choice(CONFORMAL_SCORES, { doc: 'nonconformity score', default: 'lac' }),
  randomized: opt.boolean({ doc: 'randomized sets (aps only)', defaultText: 'true for aps' }),
} satisfies OptionMap;

/** `selective:` — selective prediction. */
export const SELECTIVE_OPTIONS = {
  target_risk: opt.number({ doc: 'error rate the confidence threshold must meet on clean data', min: 0, max: 1, maxExclusive: true, required: true }),
} satisfies OptionMap;

/** Null or false (or absent) turns an optional subsection off. */
function orOff<M extends OptionMap>(map: M, doc: string) {
  const inner = opt.object(map, { doc });
  return opt.custom<OptionsOf<M> | null, { doc: string; flag: false }>(
    `${inner.expected}, or false`,
    (v, p, ctx) => ((OFF as readonly unknown[]).includes(v) ? null : inner.check(v, p, ctx)),
    { doc, flag: false },
  );
}

const MC_EXPECTED = 'the number of passes, an integer in [2, 1000] (0 or false: off)';

/** The keys of the `uncertainty` section. */
export const UNCERTAINTY_OPTIONS = {
  temperature: opt.boolean({ doc: 'fit a temperature on the calibration split; report ECE/NLL before and after', default: false }),
  conformal: orOff(CONFORMAL_OPTIONS, 'split conformal sets: {alpha, score: lac | aps, randomized}'),
  ensemble: opt.custom<string[], { doc: string; default: string[]; flag: false }>(
    'a list of .onnx paths',
    (v, p, ctx) => {
      if (v === null) return [];
      if (!Array.isArray(v)) return fail(p, { code: 'type', value: v, expected: 'a list of .onnx paths' });
      return v.map((m: unknown, i) => {
        if (typeof m !== 'string' || m.trim() === '') return fail(`${p}[${i}]`, { code: 'type', value: m, expected: 'a path to an .onnx model' });
        const abs = path.resolve(ctx.baseDir ?? process.cwd(), m);
        if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) throw new ConfigError(`'${p}[${i}]': no such model file ${abs}`);
        return abs;
      });
    },
    { doc: "further ensemble members (the campaign's model is member 0)", default: [], flag: false },
  ),
  mc_dropout: opt.custom<number, { doc: string; default: number }>(
    MC_EXPECTED,
    (v, p) => (v === false || v === null || v === 0 ? 0 : typeof v === 'number' && Number.isInteger(v) && v >= 2 && v <= 1000 ? v : fail(p, { code: 'range', value: v, expected: MC_EXPECTED })),
    { doc: 'MC-dropout passes (the model needs Dropout nodes)', default: 0 },
  ),
  selective: orOff(SELECTIVE_OPTIONS, 'selective prediction: {target_risk}'),
  calibration_fraction: opt.number({ doc: 'share of the clean items that calibrate', min: 0, max: 1, minExclusive: true, maxExclusive: true, default: 0.5 }),
} satisfies OptionMap;

/**
 * Validates the `uncertainty` section. `where` is its key path for messages (e.g. 'uncertainty');
 * ensemble paths are resolved against `baseDir` (default: the working directory) and must exist.
 * Every error is a one-line ConfigError naming the key path and what is allowed.
 */
export function parseUncertaintySpec(obj: unknown, where: string, baseDir = '.', ctx: Omit<ParseContext, 'where' | 'baseDir'> = {}): UncertaintySpec {
  const c: ParseContext = { ...ctx, where, baseDir: path.resolve(baseDir) };
  const o = parseOptions(UNCERTAINTY_OPTIONS, obj, c);
  let conformal: UncertaintySpec['conformal'] = null;
  if (o.conformal) {
    const { alpha, score, randomized: r } = o.conformal;
    const randomized = r ?? score === 'aps';
    if (randomized && score !== 'aps') throw new ConfigError(`'${keyPath(where, 'conformal')}.randomized' applies to score 'aps' only, got score '${score}'`);
    conformal = { alpha, score, randomized };
  }
  return {
    temperature: o.temperature,
    conformal,
    ensemble: o.ensemble,
    mc_dropout: o.mcDropout,
    selective: o.selective ? { target_risk: o.selective.targetRisk } : null,
    calibration_fraction: o.calibrationFraction,
  };
}
