/**
 * The config's `explain:` section as the reports show it (`cells[].explanations`): per stress
 * cell, how the attributions of the same items drift between clean and stressed inputs (Spearman
 * rank correlation, top-k IoU, attribution mass moved outside the clean top-k) and how much each
 * part of the network changes (layer sensitivity: relative activation change, gain, where flipped
 * predictions first show). Means carry the 95 % bootstrap CIs over explained items that
 * results.json stores; counts (flips, accuracy on the explained items) get Wilson intervals.
 * Pure functions of the results; tables as data (table-data.ts).
 */
import type { CampaignResults, CellResult } from '../campaign/types.js';
import type { ExplainCellSummary } from '../explain/cell.js';
import type { MeanCi } from '../explain/drift.js';
import { COMPONENTS, type Component, type LayerSensitivity } from '../explain/layers.js';
import { cellLabel, wilson, type Num } from './format.js';
import { num, type NumCell, type TableData } from './table-data.js';

/** A cell's explanation summary (null when the cell has none: no `explain:` section, or the baseline). */
export function explanationsOf(c: CellResult): ExplainCellSummary | null {
  const x = (c as { explanations?: unknown }).explanations;
  return x && typeof x === 'object' ? (x as ExplainCellSummary) : null;
}

/** The cells with explanations, with their summaries. */
export function explainedCells(r: CampaignResults): [CellResult, ExplainCellSummary][] {
  return r.cells.flatMap((c) => {
    const x = explanationsOf(c);
    return x ? [[c, x] as [CellResult, ExplainCellSummary]] : [];
  });
}

const meanCi = (m: MeanCi | null | undefined, digits = 3): NumCell => num(m?.mean ?? null, m ? [m.lo, m.hi] : null, digits);
/** A share of `count` in `n` with its Wilson 95 % interval. */
const share = (count: number, n: number): NumCell => (n > 0 ? num(count / n, wilson(count, n)) : num(null));
const ciOf = (ci: readonly Num[] | undefined): readonly Num[] | null => ci ?? null;

/** The method and target in words ("ig (64 steps), target true label"). */
export function methodText(x: ExplainCellSummary): string {
  const target = x.target === 'true' ? 'true label' : x.target === 'pred' ? 'predicted class' : `class ${x.target}`;
  return `${x.method}${x.steps !== null && x.steps !== undefined ? ` (${x.steps} ${x.method === 'smoothgrad' ? 'copies' : 'steps'})` : ''}, target ${target}`;
}

/**
 * Tabular data: the features that carry the attribution, by name, clean and stressed (mean |A| over
 * the explained items), the top five of each cell — so a stress that moves the model's attention to
 * another feature shows by name.
 */
export function featureTable(r: CampaignResults): TableData | null {
  const cells = explainedCells(r).filter(([, x]) => Array.isArray(x.features) && x.features.length > 0);
  if (!cells.length) return null;
  return {
    id: 'explain-features',
    caption: `Most important features per cell (${methodText(cells[0]![1])}): mean |attribution| over the explained items, clean → stressed, top five by clean importance.`,
    head: ['cell', 'stresses', 'feature', 'mean |A| clean', 'mean |A| stressed'],
    rows: cells.flatMap(([c, x]) => x.features!.slice(0, 5).map((f) => [c.id, cellLabel(c), f.feature, num(f.clean, null, 4), num(f.stressed, null, 4)])),
  };
}

/** Explanation drift per cell, one row each. */
export function driftTable(r: CampaignResults): TableData | null {
  const cells = explainedCells(r);
  if (!cells.length) return null;
  const k = cells[0]![1].drift.topKFraction;
  return {
    id: 'explain-drift',
    caption: `Explanation drift (${methodText(cells[0]![1])}), clean vs stressed attributions of the same items: Spearman rank correlation of |A| (1 = same ranking), IoU of the top ${Math.round(100 * k)} % features (1 = same features), and the share of |A| mass moved outside the clean top features (0 = none). Flipped = items whose predicted class changed.`,
    head: ['cell', 'stresses', 'items', 'Spearman', 'top-k IoU', 'mass shift', 'flipped predictions', 'accuracy clean', 'accuracy stressed', 'mean |A| clean → stressed'],
    rows: cells.map(([c, x]) => [
      c.id,
      cellLabel(c),
      num(x.samples, null, 0),
      meanCi(x.drift.spearman),
      meanCi(x.drift.iou),
      meanCi(x.drift.massShift),
      share(x.flipped, x.samples),
      share(Math.round(x.accuracy.clean * x.samples), x.samples),
      share(Math.round(x.accuracy.stressed * x.samples), x.samples),
      `${fmtSig(x.meanAbsAttribution.clean)} → ${fmtSig(x.meanAbsAttribution.stressed)}`,
    ]),
  };
}

