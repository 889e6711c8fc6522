/**
 * The campaign config section `explain:` — validated by `parseExplainSpec`:
 *
 * ```yaml
 * explain: { method: ig, samples: 32, steps: 64, target: true, layers: true }
 * ```
 *
 * - `method`: one of the attribution methods (default `ig`);
 * - `samples`: the first N items of each cell are explained (default 32, in [1, 100000]);
 * - `steps`: Integrated Gradients intervals (default 64) or SmoothGrad noisy copies (default 25);
 *   not allowed for the other methods;
 * - `target`: `true` (the true label, default), `pred` (the clean prediction) or a class number;
 * - `layers`: also measure layer sensitivity (default true).
 */
import { ConfigError } from '../errors.js';
import { isMethodName, methodNames } from './registry.js';
import type { MethodName, TargetSpec } from './types.js';

export interface ExplainSpec {
  method: MethodName;
  samples: number;
  /** IG intervals or SmoothGrad copies; undefined for the other methods (their defaults apply). */
  steps?: number;
  target: TargetSpec;
  layers: boolean;
}

const KEYS = ['method', 'samples', 'steps', 'target', 'layers'];

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
}

function int(v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`'${where}' must be an integer in [${min}, ${max}], got ${show(v)}`);
  return v;
}

/**
 * Validates an `explain` config entry; `where` is its key path for messages (e.g. `explain`).
 * Returns it normalised (defaults filled in); the result round-trips through JSON.
 */
export function parseExplainSpec(obj: unknown, where: string): ExplainSpec {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new ConfigError(`'${where}' must be a mapping like {method: ig, samples: 32}, got ${show(obj)}`);
  }
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) throw new ConfigError(`unknown key '${k}' in ${where}; allowed: ${KEYS.join(', ')}`);
  const method = o.method ?? 'ig';
  if (!isMethodName(method)) throw new ConfigError(`'${where}.method' must be one of ${methodNames.join(', ')}, got ${show(method)}`);
  const samples = o.samples === undefined ? 32 : int(o.samples, `${where}.samples`, 1, 100000);
  let steps: number | undefined;
  if (o.steps !== undefined) {
    if (method !== 'ig' && method !== 'smoothgrad') throw new ConfigError(`'${where}.steps' applies to methods ig and smoothgrad only, not '${method}'`);
    steps = int(o.steps, `${where}.steps`, method === 'ig' ? 2 : 1, 4096);
  } else if (method === 'ig') steps = 64;
  else if (method === 'smoothgrad') steps = 25;
  let target: TargetSpec = 'true';
  const t = o.target;
  if (t !== undefined) {
    if (t === true || t === 'true') target = 'true';
    else if (t === 'pred') target = 'pred';
    else if (typeof t === 'number' && Number.isInteger(t) && t >= 0) target = t;
    else throw new ConfigError(`'${where}.target' must be true, pred or a class number >= 0, got ${show(t)}`);
  }
  const layers = o.layers === undefined ? true : o.layers;
  if (typeof layers !== 'boolean') throw new ConfigError(`'${where}.layers' must be true or false, got ${show(layers)}`);
  return steps === undefined ? { method, samples, target, layers } : { method, samples, steps, target, layers };
}
