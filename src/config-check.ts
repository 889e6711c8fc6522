/**
 * Checking config values, shared by every spec parser: each failure is a one-line ConfigError
 * naming the key path, the bad value and what is allowed
 * (`'drift[0].amount' must be a number in (-inf, inf), got 'x'`).
 */
import { ConfigError } from './errors.js';

/** A numeric range; `maxExclusive`/`minExclusive` make an end open. */
export interface NumberRange {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  integer?: boolean;
}

/** The range as people write it: `[0, 1)`, `(1, inf)`. */
export function formatRange(r: NumberRange): string {
  const lo = r.min === undefined ? '(-inf' : `${r.minExclusive ? '(' : '['}${r.min}`;
  const hi = r.max === undefined ? 'inf)' : `${r.max}${r.maxExclusive ? ')' : ']'}`;
  return `${lo}, ${hi}`;
}

/** A value as it appears in a message (strings quoted, objects as JSON, long text cut). */
export function show(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 60 ? v.slice(0, 57) + '...' : v}'`;
  if (typeof v !== 'object' || v === null) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** `where.key`, `key` at the top level, or `--key` when `where` is `--` (command-line options). */
export function keyPath(where: string, key: string | number): string {
  if (typeof key === 'number') return `${where}[${key}]`;
  if (where === '--') return `--${key}`;
  return where ? `${where}.${key}` : key;
}

/**
 * Checks that `value` is a number in `range`; otherwise throws `make(message)` with the message
 * `'<name>' must be <a number|an integer> in <range>, got <value>`.
 */
export function checkNumber(name: string, value: unknown, range: NumberRange, make: (msg: string) => Error = (m) => new ConfigError(m)): number {
  const r = formatRange(range);
  if (typeof value !== 'number' || !Number.isFinite(value)) throw make(`'${name}' must be ${range.integer ? 'an integer' : 'a number'} in ${r}, got ${show(value)}`);
  if (range.integer && !Number.isInteger(value)) throw make(`'${name}' must be an integer in ${r}, got ${value}`);
  const { min, max } = range;
  const below = min !== undefined && (range.minExclusive ? value <= min : value < min);
  const above = max !== undefined && (range.maxExclusive ? value >= max : value > max);
  if (below || above) throw make(`'${name}' must be in ${r}, got ${value}`);
  return value;
}

/** Checks that `obj` is a plain object and returns it. */
export function asObject(obj: unknown, where: string, example: string): Record<string, unknown> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new ConfigError(`'${where}' must be an object like ${example}, got ${show(obj)}`);
  }
  return obj as Record<string, unknown>;
}

/** Throws a ConfigError for the first key of `obj` not in `allowed`. */
export function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ConfigError(`'${where}' has unknown key '${k}'; allowed keys are ${allowed.join(', ')}`);
  }
}

/** A required (or defaulted) number at `obj[key]`. */
export function cfgNumber(obj: Record<string, unknown>, key: string, where: string, range: NumberRange, dflt?: number): number {
  const v = obj[key];
  if (v === undefined) {
    if (dflt !== undefined) return dflt;
    throw new ConfigError(`'${keyPath(where, key)}' is required: ${range.integer ? 'an integer' : 'a number'} in ${formatRange(range)}`);
  }
  return checkNumber(keyPath(where, key), v, range);
}
