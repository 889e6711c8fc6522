/**
 * Typed errors. The library throws these and never prints or exits; the CLI maps each to one line
 * on stderr and an exit code (2 for bad input or usage, 1 for a failed check, anything else a bug).
 */
export class GauntletError extends Error {
  /** Exit code the CLI uses for this error. */
  readonly exitCode: number = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A parameter or option is missing, malformed or out of range. */
export class UsageError extends GauntletError {}

/** A configuration file (YAML/JSON) is malformed or names something unknown. */
export class ConfigError extends GauntletError {}

/** A data file is missing, unreadable, malformed, or does not fit the model. */
export class DataError extends GauntletError {}

/** A model file is missing, not ONNX, or cannot be run. */
export class ModelError extends GauntletError {}

/** The gradient engine met ops it has no vector–Jacobian rule for. Lists every such op and node. */
export class UnsupportedOpError extends GauntletError {
  readonly ops: readonly { opType: string; nodeName: string; input?: string }[];
  /** `input`, when given, names the node input (a weight, say) whose gradient has no rule. */
  constructor(ops: readonly { opType: string; nodeName: string; input?: string }[], remedy?: string) {
    const types = [...new Set(ops.map((o) => o.opType))].sort();
    const nodes = ops.map((o) => `${o.opType} (${o.nodeName || 'unnamed'}${o.input ? `, input '${o.input}'` : ''})`).join(', ');
    super(
      `no gradient rule for op${types.length > 1 ? 's' : ''} ${types.join(', ')} at node${ops.length > 1 ? 's' : ''} ${nodes}; ` +
        (remedy ?? (ops.some((o) => o.input) ? 'that parameter cannot be trained (freeze it)' : 'only black-box (score-based) methods can run on this model')),
    );
    this.ops = ops;
  }
}

/** A check or budget failed (exit code 1). */
export class CheckFailedError extends GauntletError {
  override readonly exitCode: number = 1;
}

/** Checks a numeric parameter and throws a UsageError naming it and its allowed range. */
export function checkRange(
  name: string,
  value: number,
  opts: { min?: number; max?: number; minExclusive?: boolean; integer?: boolean },
): number {
  const { min, max, minExclusive, integer } = opts;
  const range = `${min === undefined ? '(-inf' : minExclusive ? `(${min}` : `[${min}`}, ${max === undefined ? 'inf)' : `${max}]`}`;
  if (!Number.isFinite(value)) throw new UsageError(`'${name}' must be a finite number in ${range}, got ${value}`);
  if (integer && !Number.isInteger(value)) throw new UsageError(`'${name}' must be an integer in ${range}, got ${value}`);
  if (min !== undefined && (minExclusive ? value <= min : value < min)) throw new UsageError(`'${name}' must be in ${range}, got ${value}`);
  if (max !== undefined && value > max) throw new UsageError(`'${name}' must be in ${range}, got ${value}`);
  return value;
}
