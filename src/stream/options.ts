/**
 * Monitor options: one typed object per monitor, checked against a table of ranges (numbers) or
 * choices (strings). The constructors report a bad option as a UsageError naming it
 * (`'ADWIN.delta' must be in (0, 1), got 2`); the scenario reports it as a ConfigError naming the
 * key path (`'monitors[3].delta' …`).
 */
import { ConfigError, UsageError } from '../errors.js';
import { checkNumber, formatRange, show, type NumberRange } from '../stress/drift/config.js';

/** A numeric range or the allowed strings of each option. */
export type OptionRanges<T> = { readonly [K in keyof T]-?: NumberRange | readonly string[] };

const usage = (m: string): Error => new UsageError(m);
const config = (m: string): Error => new ConfigError(m);

/**
 * Fills `given` with `defaults` and checks every value; unknown keys are errors. `what` names the
 * owner in messages (`ADWIN`, `monitors[2]`); `asConfig` makes the errors ConfigErrors.
 */
export function resolveOptions<T extends object>(what: string, defaults: Required<T>, ranges: OptionRanges<T>, given: Partial<T> | Record<string, unknown> = {}, asConfig = false, ignore: readonly string[] = []): Required<T> {
  const make = asConfig ? config : usage;
  const out = { ...defaults } as Record<string, unknown>;
  const table = ranges as unknown as Record<string, NumberRange | readonly string[]>;
  for (const [k, v] of Object.entries(given)) {
    if (ignore.includes(k)) continue;
    const r = table[k];
    if (r === undefined) throw make(`'${what}' has unknown option '${k}'; allowed: ${Object.keys(table).join(', ')}`);
    if (v === undefined) continue;
    const name = `${what}.${k}`;
    if (Array.isArray(r)) {
      if (typeof v !== 'string' || !r.includes(v)) throw make(`'${name}' must be one of ${r.map((c) => `'${c}'`).join(', ')}, got ${show(v)}`);
      out[k] = v;
    } else out[k] = checkNumber(name, v, r as NumberRange, make);
  }
  return out as Required<T>;
}

/** One line per option: `delta (0, 1), default 0.002`, for help texts and `list`. */
export function describeOptions<T extends object>(defaults: Required<T>, ranges: OptionRanges<T>): string[] {
  const table = ranges as unknown as Record<string, NumberRange | readonly string[]>;
  return Object.keys(table).map((k) => {
    const r = table[k]!;
    const allowed = Array.isArray(r) ? r.join(' | ') : formatRange(r as NumberRange);
    return `${k} ${allowed}, default ${String((defaults as Record<string, unknown>)[k])}`;
  });
}

/** Common ranges. */
export const PROBABILITY_OPEN: NumberRange = { min: 0, max: 1, minExclusive: true, maxExclusive: true };
export const COUNT = (min: number, max = 1_000_000): NumberRange => ({ min, max, integer: true });
