/**
 * The registry's options, declared once with the option schema: the two flags every recording verb
 * takes (`--registry`, `--no-registry`), and the options of `gauntlet runs` and `gauntlet hub`.
 */
import { fail, opt, type OptionMap } from '../options/schema.js';
import { RUN_KINDS } from './types.js';

/** Where a run records itself. Flags of run, train, attack, stream and calibrate. */
export const RECORD_OPTIONS = {
  registry: opt.string({ doc: 'record this run in this registry: a SQLite file, or postgres://user@host/db (default: $GAUNTLET_REGISTRY, else .gauntlet/registry.db beside the output)', metavar: 'URL' }),
  no_registry: opt.boolean({ doc: 'do not record this run in the registry' }),
} satisfies OptionMap;

/** The registry that `gauntlet runs` and `gauntlet hub` read. */
export const READ_OPTIONS = {
  registry: opt.string({ doc: 'the registry: a SQLite file, or postgres://user@host/db (default: $GAUNTLET_REGISTRY, else .gauntlet/registry.db here)', metavar: 'URL' }),
} satisfies OptionMap;

/** A point in time: ISO 8601 (2026-12-01, 2026-12-01T09:30Z) or an age (7d, 12h, 30m). */
export const sinceOption = opt.custom<string, { doc: string; metavar: string }>(
  'an ISO 8601 date/time (2026-12-01) or an age (7d, 12h, 30m)',
  (v, p) => {
    if (typeof v === 'string' && (/^\d+(\.\d+)?[smhdw]$/.test(v) || (/^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v))))) return v;
    return fail(p, { code: 'type', value: v, expected: 'an ISO 8601 date/time (2026-12-01) or an age (7d, 12h, 30m)' });
  },
  { doc: 'only runs started at or after this time', metavar: 'WHEN' },
);

/** `--since` as an ISO time: ages count back from `now`. */
export function sinceToIso(since: string, now: Date = new Date()): string {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(since);
  if (!m) return new Date(Date.parse(since)).toISOString();
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 's']!;
  return new Date(now.getTime() - Number(m[1]) * unit * 1000).toISOString();
}

/** `gauntlet runs list|compare|rm` filters. */
export const RUNS_OPTIONS = {
  ...READ_OPTIONS,
  model: opt.string({ doc: 'only runs of this model (its file name without .onnx, or a variant name)', metavar: 'NAME' }),
  since: sinceOption,
  kind: opt.choice(RUN_KINDS, { doc: 'only runs of this verb' }),
  limit: opt.integer({ doc: 'list at most N runs, newest first', min: 1 }),
  all: opt.boolean({ doc: 'show: every metric (default: accuracy and its drop); compare: every compared metric, not only those that moved' }),
  bootstrap: opt.integer({ doc: 'compare: resamples for the paired test', min: 0, max: 100000, default: 1000 }),
} satisfies OptionMap;

/** `gauntlet hub`. */
export const HUB_OPTIONS = {
  ...READ_OPTIONS,
  port: opt.integer({ doc: 'TCP port to listen on (0: any free port)', min: 0, max: 65535, default: 8080 }),
  host: opt.string({ doc: 'address to listen on; anything but loopback exposes the registry to the network (default 127.0.0.1)', metavar: 'ADDR' }),
} satisfies OptionMap;