/** Integrated Gradients completeness per cell (mean relative error |Σ A − Δf| / |Δf|), when any cell has it. */
export function completenessTable(r: CampaignResults): TableData | null {
  const cells = explainedCells(r).filter(([, x]) => x.completeness);
  if (!cells.length) return null;
  return {
    id: 'explain-completeness',
    caption: 'Integrated Gradients completeness: how far Σ attributions is from f(x) − f(baseline), relative (lower is better; large errors mean too few steps)',
    head: ['cell', 'stresses', 'mean rel. error clean', 'max clean', 'mean rel. error stressed', 'max stressed'],
    rows: cells.map(([c, x]) => [c.id, cellLabel(c), num(x.completeness!.clean.meanRelError, null, 4), num(x.completeness!.clean.maxRelError, null, 4), num(x.completeness!.stressed.meanRelError, null, 4), num(x.completeness!.stressed.maxRelError, null, 4)]),
  };
}

/** The components any explained cell has, in the order a report shows them. */
function componentsOf(cells: [CellResult, ExplainCellSummary][]): Component[] {
  const present = new Set(cells.flatMap(([, x]) => x.layers?.components.map((p) => p.component) ?? []));
  return COMPONENTS.filter((c) => present.has(c));
}

const componentName = (c: Component) => c.replace(/_/g, ' ');

/** Where the flips of a cell first show, by component ("late features 3, head 4 of 7; 0 undetermined"). */
export function firstFlipsText(l: LayerSensitivity): string {
  const { flipped, undetermined } = l.flips;
  if (!flipped) return 'no flipped predictions';
  const parts = l.components.filter((p) => p.firstFlips > 0).map((p) => `${componentName(p.component)} ${p.firstFlips}`);
  if (!parts.length) return `${flipped} flipped, none located${undetermined ? ' (too few explained items per class for the probe)' : ''}`;
  return `${parts.join(', ')} of ${flipped} flipped${undetermined ? `; ${undetermined} not located` : ''}`;
}

/** Layer sensitivity by component, one row per cell: relative activation change (data-domain input first), and where flips first show. */
export function componentTable(r: CampaignResults): TableData | null {
  const cells = explainedCells(r).filter(([, x]) => x.layers);
  if (!cells.length) return null;
  const comps = componentsOf(cells);
  return {
    id: 'explain-components',
    caption: 'Layer sensitivity: relative activation change ‖a_stressed − a_clean‖ / ‖a_clean‖ by part of the network (mean over items and the part’s layers; input = the data-domain input itself), and where flipped predictions first become visible (nearest-centroid probe)',
    head: ['cell', 'stresses', 'input', ...comps.map(componentName), 'flips first visible in'],
    rows: cells.map(([c, x]) => {
      const l = x.layers!;
      const by = new Map(l.components.map((p) => [p.component, p]));
      return [c.id, cellLabel(c), num(l.inputRelChange, ciOf(l.inputRelChangeCi)), ...comps.map((k) => (by.has(k) ? num(by.get(k)!.meanRelChange, ciOf(by.get(k)!.meanRelChangeCi)) : num(null))), firstFlipsText(l)];
    }),
  };
}

/** Gain by component, one row per cell (change out / change in; below 1 the part absorbs the stress, above 1 amplifies it). */
export function gainTable(r: CampaignResults): TableData | null {
  const cells = explainedCells(r).filter(([, x]) => x.layers);
  if (!cells.length) return null;
  const comps = componentsOf(cells);
  return {
    id: 'explain-gains',
    caption: 'Gain by part of the network: relative change out / relative change in (geometric mean over the part’s layers); below 1 the part absorbs the stress, above 1 it amplifies it',
    head: ['cell', 'stresses', ...comps.map(componentName)],
    rows: cells.map(([c, x]) => {
      const by = new Map(x.layers!.components.map((p) => [p.component, p]));
      return [c.id, cellLabel(c), ...comps.map((k) => (by.has(k) ? num(by.get(k)!.gain, ciOf(by.get(k)!.gainCi)) : num(null)))];
    }),
  };
}

/** Every measured layer of every explained cell (graph order). */
export function layerTable(r: CampaignResults): TableData | null {
  const cells = explainedCells(r).filter(([, x]) => x.layers);
  if (!cells.length) return null;
  return {
    id: 'explain-layers',
    caption: 'Every measured layer (graph order): relative change and gain with 95 % bootstrap CIs over the explained items',
    head: ['cell', 'layer', 'op', 'component', 'relative change', 'gain', 'flips first visible'],
    rows: cells.flatMap(([c, x]) => {
      const first = new Map(x.layers!.flips.firstLayer.map((f) => [f.layer, f.count]));
      return x.layers!.layers.map((l) => [c.id, l.name, l.op, componentName(l.component), num(l.relChange, ciOf(l.relChangeCi)), num(l.gain, ciOf(l.gainCi)), num(first.get(l.name) ?? 0, null, 0)]);
    }),
  };
}

/** Two significant digits for attribution magnitudes (model-specific units). */
function fmtSig(v: Num): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toPrecision(2) : '–';
}

/** The explained cell whose attributions drift most (lowest Spearman), or null. */
export function mostDrifted(r: CampaignResults): [CellResult, ExplainCellSummary] | null {
  return [...explainedCells(r)].sort((a, b) => a[1].drift.spearman.mean - b[1].drift.spearman.mean)[0] ?? null;
}
