/**
 * Shapes shared by the stream monitors: small River-style change detectors, each fed one value per
 * item with `update(x)` and read through a read-only `driftDetected` that is true right after the
 * update that raised an alert. A monitor resets itself after an alert (what it forgets is said in
 * its file), so the next update starts a fresh test.
 */

/** What a monitor watches for; alerts and scenario episodes are matched by kind. */
export const MONITOR_KINDS = ['drift', 'adversarial', 'performance', 'annotation'] as const;
export type MonitorKind = (typeof MONITOR_KINDS)[number];

/** A streaming change detector fed one `T` per item. */
export interface Monitor<T> {
  /** The kind of trouble it watches for. */
  readonly kind: MonitorKind;
  /** True right after the `update` that raised an alert (the monitor has already reset). */
  readonly driftDetected: boolean;
  /** The statistic of the latest test (NaN before the first: while learning a reference or filling a window). */
  readonly statistic: number;
  /** The value `statistic` must exceed to raise an alert (NaN while not yet known). */
  readonly threshold: number;
  /** Feeds one value; returns the monitor (River's convention). */
  update(x: T): this;
  /** Forgets everything, including a learned reference. */
  reset(): void;
}
