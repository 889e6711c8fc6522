/**
 * Scoring the monitors against the scenario's ground truth. Each segment is an episode with the
 * kinds of stress it carries. A monitor's alert belongs to an episode when it falls in the
 * episode's zone for that monitor: from the episode's first item to `settle` items after its end —
 * plus `labelDelay` for monitors fed by arriving labels, whose evidence comes that much later. An
 * episode is detected by the first alert in its zone from a monitor of one of its kinds; the delay
 * is counted in items from the episode's start. Every alert outside all zones is a false alarm;
 * clean items are the items outside every [from, to + settle).
 */
import type { MonitorKind } from './types.js';
import type { EpisodeKind, ScenarioSegment } from './scenario.js';

/**
 * An alert as the monitor proxy raises it and lists it on `GET /alerts` (src/monitor/proxy.ts); a
 * live replay (replay.ts) reads these back.
 */
export interface MonitorAlert {
  monitor: string;
  type: string;
  kind: string;
  /** The item (arrival number) whose update raised it. */
  item: number;
  statistic: number;
  threshold: number;
  time: string;
}

export interface StreamAlert {
  readonly monitor: string;
  readonly kind: MonitorKind;
  /** Stream position of the item whose update raised it. */
  readonly index: number;
  /** Simulated arrival time (s) of that item. */
  readonly time_s: number;
  /** The monitor's statistic and threshold at that moment. */
  readonly statistic: number;
  readonly threshold: number;
}

export interface MonitorInfo {
  readonly name: string;
  readonly kind: MonitorKind;
  /** Fed by arriving labels (performance and annotation monitors). */
  readonly labelFed: boolean;
}

export interface Detection {
  readonly detected_at: number | null;
  readonly delay: number | null;
  readonly monitor: string | null;
}

export interface EpisodeResult extends Detection {
  readonly from: number;
  readonly to: number;
  readonly kinds: readonly EpisodeKind[];
  /** First alert of each of the episode's kinds in its zone. */
  readonly by_kind: Readonly<Record<string, Detection>>;
  /** First alert of every monitor in its zone (any kind), or null. */
  readonly by_monitor: Readonly<Record<string, number | null>>;
}

export interface MonitorEvaluation {
  readonly episodes: EpisodeResult[];
  readonly detected: number;
  readonly missed: number;
  readonly false_alarms: number;
  readonly false_alarms_by_monitor: Readonly<Record<string, number>>;
  readonly clean_items: number;
  /** False alarms (all monitors) per 10,000 clean items; null without clean items. */
  readonly false_alarms_per_10k: number | null;
  readonly settle: number;
}

export function evaluateMonitors(segments: readonly ScenarioSegment[], alerts: readonly StreamAlert[], monitors: readonly MonitorInfo[], length: number, labelDelay: number, settle: number): MonitorEvaluation {
  const info = new Map(monitors.map((m) => [m.name, m]));
  const zoneEnd = (seg: ScenarioSegment, monitor: string): number => seg.to + settle + (info.get(monitor)?.labelFed ? labelDelay : 0);
  const inZone = (a: StreamAlert, seg: ScenarioSegment): boolean => a.index >= seg.from && a.index < zoneEnd(seg, a.monitor);
  const sorted = [...alerts].sort((a, b) => a.index - b.index);
  const first = (seg: ScenarioSegment, pred: (a: StreamAlert) => boolean): Detection => {
    const a = sorted.find((x) => inZone(x, seg) && pred(x));
    return a ? { detected_at: a.index, delay: a.index - seg.from, monitor: a.monitor } : { detected_at: null, delay: null, monitor: null };
  };
  const episodes = segments.map((seg): EpisodeResult => {
    const d = first(seg, (a) => (seg.kinds as readonly string[]).includes(a.kind));
    const byKind: Record<string, Detection> = {};
    for (const k of seg.kinds) byKind[k] = first(seg, (a) => a.kind === k);
    const byMonitor: Record<string, number | null> = {};
    for (const m of monitors) byMonitor[m.name] = first(seg, (a) => a.monitor === m.name).detected_at;
    return { from: seg.from, to: seg.to, kinds: seg.kinds, ...d, by_kind: byKind, by_monitor: byMonitor };
  });
  const byMonitor: Record<string, number> = Object.fromEntries(monitors.map((m) => [m.name, 0]));
  let falseAlarms = 0;
  for (const a of sorted) {
    if (segments.some((seg) => inZone(a, seg))) continue;
    falseAlarms++;
    byMonitor[a.monitor] = (byMonitor[a.monitor] ?? 0) + 1;
  }
  const covered = new Uint8Array(length);
  for (const seg of segments) covered.fill(1, seg.from, Math.min(length, seg.to + settle));
  let clean = 0;
  for (let i = 0; i < length; i++) clean += covered[i] ? 0 : 1;
  const detected = episodes.filter((e) => e.detected_at !== null).length;
  return {
    episodes,
    detected,
    missed: episodes.length - detected,
    false_alarms: falseAlarms,
    false_alarms_by_monitor: byMonitor,
    clean_items: clean,
    false_alarms_per_10k: clean > 0 ? (falseAlarms / clean) * 10_000 : null,
    settle,
  };
}
