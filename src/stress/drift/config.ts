/**
 * Checking drift config values: every failure is a one-line ConfigError naming the key path, the bad
 * value and what is allowed (`'drift[0].amount' must be a number in (-inf, inf), got 'x'`).
 */
import { ConfigError } from '../../errors.js';

/** A numeric range; `minExclusive` / `maxExclusive` make an end open. */
export interface NumberRange {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  integer?: boolean;
}

/** The range as people write it: `[0, 1)`, `(0, inf)`. */
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

/** `where.key` (or `where[i]`), or the key alone at the top level. */
export function keyPath(where: string, key: string | number): string {
  if (typeof key === 'number') return `${where}[${key}]`;
  return where ? `${where}.${key}` : key;
}

/** Checks that `value` is a number in `range`; throws ConfigError (or `make`'s error) otherwise. */
export function checkNumber(name: string, value: unknown, range: NumberRange, make: (msg: string) => Error = (m) => new ConfigError(m)): number {
  const r = formatRange(range);
  if (typeof value !== 'number' || !Number.isFinite(value)) throw make(`'${name}' must be ${range.integer ? 'an integer' : 'a number'} in ${r}, got ${show(value)}`);
  if (range.integer && !Number.isInteger(value)) throw make(`'${name}' must be an integer in ${r}, got ${value}`);
  const below = range.min !== undefined && (range.minExclusive ? value <= range.min : value < range.min);
  const above = range.max !== undefined && (range.maxExclusive ? value >= range.max : value > range.max);
  if (below || above) throw make(`'${name}' must be in ${r}, got ${value}`);
  return value;
}

/** Checks that `obj` is a plain object. */
export function asObject(obj: unknown, where: string, example: string): Record<string, unknown> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ConfigError(`'${where}' must be an object like ${example}, got ${show(obj)}`);
  return obj as Record<string, unknown>;
}

/** Throws ConfigError for the first key not in `allowed`. */
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

/** A required (or defaulted) string at `obj[key]` that must be one of `allowed`. */
export function cfgChoice<T extends string>(obj: Record<string, unknown>, key: string, where: string, allowed: readonly T[], dflt?: T): T {
  const v = obj[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(`'${keyPath(where, key)}' must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${show(v)}`);
  }
  return v as T;
}

/** A feature reference: a feature name (tabular data with names) or a 0-based column index. */
export type FeatureRef = string | number;

/** One feature reference at `obj[key]`. */
export function cfgFeature(v: unknown, where: string): FeatureRef {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  throw new ConfigError(`'${where}' must be a feature name or a 0-based feature index, got ${show(v)}`);
}

/** An optional non-empty list of feature references at `obj[key]` (absent: all features). */
export function cfgFeatures(obj: Record<string, unknown>, key: string, where: string): FeatureRef[] | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  const p = keyPath(where, key);
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(`'${p}' must be a non-empty list of feature names or indices, got ${show(v)}`);
  return v.map((f, i) => cfgFeature(f, keyPath(p, i)));
}
