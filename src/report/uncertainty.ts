/**
 * The config's `uncertainty:` section as the reports show it: what was fitted on the clean
 * calibration split (results.json `uncertainty`) and, per cell (`cells[].uncertainty`), calibration
 * before/after temperature scaling, conformal coverage and set size, selective risk and coverage,
 * confidence scores, ensemble and MC-dropout figures — each with its 95 % bootstrap CI where the
 * run stored one (`<figure>_ci`). Pure functions of the results; tables as data (table-data.ts).
 */
import type { CampaignResults, CellResult } from '../campaign/types.js';
import type { UncertaintyCellSummary, UncertaintyContextSummary } from '../uncertainty/campaign.js';
import { cellLabel, fmt, isNum, type Num } from './format.js';
import { num, type NumCell, type TableData } from './table-data.js';

type Figure = Exclude<keyof UncertaintyCellSummary, `${string}_ci` | 'rc_coverage' | 'rc_risk' | 'rc_threshold'>;

/** A cell's uncertainty summary (null when the run had no `uncertainty:` section). */
export function uncertaintyOf(c: CellResult): UncertaintyCellSummary | null {
  const u = (c as { uncertainty?: unknown }).uncertainty;
  return u && typeof u === 'object' ? (u as UncertaintyCellSummary) : null;
}

/** The cells with uncertainty figures, with their summaries. */
export function uncertaintyCells(r: CampaignResults): [CellResult, UncertaintyCellSummary][] {
  return r.cells.flatMap((c) => {
    const u = uncertaintyOf(c);
    return u ? [[c, u] as [CellResult, UncertaintyCellSummary]] : [];
  });
}

/** What was fitted on the clean calibration split (null without an `uncertainty:` section). */
export function uncertaintyContext(r: CampaignResults): UncertaintyContextSummary | null {
  const u = r.uncertainty;
  return u && typeof u === 'object' ? (u as UncertaintyContextSummary) : null;
}

/** Figure `f` of a summary with its CI (`f_ci`), as a table cell. */
function fig(u: UncertaintyCellSummary, f: Figure, digits = 3): NumCell {
  const ci = (u as unknown as Record<string, unknown>)[`${f}_ci`];
  return num(u[f] as Num, Array.isArray(ci) ? (ci as Num[]) : null, digits);
}

const has = (cells: [CellResult, UncertaintyCellSummary][], f: Figure) => cells.some(([, u]) => u[f] !== undefined);
const lead = (c: CellResult, u: UncertaintyCellSummary) => [c.id, cellLabel(c), num(u.evaluated, null, 0)];

/** Whether a CI lies wholly below (−1), covers (0) or lies wholly above (+1) a target. */
export function sideOf(ci: readonly Num[] | undefined | null, target: number): -1 | 0 | 1 | null {
  const lo = ci?.[0];
  const hi = ci?.[1];
  if (!isNum(lo) || !isNum(hi)) return null;
  return hi < target ? -1 : lo > target ? 1 : 0;
}

/** Conformal coverage against its target 1 − α, in words (judged on the CI when there is one). */
export function coverageVerdict(u: UncertaintyCellSummary): string {
  if (!isNum(u.conformal_target)) return '–';
  const side = sideOf(u.conformal_coverage_ci, u.conformal_target) ?? (isNum(u.conformal_coverage) ? Math.sign(u.conformal_coverage - u.conformal_target) : null);
  return side === null ? '–' : side < 0 ? 'broken: below target' : side > 0 ? 'above target' : 'holds (CI covers target)';
}

/** Selective risk against its target risk, in words (judged on the CI when there is one). */
export function selectiveVerdict(u: UncertaintyCellSummary): string {
  if (!isNum(u.selective_target_risk)) return '–';
  const side = sideOf(u.selective_risk_ci, u.selective_target_risk) ?? (isNum(u.selective_risk) ? Math.sign(u.selective_risk - u.selective_target_risk) : null);
  return side === null ? '–' : side > 0 ? 'broken: above target' : side < 0 ? 'within target' : 'holds (CI covers target)';
}

/** One line on what was fitted on the clean calibration split, or null. */
export function uncertaintyFittedText(r: CampaignResults): string | null {
  const s = uncertaintyContext(r);
  if (!s) return null;
  const parts = [`fitted on ${s.calibration_items} clean calibration items; every figure below is measured on the cells' items outside that split (${s.evaluation_items} clean items)`];
  if (isNum(s.temperature)) parts.push(`temperature T = ${fmt(s.temperature, 4)} (calibration NLL ${fmt(s.temperature_fit_nll_before, 4)} → ${fmt(s.temperature_fit_nll_after, 4)} nats)`);
  if (isNum(s.conformal_alpha)) parts.push(`conformal α = ${fmt(s.conformal_alpha)} (target coverage ${fmt(1 - s.conformal_alpha)}), q̂ = ${s.conformal_qhat !== undefined && s.conformal_qhat > 1e300 ? '∞ (every class in every set)' : fmt(s.conformal_qhat, 4)}`);
  if (isNum(s.selective_target_risk)) {
    parts.push(`selective threshold τ = ${s.selective_threshold !== undefined && s.selective_threshold > 1e300 ? '∞ (abstain on everything: no threshold meets the target)' : fmt(s.selective_threshold, 4)} for target risk ${fmt(s.selective_target_risk)} (calibration risk ${fmt(s.selective_calibration_risk)}, coverage ${fmt(s.selective_calibration_coverage)})`);
  }
  if (isNum(s.ensemble_members)) parts.push(`ensemble of ${s.ensemble_members} members`);
  if (isNum(s.mc_passes)) parts.push(`MC dropout, ${s.mc_passes} passes over ${s.mc_dropout_sites ?? '?'} dropout sites`);
  return `Uncertainty ${parts.join('; ')}.`;
}

