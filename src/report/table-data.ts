/**
 * A table as data, for sections that report.md and report.html show alike (explanation drift,
 * layer sensitivity, uncertainty): each report renders the same rows its own way (Markdown table,
 * sortable HTML table), so the numbers and their CIs come from one place. Text is raw (each
 * renderer escapes it).
 */
import type { CampaignResults } from '../campaign/types.js';
import type { Num } from './format.js';

/** A number with its 95 % CI ([null, null] or absent: no CI), shown with `digits` decimals. */
export interface NumCell {
  value: Num;
  ci?: readonly [Num, Num] | readonly Num[] | null;
  digits?: number;
}

/** Text, or a number (with its CI when it has one). */
export type TableCell = string | NumCell;

export interface TableData {
  /** HTML id of the table (unique in the report). */
  id: string;
  /** One line above the table. */
  caption: string;
  head: string[];
  rows: TableCell[][];
}

/** A cell of `value` with its CI (null or absent CI: the value alone). */
export function num(value: Num, ci?: readonly [Num, Num] | readonly Num[] | null, digits = 3): NumCell {
  return { value, ci: ci ?? null, digits };
}

/**
 * Models given as endpoints: the requests the run sent each one, with latency, throughput and
 * errors (null when no model of the run is an endpoint).
 */
export function servingTable(r: Pick<CampaignResults, 'performance'>): TableData | null {
  const eps = r.performance.endpoints ?? [];
  if (eps.length === 0) return null;
  const errors = (s: ServedEndpoint) => (s.errors === 0 ? '0' : `${s.errors} (${Object.entries(s.errors_by).map(([k, n]) => `${k}: ${n}`).join(', ')})`);
  return {
    id: 'serving-table',
    caption: 'Requests this run sent to each endpoint (a resumed run counts only its own); latency per request, throughput over the time spent predicting.',
    head: ['model', 'endpoint', 'protocol', 'requests', 'items', 'retries', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'items/s'],
    rows: eps.map((s) => [s.model, s.url, `${s.protocol} ${s.tensors}`, String(s.requests), String(s.items), String(s.retries), errors(s), num(s.latency_p50_ms, null, 1), num(s.latency_p95_ms, null, 1), num(s.latency_p99_ms, null, 1), num(s.throughput, null, 1)]),
  };
}

/** One endpoint's serving figures in a campaign's results. */
type ServedEndpoint = NonNullable<CampaignResults['performance']['endpoints']>[number];
