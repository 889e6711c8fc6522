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

/** One node the gradient engine cannot differentiate, and why. */
export interface UnsupportedOp {
  opType: string;
  nodeName: string;
  /** Why: 'no gradient rule' for an op without a rule, else the limit the node's rule met. */
  reason?: string;
  /** The node input (a weight, an exponent) that needs a gradient the rule does not give, if one does. */
  input?: string;
}

/** The reason given for an op that has no vector–Jacobian rule at all. */
export const NO_GRADIENT_RULE = 'no gradient rule';

/**
 * The gradient engine cannot differentiate the model: ops it has no vector–Jacobian rule for, or
 * nodes whose rule does not cover their attributes, shapes or types. Lists every such op and node,
 * each with its reason (`reasons`), or, for a limit of the whole model (its opset), `modelReason`.
 * Score-based (black-box) methods still run: the message names `--attack square`.
 */
export class UnsupportedOpError extends GauntletError {
  readonly ops: readonly (UnsupportedOp & { reason: string })[];
  /** A limit of the whole model rather than of a node (e.g. its opset), else null. */
  readonly modelReason: string | null;
  /**
   * `remedy` replaces the default advice (black-box methods) where it does not fit, e.g. the
   * training graph's "freeze the parameters behind it".
   */
  constructor(ops: readonly UnsupportedOp[], modelReason: string | null = null, remedy?: string) {
    const withReasons = ops.map((o) => ({ ...o, reason: o.reason ?? NO_GRADIENT_RULE }));
    super(`${UnsupportedOpError.describe(withReasons, modelReason)}; ${remedy ?? 'only black-box (score-based) methods can run on this model (for attacks: --attack square)'}`);
    this.ops = withReasons;
    this.modelReason = modelReason;
  }

  /** What cannot be differentiated, without the advice: ops, nodes and reasons. */
  get reasons(): string {
    return UnsupportedOpError.describe(this.ops, this.modelReason);
  }

  private static describe(ops: readonly { opType: string; nodeName: string; input?: string; reason: string }[], modelReason: string | null): string {
    const parts: string[] = [];
    if (modelReason) parts.push(`no gradients for this model: ${modelReason}`);
    if (ops.length > 0) {
      const types = [...new Set(ops.map((o) => o.opType))].sort();
      const nodes = ops
        .map((o) => `${o.opType} (${o.nodeName || 'unnamed'}${o.input ? `, input '${o.input}'` : ''})${o.reason === NO_GRADIENT_RULE ? '' : ` [${o.reason}]`}`)
        .join(', ');
      parts.push(`no gradient rule for op${types.length > 1 ? 's' : ''} ${types.join(', ')} at node${ops.length > 1 ? 's' : ''} ${nodes}`);
    }
    return parts.join('; ');
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

/**
 * A campaign stopped because its AbortSignal fired (Ctrl-C in the CLI). Every finished cell is
 * checkpointed in `dir`; resuming there continues from `checkpointed` of `total` cells. The exit
 * code is the shell's for the signal: 130 for SIGINT, 143 for SIGTERM.
 */
export class RunInterruptedError extends GauntletError {
  override readonly exitCode: number;
  readonly checkpointed: number;
  readonly total: number;
  readonly dir: string;
  /** The abort reason when it is a signal name ('SIGINT', 'SIGTERM'), else null. */
  readonly signal: string | null;
  /** Whether the run wrote no checkpoint and its directory was removed again. */
  readonly removed: boolean;
  constructor(info: { checkpointed: number; total: number; dir: string; signal?: string | null; removed?: boolean }) {
    super(`${info.dir}: run interrupted${info.signal ? ` (${info.signal})` : ''}; ${info.checkpointed} of ${info.total} cells checkpointed`);
    this.checkpointed = info.checkpointed;
    this.total = info.total;
    this.dir = info.dir;
    this.signal = info.signal ?? null;
    this.removed = info.removed ?? false;
    this.exitCode = this.signal === 'SIGTERM' ? 143 : 130;
  }
}

/** The run registry cannot be opened, read or written (bad URL, unreachable server, schema newer than this Gauntlet). */
export class RegistryError extends GauntletError {}
/**
 * The queue service (Redis) cannot be reached or stopped answering, within the bounded retries and
 * timeouts Gauntlet uses. Exit code 3: nothing is wrong with the input; try again when it is back.
 */
export class QueueUnavailableError extends GauntletError {
  override readonly exitCode: number = 3;
}

/** A cell failed on a queue worker, for good (bad input there, or every retry spent); the message is the worker's one line. */
export class CellJobError extends GauntletError {}
