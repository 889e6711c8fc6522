/**
 * Compares two runs: did the model or the data change (content hashes), did the config change
 * (a path-by-path diff), and which metrics moved beyond their confidence intervals.
 *
 * Cells are matched by their plan hash (stage + resolved stress specs), so a cell means the same
 * thing in both runs even when ids shift. "Moved beyond its CI" is decided one of two ways:
 *
 * - **paired bootstrap** — for accuracy (true and observed labels) when both runs scored the same
 *   items (same data hash, same item count, same resampling): the 95 % percentile CI of
 *   acc_B − acc_A over B resamples of the items, each resample applied to both runs' per-item
 *   correctness strings. The metric moved when that CI excludes 0. McNemar's exact p is reported
 *   alongside.
 * - **non-overlapping CIs** — for every other metric, and for accuracy when the items differ: the
 *   metric moved when the two runs' 95 % CIs do not overlap (a conservative test: it flags fewer
 *   changes than a paired test would).
 *
 * Example:
 *   const c = compareRuns(readResults('runs/main'), readResults('runs/pr'));
 *   c.moved.filter((m) => m.direction === 'worse');
 */
import type { CampaignResults, CellResult } from '../campaign/types.js';
import { METRIC_NAMES, bootstrapWeights, lowerIsBetter, mcnemar, percentileCi, type MetricWithCi, type ResampleWeights } from '../metrics/suite.js';
import { Rng } from '../rng.js';
import { cellLabel, fmt, isNum, type Num } from './format.js';


export interface CompareOptions {
  /** Bootstrap resamples for the paired test (default 1000). */
  bootstrap?: number;
  /** Seed of the paired bootstrap (default 0). */
  seed?: number;
  /** Metrics to compare (default: every metric of the suite). */
  metrics?: readonly string[];
}

export interface MetricChange {
  /** The matched cell's plan hash, and its id in each run. */
  hash: string;
  id_a: string;
  id_b: string;
  stage: string;
  label: string;
  /** A suite metric, or 'observed_accuracy' (accuracy against the noisy labels). */
  metric: string;
  a: { value: Num; ci: [Num, Num] };
  b: { value: Num; ci: [Num, Num] };
  /** b − a. */
  diff: Num;
  /** 95 % CI of b − a (paired bootstrap only). */
  diff_ci: [number, number] | null;
  method: 'paired-bootstrap' | 'ci-overlap';
  moved: boolean;
  /** Whether the change (moved or not) is for the better, given the metric's direction. */
  direction: 'better' | 'worse' | 'changed' | 'unchanged';
  /** McNemar's exact two-sided p on per-item correctness (paired accuracy only). */
  mcnemar_p: number | null;
}

export interface RunComparison {
  a: { model_sha256: string; data_sha256: string; seed: number; model: string; data: string; samples: number };
  b: { model_sha256: string; data_sha256: string; seed: number; model: string; data: string; samples: number };
  model_changed: boolean;
  data_changed: boolean;
  seed_changed: boolean;
  /** Config paths whose values differ ('source' is ignored), at most 100. */
  config_changes: { path: string; a: unknown; b: unknown }[];
  cells_matched: number;
  cells_only_a: { id: string; label: string }[];
  cells_only_b: { id: string; label: string }[];
  /** Every metric compared, and the subset that moved beyond its CI. */
  metrics: MetricChange[];
  moved: MetricChange[];
  /** Budgets whose verdict differs, or that exist in one run only. */
  budgets: { name: string; a: boolean | null; b: boolean | null }[];
  /** Interaction verdicts that changed (accuracy, matched cells). */
  interactions: { hash: string; label: string; a: string | null; b: string | null }[];
  /** How "beyond its CI" was decided, in words. */
  rule: string;
}