/** The per-cell uncertainty tables (only those the run has figures for). */
export function uncertaintyTables(r: CampaignResults): TableData[] {
  const cells = uncertaintyCells(r);
  if (!cells.length) return [];
  const head = ['cell', 'stresses', 'items evaluated'];
  const out: TableData[] = [];
  if (has(cells, 'temperature')) {
    out.push({
      id: 'unc-calibration',
      caption: 'Calibration before and after temperature scaling (T fitted on clean calibration items; ECE over 15 confidence bins, NLL in nats; lower is better)',
      head: [...head, 'accuracy', 'T', 'ECE before', 'ECE after', 'NLL before', 'NLL after'],
      rows: cells.map(([c, u]) => [...lead(c, u), fig(u, 'accuracy'), num(u.temperature, null, 4), fig(u, 'ece_before'), fig(u, 'ece_after'), fig(u, 'nll_before'), fig(u, 'nll_after')]),
    });
  } else {
    out.push({
      id: 'unc-calibration',
      caption: 'Calibration (ECE over 15 confidence bins, NLL in nats; lower is better)',
      head: [...head, 'accuracy', 'ECE', 'NLL'],
      rows: cells.map(([c, u]) => [...lead(c, u), fig(u, 'accuracy'), fig(u, 'ece'), fig(u, 'nll')]),
    });
  }
  if (has(cells, 'conformal_coverage')) {
    out.push({
      id: 'unc-conformal',
      caption: 'Conformal prediction sets: coverage (share of items whose label is in their set) against the target 1 − α, mean set size (classes) and share of empty sets',
      head: [...head, 'target', 'coverage', 'mean set size', 'empty sets', 'coverage verdict'],
      rows: cells.map(([c, u]) => [...lead(c, u), num(u.conformal_target), fig(u, 'conformal_coverage'), fig(u, 'conformal_mean_set_size', 2), fig(u, 'conformal_empty_rate'), coverageVerdict(u)]),
    });
  }
  if (has(cells, 'selective_risk')) {
    out.push({
      id: 'unc-selective',
      caption: 'Selective prediction at the threshold τ chosen on clean data: coverage (share answered) and risk (error rate among answered items)',
      head: [...head, 'target risk', 'coverage', 'risk', 'risk verdict'],
      rows: cells.map(([c, u]) => [...lead(c, u), num(u.selective_target_risk), fig(u, 'selective_coverage'), fig(u, 'selective_risk'), selectiveVerdict(u)]),
    });
  }
  out.push({
    id: 'unc-scores',
    caption: 'Confidence and uncertainty scores (means over items; entropy in nats) and the area under the risk–coverage curve',
    head: [...head, 'max-softmax', 'top-1 − top-2 margin', 'entropy', 'AURC'],
    rows: cells.map(([c, u]) => [...lead(c, u), fig(u, 'mean_max_softmax'), fig(u, 'mean_margin'), fig(u, 'mean_entropy'), fig(u, 'aurc')]),
  });
  if (has(cells, 'ensemble_accuracy')) {
    out.push({
      id: 'unc-ensemble',
      caption: 'Deep ensemble (mean of the members’ probabilities; mutual information = epistemic part of the entropy, nats)',
      head: [...head, 'members', 'accuracy', 'NLL', 'ECE', 'entropy', 'mutual information'],
      rows: cells.map(([c, u]) => [...lead(c, u), num(u.ensemble_members, null, 0), fig(u, 'ensemble_accuracy'), fig(u, 'ensemble_nll'), fig(u, 'ensemble_ece'), fig(u, 'ensemble_mean_entropy'), fig(u, 'ensemble_mean_mutual_information', 4)]),
    });
  }
  if (has(cells, 'mc_accuracy')) {
    out.push({
      id: 'unc-mc-dropout',
      caption: 'MC dropout (predictive mean over passes; mutual information in nats; variance = mean over items of Σ_k Var p_k)',
      head: [...head, 'passes', 'accuracy', 'NLL', 'ECE', 'entropy', 'mutual information', 'variance'],
      rows: cells.map(([c, u]) => [...lead(c, u), num(u.mc_passes, null, 0), fig(u, 'mc_accuracy'), fig(u, 'mc_nll'), fig(u, 'mc_ece'), fig(u, 'mc_mean_entropy'), fig(u, 'mc_mean_mutual_information', 4), fig(u, 'mc_mean_variance', 4)]),
    });
  }
  return out;
}

/** The cell whose conformal coverage is lowest (for the key findings), or null. */
export function worstCoverage(r: CampaignResults): [CellResult, UncertaintyCellSummary] | null {
  const cells = uncertaintyCells(r).filter(([, u]) => isNum(u.conformal_coverage));
  return cells.sort((a, b) => a[1].conformal_coverage! - b[1].conformal_coverage!)[0] ?? null;
}
