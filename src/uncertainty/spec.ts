import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
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

const KEYS = ['temperature', 'conformal', 'ensemble', 'mc_dropout', 'selective', 'calibration_fraction'] as const;
const CONFORMAL_KEYS = ['alpha', 'score', 'randomized'] as const;
const SELECTIVE_KEYS = ['target_risk'] as const;
const EXAMPLE = '{ temperature: true, conformal: { alpha: 0.1 }, ensemble: [m2.onnx], mc_dropout: 20, selective: { target_risk: 0.05 } }';

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v));

function object(v: unknown, where: string, keys: readonly string[], example: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`'${where}' must be an object like ${example}, got ${show(v)}`);
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) throw new ConfigError(`'${where}' has unknown key '${k}'; allowed keys are ${keys.join(', ')}`);
  }
  return v as Record<string, unknown>;
}

function boolean(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(`'${where}' must be true or false, got ${show(v)}`);
  return v;
}

function openInterval(v: unknown, where: string, lo: number, hi: number, loClosed = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (loClosed ? v < lo : v <= lo) || v >= hi) {
    throw new ConfigError(`'${where}' must be a number in ${loClosed ? '[' : '('}${lo}, ${hi}), got ${show(v)}`);
  }
  return v;
}

/**
 * Validates the `uncertainty` section. `where` is its key path for messages (e.g. 'uncertainty');
 * ensemble paths are resolved against `baseDir` (default: the working directory) and must exist.
 * Every error is a one-line ConfigError naming the key path and what is allowed.
 */
export function parseUncertaintySpec(obj: unknown, where: string, baseDir = '.'): UncertaintySpec {
  const o = object(obj, where, KEYS, EXAMPLE);
  const spec: UncertaintySpec = { temperature: false, conformal: null, ensemble: [], mc_dropout: 0, selective: null, calibration_fraction: 0.5 };
  if (o.temperature !== undefined) spec.temperature = boolean(o.temperature, `${where}.temperature`);
  if (o.conformal !== undefined && o.conformal !== null && o.conformal !== false) {
    const w = `${where}.conformal`;
    const c = object(o.conformal, w, CONFORMAL_KEYS, "{ alpha: 0.1, score: 'lac' }");
    if (c.alpha === undefined) throw new ConfigError(`'${w}.alpha' is required: a number in (0, 1)`);
    const alpha = openInterval(c.alpha, `${w}.alpha`, 0, 1);
    const score = c.score ?? 'lac';
    if (!CONFORMAL_SCORES.includes(score as ConformalScore)) throw new ConfigError(`'${w}.score' must be one of ${CONFORMAL_SCORES.map((s) => `'${s}'`).join(', ')}, got ${show(score)}`);
    const randomized = c.randomized === undefined ? score === 'aps' : boolean(c.randomized, `${w}.randomized`);
    if (randomized && score !== 'aps') throw new ConfigError(`'${w}.randomized' applies to score 'aps' only, got score '${String(score)}'`);
    spec.conformal = { alpha, score: score as ConformalScore, randomized };
  }
  if (o.ensemble !== undefined && o.ensemble !== null) {
    const w = `${where}.ensemble`;
    if (!Array.isArray(o.ensemble)) throw new ConfigError(`'${w}' must be a list of .onnx paths, got ${show(o.ensemble)}`);
    spec.ensemble = o.ensemble.map((p, i) => {
      if (typeof p !== 'string' || p.trim() === '') throw new ConfigError(`'${w}[${i}]' must be a path to an .onnx model, got ${show(p)}`);
      const abs = path.resolve(baseDir, p);
      if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) throw new ConfigError(`'${w}[${i}]': no such model file ${abs}`);
      return abs;
    });
  }
  if (o.mc_dropout !== undefined && o.mc_dropout !== false && o.mc_dropout !== null) {
    const v = o.mc_dropout;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v === 1 || v > 1000) {
      throw new ConfigError(`'${where}.mc_dropout' must be the number of passes, an integer in [2, 1000] (0 or false: off), got ${show(v)}`);
    }
    spec.mc_dropout = v;
  }
  if (o.selective !== undefined && o.selective !== null && o.selective !== false) {
    const w = `${where}.selective`;
    const s = object(o.selective, w, SELECTIVE_KEYS, '{ target_risk: 0.05 }');
    if (s.target_risk === undefined) throw new ConfigError(`'${w}.target_risk' is required: a number in [0, 1)`);
    spec.selective = { target_risk: openInterval(s.target_risk, `${w}.target_risk`, 0, 1, true) };
  }
  if (o.calibration_fraction !== undefined) spec.calibration_fraction = openInterval(o.calibration_fraction, `${where}.calibration_fraction`, 0, 1);
  return spec;
}