/** Flattens JSON into path → value (leaves only). */
function flatten(v: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (Array.isArray(v)) {
    if (v.length === 0) out.set(prefix, []);
    v.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out));
  } else if (v && typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    if (keys.length === 0) out.set(prefix, {});
    for (const k of keys) flatten((v as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, v);
  return out;
}

function configDiff(a: unknown, b: unknown): { path: string; a: unknown; b: unknown }[] {
  const strip = (c: unknown) => (c && typeof c === 'object' ? { ...(c as Record<string, unknown>), source: undefined } : c);
  const fa = flatten(strip(a), '', new Map());
  const fb = flatten(strip(b), '', new Map());
  const out: { path: string; a: unknown; b: unknown }[] = [];
  for (const k of [...new Set([...fa.keys(), ...fb.keys()])].sort()) {
    const va = fa.get(k);
    const vb = fb.get(k);
    // A missing key and an explicit null mean the same (older runs lack newer, unset sections).
    if (JSON.stringify(va ?? null) !== JSON.stringify(vb ?? null)) out.push({ path: k, a: va ?? null, b: vb ?? null });
  }
  return out.slice(0, 100);
}

const keyOf = (c: CellResult) => c.hash ?? `${c.stage}|${JSON.stringify(c.stresses)}`;

function direction(metric: string, diff: Num): MetricChange['direction'] {
  if (!isNum(diff) || diff === 0) return 'unchanged';
  const lower = lowerIsBetter(metric);
  if (lower === null) return 'changed';
  return (diff < 0) === lower ? 'better' : 'worse';
}

const ciOf = (m: MetricWithCi | null | undefined): [Num, Num] => [m?.ci[0] ?? null, m?.ci[1] ?? null];

function sameItems(a: CellResult, b: CellResult, sameData: boolean, which: 'correct' | 'correct_observed'): boolean {
  const sa = a[which];
  const sb = b[which];
  if (!sameData || typeof sa !== 'string' || typeof sb !== 'string' || sa.length !== sb.length || sa.length === 0) return false;
  return JSON.stringify(a.item_indices ?? null) === JSON.stringify(b.item_indices ?? null);
}

/** Compares run B against run A (B − A); see the file comment for the rules. */
export function compareRuns(a: CampaignResults, b: CampaignResults, opts: CompareOptions = {}): RunComparison {
  const B = opts.bootstrap ?? 1000;
  const metrics = opts.metrics ?? [...METRIC_NAMES, 'observed_accuracy'];
  const sameData = a.data.sha256 === b.data.sha256;
  const byKeyB = new Map(b.cells.map((c) => [keyOf(c), c]));
  const keysA = new Set(a.cells.map(keyOf));
  const weightsCache = new Map<number, ResampleWeights[]>();
  const weights = (n: number) => {
    let w = weightsCache.get(n);
    if (!w) weightsCache.set(n, (w = bootstrapWeights(n, B, new Rng(`${opts.seed ?? 0}/compare/${n}`))));
    return w;
  };
  const changes: MetricChange[] = [];
  for (const ca of a.cells) {
    const cb = byKeyB.get(keyOf(ca));
    if (!cb) continue;
    for (const metric of metrics) {
      const observed = metric === 'observed_accuracy';
      const ma = observed ? ca.observed_metrics?.accuracy : ca.metrics[metric as keyof CellResult['metrics']];
      const mb = observed ? cb.observed_metrics?.accuracy : cb.metrics[metric as keyof CellResult['metrics']];
      if (!ma || !mb) continue;
      const diff = isNum(ma.value) && isNum(mb.value) ? mb.value - ma.value : null;
      const base = { hash: keyOf(ca), id_a: ca.id, id_b: cb.id, stage: ca.stage, label: cellLabel(ca), metric, a: { value: ma.value, ci: ciOf(ma) }, b: { value: mb.value, ci: ciOf(mb) }, diff };
      const which = observed ? 'correct_observed' : 'correct';
      if ((metric === 'accuracy' || observed) && B > 0 && sameItems(ca, cb, sameData, which)) {
        const xa = Uint8Array.from(ca[which]!, (ch) => (ch === '1' ? 1 : 0));
        const xb = Uint8Array.from(cb[which]!, (ch) => (ch === '1' ? 1 : 0));
        const n = xa.length;
        const differ: number[] = [];
        for (let i = 0; i < n; i++) if (xa[i] !== xb[i]) differ.push(i);
        const boot = weights(n).map((w) => {
          let s = 0;
          for (const i of differ) s += w[i]! * (xb[i]! - xa[i]!);
          return s / n;
        });
        const ci = differ.length ? percentileCi(boot) : ([0, 0] as [number, number]);
        const moved = ci[0] > 0 || ci[1] < 0;
        // The point difference from the same per-item correctness the CI is computed from.
        let d = 0;
        for (const i of differ) d += xb[i]! - xa[i]!;
        changes.push({ ...base, diff: d / n, diff_ci: ci, method: 'paired-bootstrap', moved, direction: direction(metric, d / n), mcnemar_p: mcnemar(xa, xb).pValue });
      } else {
        const [la, ha] = base.a.ci;
        const [lb, hb] = base.b.ci;
        const moved = isNum(la) && isNum(ha) && isNum(lb) && isNum(hb) && (ha < lb || hb < la);
        changes.push({ ...base, diff_ci: null, method: 'ci-overlap', moved, direction: direction(metric, diff), mcnemar_p: null });
      }
    }
  }
  const budgetsA = new Map(a.budgets.map((x) => [x.name, x.passed]));
  const budgetsB = new Map(b.budgets.map((x) => [x.name, x.passed]));
  const budgets = [...new Set([...budgetsA.keys(), ...budgetsB.keys()])]
    .map((name) => ({ name, a: budgetsA.get(name) ?? null, b: budgetsB.get(name) ?? null }))
    .filter((x) => x.a !== x.b);
  const verdicts = (r: CampaignResults) => {
    const ids = new Map(r.cells.map((c) => [c.id, keyOf(c)]));
    return new Map(r.interactions.filter((i) => i.metric === 'accuracy').map((i) => [ids.get(i.cell) ?? i.cell, i.verdict as string]));
  };
  const va = verdicts(a);
  const vb = verdicts(b);
  const interactions = [...new Set([...va.keys(), ...vb.keys()])]
    .filter((k) => keysA.has(k) && byKeyB.has(k) && va.get(k) !== vb.get(k))
    .map((k) => ({ hash: k, label: cellLabel(byKeyB.get(k)!), a: va.get(k) ?? null, b: vb.get(k) ?? null }));
  const side = (r: CampaignResults) => ({ model_sha256: r.model.sha256, data_sha256: r.data.sha256, seed: r.seed, model: r.model.path, data: r.data.path, samples: r.data.samples });
  return {
    a: side(a),
    b: side(b),
    model_changed: a.model.sha256 !== b.model.sha256,
    data_changed: !sameData,
    seed_changed: a.seed !== b.seed,
    config_changes: configDiff(a.config, b.config),
    cells_matched: a.cells.filter((c) => byKeyB.has(keyOf(c))).length,
    cells_only_a: a.cells.filter((c) => !byKeyB.has(keyOf(c))).map((c) => ({ id: c.id, label: cellLabel(c) })),
    cells_only_b: b.cells.filter((c) => !keysA.has(keyOf(c))).map((c) => ({ id: c.id, label: cellLabel(c) })),
    metrics: changes,
    moved: changes.filter((m) => m.moved),
    budgets,
    interactions,
    rule: `accuracy on the same items: the paired-bootstrap 95 % CI of the difference (${B} resamples) excludes 0; otherwise: the two runs' 95 % CIs do not overlap`,
  };
}

const short = (h: string) => (h.length > 16 ? `${h.slice(0, 12)}…` : h);
const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** The comparison as text for a terminal: what changed, then the metrics that moved. */
export function compareText(c: RunComparison, opts: { all?: boolean } = {}): string {
  const L: string[] = [];
  L.push(`model: ${c.model_changed ? `CHANGED ${short(c.a.model_sha256)} → ${short(c.b.model_sha256)} (${c.a.model} → ${c.b.model})` : `unchanged (sha256 ${short(c.a.model_sha256)})`}`);
  L.push(`data:  ${c.data_changed ? `CHANGED ${short(c.a.data_sha256)} → ${short(c.b.data_sha256)} (${c.a.samples} → ${c.b.samples} items)` : `unchanged (sha256 ${short(c.a.data_sha256)}, ${c.a.samples} items)`}`);
  if (c.seed_changed) L.push(`seed:  ${c.a.seed} → ${c.b.seed}`);
  if (c.config_changes.length) {
    L.push(`config: ${c.config_changes.length} difference${c.config_changes.length > 1 ? 's' : ''}`);
    for (const d of c.config_changes.slice(0, 20)) L.push(`  ${d.path}: ${show(d.a)} → ${show(d.b)}`);
    if (c.config_changes.length > 20) L.push(`  … ${c.config_changes.length - 20} more`);
  } else L.push('config: unchanged');
  L.push(`cells: ${c.cells_matched} matched${c.cells_only_a.length ? `; only in A: ${c.cells_only_a.map((x) => `${x.id} (${x.label})`).join(', ')}` : ''}${c.cells_only_b.length ? `; only in B: ${c.cells_only_b.map((x) => `${x.id} (${x.label})`).join(', ')}` : ''}`);
  const list = opts.all ? c.metrics : c.moved;
  L.push('', `${opts.all ? 'metrics' : 'metrics that moved beyond their CIs'} (${c.moved.length} of ${c.metrics.length} compared moved):`);
  if (!list.length) L.push('  none');
  for (const m of list) {
    const d = `${isNum(m.diff) && m.diff >= 0 ? '+' : ''}${fmt(m.diff)}`;
    const how = m.method === 'paired-bootstrap' ? `paired 95% CI [${fmt(m.diff_ci?.[0])}, ${fmt(m.diff_ci?.[1])}], McNemar p ${fmt(m.mcnemar_p, 4)}` : 'CIs do not overlap';
    L.push(
      `  ${m.moved ? (m.direction === 'worse' ? '✗' : m.direction === 'better' ? '✓' : '•') : ' '} ${m.id_a.padEnd(20)} ${m.label.slice(0, 40).padEnd(40)} ${m.metric.padEnd(17)} ${fmt(m.a.value)} [${fmt(m.a.ci[0])}, ${fmt(m.a.ci[1])}] → ${fmt(m.b.value)} [${fmt(m.b.ci[0])}, ${fmt(m.b.ci[1])}]  Δ ${d}  ${m.moved ? `${m.direction} (${how})` : m.method === 'paired-bootstrap' ? `within CI (${how})` : 'CIs overlap'}`,
    );
  }
  if (c.budgets.length) {
    L.push('', 'budgets whose verdict changed:');
    const v = (x: boolean | null) => (x === null ? 'absent' : x ? 'pass' : 'FAIL');
    for (const x of c.budgets) L.push(`  ${x.name}: ${v(x.a)} → ${v(x.b)}`);
  }
  if (c.interactions.length) {
    L.push('', 'interaction verdicts that changed:');
    for (const x of c.interactions) L.push(`  ${x.label}: ${x.a ?? 'none'} → ${x.b ?? 'none'}`);
  }
  L.push('', `rule: ${c.rule}`);
  return L.join('\n') + '\n';
}
