/**
 * The stream's run directory: `stream.json` (the whole result, NaN written as null), `events.jsonl`
 * (episode starts and ends, alerts with their simulated time, detections and misses, and the
 * challenger decision, in stream order) and `timeline.html`. Files are written atomically.
 */
import path from 'node:path';
import { jsonReplacer, writeAtomic, writeJson } from '../campaign/store.js';
import type { StreamResult } from './simulate.js';
import { renderTimeline } from './timeline.js';

export const STREAM_FILES = ['stream.json', 'events.jsonl', 'timeline.html'] as const;

/** The events of a run, in stream order (ties: episode start, alert, detection, episode end). */
export function streamEvents(r: StreamResult): Record<string, unknown>[] {
  const ev: { order: number; index: number; e: Record<string, unknown> }[] = [];
  r.episodes.forEach((e, n) => {
    ev.push({ order: 0, index: e.from, e: { event: 'episode_start', index: e.from, episode: n, kinds: e.kinds } });
    ev.push({ order: 3, index: e.to, e: { event: 'episode_end', index: e.to, episode: n } });
    if (e.detected_at !== null) ev.push({ order: 2, index: e.detected_at, e: { event: 'detected', index: e.detected_at, episode: n, delay: e.delay, monitor: e.monitor } });
    else ev.push({ order: 3, index: e.to, e: { event: 'missed', index: e.to, episode: n } });
  });
  for (const a of r.alerts) ev.push({ order: 1, index: a.index, e: { event: 'alert', ...a } });
  if (r.challenger) ev.push({ order: 4, index: r.items, e: { event: 'challenger_decision', index: r.items, decision: r.challenger.decision, reason: r.challenger.reason } });
  ev.sort((a, b) => a.index - b.index || a.order - b.order);
  return ev.map((x) => x.e);
}

/** Writes the run directory; returns the file names written. */
export function writeStreamRun(r: StreamResult, outDir: string): string[] {
  writeJson(path.join(outDir, 'stream.json'), { gauntlet: 'stream', version: 1, ...r });
  writeAtomic(path.join(outDir, 'events.jsonl'), streamEvents(r).map((e) => JSON.stringify(e, jsonReplacer)).join('\n') + '\n');
  writeAtomic(path.join(outDir, 'timeline.html'), renderTimeline(r));
  return [...STREAM_FILES];
}
