/**
 * Corruption error summary (Hendrycks & Dietterich 2019, §3): per corruption c, the error summed
 * over severities, E_c = Σ_s E_{s,c}, and the mean over corruptions. When — and only when — the
 * user names a baseline run on the same data, it is normalised:
 *
 *   CE_c = Σ_s E_{s,c} / Σ_s E^base_{s,c},          mCE = mean_c CE_c
 *   relative CE_c = Σ_s (E_{s,c} − E_clean) / Σ_s (E^base_{s,c} − E^base_clean),   relative mCE = mean_c
 *
 * (the paper's baseline is AlexNet on ImageNet-C). A baseline must say which data it was measured
 * on (`dataHash`, the dataset's content hash) and match this run's, so the summary is never
 * normalised by numbers from another dataset; otherwise it is a DataError.
 *
 * Example: `summarizeCorruptionErrors({ corruptions: [{ corruption: 'fog', errors: [.1, .2, .3, .4, .5] }] })`
 * gives errorSum 1.5 for fog and `normalised: false`.
 */
import { DataError } from '../../errors.js';

/** A model's error rates on one corruption at severities 1–5. */
export interface CorruptionErrors {
  readonly corruption: string;
  /** Error rates (0–1) at severities 1, 2, 3, 4, 5. */
  readonly errors: readonly number[];
}

/** One model's corruption errors on one dataset. */
export interface ErrorRun {
  /** Model label (required for a baseline: it is how the summary names it). */
  readonly name?: string;
  /** Content hash of the clean dataset (`datasetHash`); required on both sides to normalise. */
  readonly dataHash?: string;
  /** Error on the clean data (needed for the relative mCE). */
  readonly cleanError?: number;
  readonly corruptions: readonly CorruptionErrors[];
}

export interface CorruptionSummaryRow {
  readonly corruption: string;
  /** Σ over severities of the error. */
  readonly errorSum: number;
  /** Mean error over severities. */
  readonly meanError: number;
  /** Corruption error against the baseline, or null when not normalised. */
  readonly ce: number | null;
  /** Relative corruption error, or null (no baseline, no clean errors, or a zero denominator). */
  readonly relativeCe: number | null;
}

export interface CorruptionSummary {
  readonly rows: readonly CorruptionSummaryRow[];
  /** Mean over corruptions of the error sum (unnormalised). */
  readonly meanErrorSum: number;
  /** Mean over corruptions and severities of the error. */
  readonly meanError: number;
  /** True when normalised by a named baseline. */
  readonly normalised: boolean;
  readonly baseline: string | null;
  readonly mCE: number | null;
  readonly relativeMCE: number | null;
}

function checkRun(run: ErrorRun, what: string): void {
  if (run.corruptions.length === 0) throw new DataError(`${what} has no corruption errors`);
  const seen = new Set<string>();
  for (const c of run.corruptions) {
    if (seen.has(c.corruption)) throw new DataError(`${what} lists corruption '${c.corruption}' twice`);
    seen.add(c.corruption);
    if (c.errors.length !== 5) throw new DataError(`${what}: '${c.corruption}' has ${c.errors.length} errors; expected 5, one per severity 1-5`);
    c.errors.forEach((e, i) => {
      if (!(Number.isFinite(e) && e >= 0 && e <= 1)) throw new DataError(`${what}: '${c.corruption}' error at severity ${i + 1} must be in [0, 1], got ${e}`);
    });
  }
  if (run.cleanError !== undefined && !(run.cleanError >= 0 && run.cleanError <= 1)) throw new DataError(`${what}: 'cleanError' must be in [0, 1], got ${run.cleanError}`);
}

const sum = (a: readonly number[]): number => a.reduce((s, v) => s + v, 0);

/** Summarises a run's corruption errors, normalised by `baseline` only when one is given. */
export function summarizeCorruptionErrors(run: ErrorRun, baseline?: ErrorRun): CorruptionSummary {
  checkRun(run, 'this run');
  let base: Map<string, CorruptionErrors> | null = null;
  if (baseline) {
    const name = baseline.name;
    if (!name) throw new DataError("the baseline run needs a 'name' (the model it measured) to be reported against");
    checkRun(baseline, `baseline '${name}'`);
    if (!baseline.dataHash || !run.dataHash) {
      throw new DataError(`baseline '${name}' and this run must both give 'dataHash' (the data they were measured on) before errors are normalised`);
    }
    if (baseline.dataHash !== run.dataHash) {
      throw new DataError(
        `baseline '${name}' was measured on data ${baseline.dataHash.slice(0, 16)}…, this run on ${run.dataHash.slice(0, 16)}…; mCE needs a baseline on the same data`,
      );
    }
    base = new Map(baseline.corruptions.map((c) => [c.corruption, c]));
    for (const c of run.corruptions) if (!base.has(c.corruption)) throw new DataError(`baseline '${name}' has no errors for corruption '${c.corruption}'`);
  }
  const rows = run.corruptions.map((c): CorruptionSummaryRow => {
    const errorSum = sum(c.errors);
    let ce: number | null = null;
    let relativeCe: number | null = null;
    const b = base?.get(c.corruption);
    if (b) {
      const bs = sum(b.errors);
      if (!(bs > 0)) throw new DataError(`baseline '${baseline!.name}' has zero error on '${c.corruption}' at every severity, so CE is undefined`);
      ce = errorSum / bs;
      if (run.cleanError !== undefined && baseline!.cleanError !== undefined) {
        const den = sum(b.errors.map((e) => e - baseline!.cleanError!));
        relativeCe = den > 0 ? sum(c.errors.map((e) => e - run.cleanError!)) / den : null;
      }
    }
    return { corruption: c.corruption, errorSum, meanError: errorSum / 5, ce, relativeCe };
  });
  const mean = (a: number[]): number => sum(a) / a.length;
  const rel = rows.map((r) => r.relativeCe);
  return {
    rows,
    meanErrorSum: mean(rows.map((r) => r.errorSum)),
    meanError: mean(rows.map((r) => r.meanError)),
    normalised: base !== null,
    baseline: baseline?.name ?? null,
    mCE: base ? mean(rows.map((r) => r.ce!)) : null,
    relativeMCE: base && rel.every((r) => r !== null) ? mean(rel as number[]) : null,
  };
}
