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

/** An adversarial cell's detail on a text model (campaign/hooks/adversarial.ts, embedding space). */
interface EmbeddingAttackDetail {
  attack?: string;
  norm?: string;
  space?: string;
  embedding_accuracy?: number;
  tokens_changed?: number;
  items_changed?: number;
  eps_over_scale?: number | null;
  spec?: { eps?: number | number[] };
}

/**
 * A text model (results.json `text`): one line saying what an ε means there, and each adversarial
 * cell's accuracy on the projected token ids (the cell's accuracy) beside the accuracy in embedding
 * space before the projection, the tokens the projection changed and ε against the token scale.
 * Null for any other model.
 */
export function textTable(r: Pick<CampaignResults, 'text' | 'cells'>): { note: string; table: TableData | null } | null {
  const t = r.text;
  if (!t) return null;
  const emb = t.embedding;
  const note = emb && t.scale
    ? `Text classifier: token ids (${t.ids}). Attacks ran in embedding space at ${emb.output} (table ${emb.table} [${emb.vocab}, ${emb.dim}]) and each result was projected to the nearest tokens: a cell's accuracy is the model's on those real token sequences. ε is a distance between embeddings (L∞ per coordinate, L2 over the whole sequence); a token to its nearest other token is L2 ${t.scale.l2.toPrecision(4)}, L∞ ${t.scale.linf.toPrecision(4)} (medians over ${t.scale.rows} rows), and a position changes token only once it has moved about half that.`
    : `Text classifier: token ids (${t.ids}), no adversarial cells (declare wrt: embedding under model: to attack in embedding space).`;
  const cells = r.cells.filter((c) => (c.details.adversarial as EmbeddingAttackDetail | undefined)?.space !== undefined);
  if (!emb || cells.length === 0) return { note, table: null };
  return {
    note,
    table: {
      id: 'text-table',
      caption: 'Adversarial cells in embedding space: accuracy on the projected token ids (95 % CI) and before the projection; tokens changed by the projection.',
      head: ['cell', 'attack', 'ε', 'ε / token scale', 'accuracy (token ids)', 'accuracy (embeddings)', 'tokens changed', 'items changed'],
      rows: cells.map((c) => {
        const d = c.details.adversarial as EmbeddingAttackDetail;
        const eps = Array.isArray(d.spec?.eps) ? d.spec!.eps[0] : d.spec?.eps;
        return [c.id, `${d.attack ?? '?'} ${d.norm ?? ''}`.trim(), String(eps ?? '?'), num(d.eps_over_scale ?? null, null, 2), num(c.metrics.accuracy.value, c.metrics.accuracy.ci), num(d.embedding_accuracy ?? null), num(d.tokens_changed ?? null), num(d.items_changed ?? null)];
      }),
    },
  };
}

/** One endpoint's serving figures in a campaign's results. */
type ServedEndpoint = NonNullable<CampaignResults['performance']['endpoints']>[number];
