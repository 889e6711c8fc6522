/**
 * Checking drift config values: every failure is a one-line ConfigError naming the key path, the bad
 * value and what is allowed (`'drift[0].amount' must be a number in (-inf, inf), got 'x'`).
 */
import { ConfigError } from '../../errors.js';

export { formatRange, show, keyPath, checkNumber, asObject, checkKeys, cfgNumber, type NumberRange } from '../../config-check.js';
import { show, keyPath } from '../../config-check.js';

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
