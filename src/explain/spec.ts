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
import { fail, keyPath, opt, parseOptions, type OptionMap, type ParseContext } from '../options/schema.js';
import { methodNames } from './registry.js';
import type { MethodName, TargetSpec } from './types.js';

export interface ExplainSpec {
  method: MethodName;
  samples: number;
  /** IG intervals or SmoothGrad copies; undefined for the other methods (their defaults apply). */
  steps?: number;
  target: TargetSpec;
  layers: boolean;
}

const TARGET_EXPECTED = 'true, pred or a class number >= 0';

/** The keys of the `explain` section. */
export const EXPLAIN_OPTIONS = {
  method: opt.choice(methodNames, { doc: 'the attribution method', default: 'ig' }),
  samples: opt.integer({ doc: 'the first N items of each cell are explained', min: 1, max: 100000, default: 32 }),
  steps: opt.integer({ doc: 'ig: trapezoid intervals, in [2, 4096]; smoothgrad: noisy copies (other methods: not allowed)', min: 1, max: 4096, defaultText: 'ig 64, smoothgrad 25' }),
  target: opt.custom<TargetSpec, { doc: string; default: TargetSpec }>(
    TARGET_EXPECTED,
    (t, p) => (t === true || t === 'true' ? 'true' : t === 'pred' ? 'pred' : typeof t === 'number' && Number.isInteger(t) && t >= 0 ? t : fail(p, { code: 'type', value: t, expected: TARGET_EXPECTED })),
    { doc: 'the class explained: the true label, the clean prediction, or a fixed class', default: 'true' },
  ),
  layers: opt.boolean({ doc: 'also measure layer sensitivity', default: true }),
} satisfies OptionMap;

/**
 * Validates an `explain` config entry; `where` is its key path for messages (e.g. `explain`).
 * Returns it normalised (defaults filled in); the result round-trips through JSON.
 */
export function parseExplainSpec(obj: unknown, where: string, ctx: Omit<ParseContext, 'where'> = {}): ExplainSpec {
  const c: ParseContext = { ...ctx, where };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) fail(c, { code: 'type', value: obj, expected: 'a mapping like {method: ig, samples: 32}' });
  const o = parseOptions(EXPLAIN_OPTIONS, obj, c);
  const { method, samples, target, layers } = o;
  let steps = o.steps;
  if (steps !== undefined) {
    if (method !== 'ig' && method !== 'smoothgrad') throw new ConfigError(`'${keyPath(where, 'steps')}' applies to methods ig and smoothgrad only, not '${method}'`);
    if (method === 'ig' && steps < 2) fail(keyPath(where, 'steps'), { code: 'range', value: steps, expected: 'an integer in [2, 4096] (for ig)' });
  } else if (method === 'ig') steps = 64;
  else if (method === 'smoothgrad') steps = 25;
  return steps === undefined ? { method, samples, target, layers } : { method, samples, steps, target, layers };
}
