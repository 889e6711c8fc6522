/**
 * Monitor options: each monitor declares its options once as an option map (snake_case keys in
 * scenarios, camelCase in TypeScript). The constructors report a bad option as a UsageError naming
 * it (`'ADWIN.delta' must be a number in (0, 1), got 2`); the scenario reports it as an
 * OptionError naming the key path (`'monitors[3].delta' …`).
 */
import { UsageError } from '../errors.js';
import { ConfigError } from '../errors.js';
import { camel, opt, parseOptions, type OptionMap, type OptionsOf } from '../options/schema.js';
import { MONITOR_KINDS, type MonitorKind } from './types.js';

/**
 * Fills `given` (an options object from TypeScript, camelCase keys) with the map's defaults and
 * checks every value; unknown keys are errors. `what` names the owner in messages (`ADWIN`).
 */
export function resolveOptions<M extends OptionMap>(what: string, map: M, given: object = {}): Required<OptionsOf<M>> {
  try {
    return parseOptions(map, given, { where: what, camelCase: true }) as unknown as Required<OptionsOf<M>>;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** The defaults of a map (camelCase keys), e.g. `{ kind: 'drift', reference: 1000, … }`. */
export function defaultsOf(map: OptionMap): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).filter(([, o]) => o.default !== undefined).map(([k, o]) => [camel(k), o.default]));
}

/** The kind a monitor's alerts count as. */
export const kindOpt = (dflt: MonitorKind) => opt.choice(MONITOR_KINDS, { doc: 'the kind its alerts count as', default: dflt });
/** A probability in (0, 1). */
export const probabilityOpen = (doc: string, dflt: number) => opt.number({ doc, min: 0, max: 1, minExclusive: true, maxExclusive: true, default: dflt });
/** A count of items in [min, max]. */
export const count = (doc: string, dflt: number, min: number, max = 1_000_000) => opt.integer({ doc, min, max, default: dflt });

/** `gauntlet stream --endpoint URL`: replaying the scenario against a live model through `gauntlet monitor`. */
export const STREAM_REPLAY_OPTIONS = {
  endpoint: opt.string({ doc: "replay the scenario against this model URL through 'gauntlet monitor' (http://HOST:PORT/v2/models/NAME) at its real offered rate", metavar: 'URL' }),
  speed: opt.number({ doc: 'with --endpoint: arrival times are divided by F (2: twice the offered rate)', min: 0, minExclusive: true, max: 1000, default: 1, metavar: 'F' }),
  max_in_flight: opt.integer({ doc: 'with --endpoint: requests in flight at most', min: 1, max: 10_000, default: 256, metavar: 'N' }),
  request_timeout_ms: opt.integer({ doc: 'with --endpoint: time limit of one request, ms', min: 1, max: 3_600_000, default: 30_000, metavar: 'MS' }),
} satisfies OptionMap;
