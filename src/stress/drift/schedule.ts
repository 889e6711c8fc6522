/**
 * Drift schedules: how severe the drift is at each point of a stream, as plain data, for stream
 * simulation. Time t is the item's position in the stream (0, 1, 2, …); severities are 0 (clean)
 * to 5. Kinds, in the usual concept-drift vocabulary (Gama et al. 2014):
 *
 * - `abrupt`      `{ kind: 'abrupt', from: 0, to: 3, at: 500 }` — `from` before t = at, `to` from then on.
 * - `gradual`     `{ kind: 'gradual', from: 0, to: 3, start: 200, end: 800 }` — two concepts mixed:
 *                 each item is drifted (`to`) with probability rising linearly from 0 at `start` to 1 at `end`.
 * - `incremental` `{ kind: 'incremental', from: 0, to: 5, start: 0, end: 1000 }` — the severity itself
 *                 ramps linearly; fractional severities are rounded up or down at random with the
 *                 fraction as probability, so the mean follows the ramp.
 * - `recurring`   `{ kind: 'recurring', from: 0, to: 4, period: 300, duty: 0.25, phase: 0 }` — periodic:
 *                 `from` for the first (1 − duty) of each period, `to` for the rest.
 *
 * `severityAt(s, t)` is the expected severity at t; `sampleSchedule(s, n, rng)` draws the severity
 * of each of n items (one uniform draw per item whatever the kind, so schedules sampled with one seed
 * are coupled). Example: `sampleSchedule({ kind: 'abrupt', from: 0, to: 3, at: 100 }, 200, new Rng(0))[150]`
 * is 3.
 */
import { ConfigError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import { fail, keyPath, opt, parseOptions, type OptionMap, type ParseContext } from '../../options/schema.js';

export const SCHEDULE_KINDS = ['abrupt', 'gradual', 'incremental', 'recurring'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export type DriftSchedule =
  | { readonly kind: 'abrupt'; readonly from: number; readonly to: number; readonly at: number }
  | { readonly kind: 'gradual'; readonly from: number; readonly to: number; readonly start: number; readonly end: number }
  | { readonly kind: 'incremental'; readonly from: number; readonly to: number; readonly start: number; readonly end: number }
  | { readonly kind: 'recurring'; readonly from: number; readonly to: number; readonly period: number; readonly duty: number; readonly phase: number };

const severity = (doc: string) => opt.integer({ doc, min: 0, max: 5, required: true });
const COMMON = {
  kind: opt.choice(SCHEDULE_KINDS, { doc: 'how the severity changes over time', required: true }),
  from: severity('severity before the change (0: clean)'),
  to: severity('severity after the change'),
};
const RAMP = {
  ...COMMON,
  start: opt.number({ doc: 'position where the change starts', min: 0, required: true }),
  end: opt.number({ doc: 'position where the change is complete (after start)', min: 0, required: true }),
};

/** The keys of each schedule kind. */
export const SCHEDULE_OPTIONS = {
  abrupt: { ...COMMON, at: opt.number({ doc: 'position of the change', min: 0, required: true }) },
  gradual: RAMP,
  incremental: RAMP,
  recurring: {
    ...COMMON,
    period: opt.number({ doc: 'length of one period', min: 0, minExclusive: true, required: true }),
    duty: opt.number({ doc: 'share of each period at the `to` severity', min: 0, max: 1, default: 0.5 }),
    phase: opt.number({ doc: 'offset of the first period', default: 0 }),
  },
} satisfies Record<ScheduleKind, OptionMap>;

/** Validates a schedule config entry (an OptionError naming the key path otherwise). */
export function parseSchedule(obj: unknown, where: string, ctx: Omit<ParseContext, 'where'> = {}): DriftSchedule {
  const c: ParseContext = { ...ctx, where };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) fail(c, { code: 'type', value: obj, expected: "a mapping like {kind: 'abrupt', from: 0, to: 3, at: 500}" });
  const o = obj as Record<string, unknown>;
  const kp = keyPath(where, 'kind');
  if (o.kind === undefined) fail(kp, { code: 'required', value: undefined, expected: COMMON.kind.expected }, `'${kp}' is required: ${COMMON.kind.expected}`);
  const kind = COMMON.kind.check(o.kind, kp, c);
  const s = parseOptions(SCHEDULE_OPTIONS[kind], o, c) as unknown as Record<string, number>;
  if ((kind === 'gradual' || kind === 'incremental') && !(s.end! > s.start!)) {
    fail(keyPath(where, 'end'), { code: 'range', value: s.end, expected: `a number in (${s.start}, inf) (after start)` });
  }
  return { ...s, kind } as unknown as DriftSchedule;
}

function ramp(t: number, start: number, end: number): number {
  return Math.min(1, Math.max(0, (t - start) / (end - start)));
}

/** Probability that the item at t belongs to the `to` concept. */
export function driftProbabilityAt(s: DriftSchedule, t: number): number {
  switch (s.kind) {
    case 'abrupt':
      return t < s.at ? 0 : 1;
    case 'gradual':
    case 'incremental':
      return ramp(t, s.start, s.end);
    case 'recurring': {
      const u = ((((t - s.phase) % s.period) + s.period) % s.period) / s.period;
      return u < 1 - s.duty ? 0 : 1;
    }
  }
}

/** Expected severity at time t. */
export function severityAt(s: DriftSchedule, t: number): number {
  return s.from + driftProbabilityAt(s, t) * (s.to - s.from);
}

/** Draws the severity (an integer 0–5) of items t = 0 … n−1. */
export function sampleSchedule(s: DriftSchedule, n: number, rng: Rng): Int8Array {
  if (!(Number.isInteger(n) && n >= 0)) throw new ConfigError(`'n' must be a non-negative integer, got ${n}`);
  const out = new Int8Array(n);
  for (let t = 0; t < n; t++) {
    const u = rng.uniform();
    const p = driftProbabilityAt(s, t);
    if (s.kind === 'incremental') {
      const v = s.from + p * (s.to - s.from);
      const lo = Math.floor(v);
      out[t] = lo + (u < v - lo ? 1 : 0);
    } else if (s.kind === 'gradual') out[t] = u < p ? s.to : s.from;
    else out[t] = p === 1 ? s.to : s.from;
  }
  return out;
}
