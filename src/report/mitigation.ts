/**
 * The mitigation section: which model variant helps against which stress. From results.json's
 * `mitigation` table and `variants` (see campaign/runner.ts `mitigationTable`): accuracy of every
 * model in every cell, each variant's paired difference from the base model (same items, same
 * bootstrap resamples, 95 % CI), the best model per cell, each variant's price (clean accuracy
 * change, training time), its training curves, and a model card per variant. Rendered by both
 * report.md and report.html from the same table data.
 */
import type { CampaignResults, VariantResult } from '../campaign/types.js';
import { attackFlags, type CurveChart } from './analysis.js';
import { cellLabel, fmt } from './format.js';
import { num, type TableCell, type TableData } from './table-data.js';

/** True when the run compared model variants. */
export function hasVariants(r: CampaignResults): boolean {
  return Boolean(r.mitigation && r.variants?.length);
}

/** Accuracy of every model per cell, the best model, and each variant's paired difference from the base. */
export function mitigationTables(r: CampaignResults): TableData[] {
  const m = r.mitigation!;
  const names = m.variants;
  const label = (i: number) => cellLabel(r.cells[i] ?? { labels: m.rows[i]!.labels });
  const accuracy: TableData = {
    id: 'mitigation-accuracy',
    caption: 'Accuracy of each model in each cell (95 % CI); best = the most accurate model whose gain over the base model is significant (paired CI above 0)',
    head: ['cell', 'stresses', 'base', ...names, 'best'],
    rows: m.rows.map((row, i) => [row.cell, label(i), num(row.base.value, row.base.ci), ...row.variants.map((v) => num(v.accuracy.value, v.accuracy.ci)), row.best] as TableCell[]),
  };
  const diff: TableData = {
    id: 'mitigation-diff',
    caption: 'Accuracy difference from the base model, paired on the same items and resamples (95 % CI); > 0 the variant helps',
    head: ['cell', 'stresses', ...names.map((n) => `${n} − base`)],
    rows: m.rows.map((row, i) => [row.cell, label(i), ...row.variants.map((v) => (v.diff_vs_base ? num(v.diff_vs_base.value, v.diff_vs_base.ci) : '–'))] as TableCell[]),
  };
  const price: TableData = {
    id: 'mitigation-price',
    caption: 'The price of each variant: clean accuracy change against the base (paired, 95 % CI) and training time',
    head: ['variant', 'source', 'clean accuracy change', 'training s', 'epochs', 'recipe'],
    rows: m.price.map((p) => {
      const v = r.variants!.find((x) => x.name === p.variant)!;
      return [p.variant, v.source === 'train' ? (v.training?.cached ? 'trained (cached)' : 'trained') : 'file', p.clean_accuracy_change ? num(p.clean_accuracy_change.value, p.clean_accuracy_change.ci) : '–', p.training_seconds === null ? '–' : num(p.training_seconds, null, 1), v.training ? String(v.training.history.length) : '–', v.training ? recipeLine(v.training.recipe) : v.path] as TableCell[];
    }),
  };
  return [accuracy, diff, price];
}

/**
 * Attack reliability flags (gradient masking and the like) of each variant's cells: a hardened
 * model that looks robust only because its gradients are masked must say so per variant.
 */
export function variantFlags(r: CampaignResults): string[] {
  return (r.variants ?? []).flatMap((v) => {
    const flagged = attackFlags({ ...r, cells: v.cells });
    if (!flagged.length) return [];
    const flags = [...new Set(flagged.map((f) => f.flag))];
    return [`${v.name}: ${flags.join(', ')} in ${flagged.length} attacked cell(s) (${[...new Set(flagged.map((f) => f.label))].slice(0, 3).join('; ')}${flagged.length > 3 ? '; …' : ''}) — its robust accuracy may be over-estimated`];
  });
}

/** Which variant helps most against each stress kind alone, in words. */
export function mitigationFindings(r: CampaignResults): string[] {
  const m = r.mitigation!;
  const out: string[] = [];
  m.rows.forEach((row, i) => {
    if (row.stage === 'baseline' || row.best === 'base') return;
    const v = row.variants.find((x) => x.variant === row.best)!;
    out.push(`${cellLabel(r.cells[i] ?? { labels: row.labels })}: ${row.best} ${fmt(v.accuracy.value)} vs base ${fmt(row.base.value)} (Δ ${fmt(v.diff_vs_base!.value)} [${fmt(v.diff_vs_base!.ci[0])}, ${fmt(v.diff_vs_base!.ci[1])}])`);
  });
  return out;
}

/** Validation accuracy per epoch of every trained variant (one series each; PGD validation accuracy dashed by name). */
export function trainingCurves(r: CampaignResults): CurveChart | null {
  const trained = (r.variants ?? []).filter((v): v is VariantResult & { training: NonNullable<VariantResult['training']> } => v.training !== null);
  const series = trained.flatMap((v) => {
    const h = v.training.history.filter((e) => e.member === undefined || e.member === 0);
    const val = h.filter((e) => e.val_accuracy !== null);
    const pgd = h.filter((e) => e.pgd_val_accuracy !== null);
    const train = h.map((e) => ({ x: e.epoch, value: e.train_accuracy, ci: [null, null] as const, cell: `${v.name} epoch ${e.epoch}` }));
    return [
      { name: `${v.name} train (true labels)`, points: train },
      ...(val.length ? [{ name: `${v.name} validation`, points: val.map((e) => ({ x: e.epoch, value: e.val_accuracy!, ci: [null, null] as const, cell: `${v.name} epoch ${e.epoch}` })) }] : []),
      ...(pgd.length ? [{ name: `${v.name} PGD validation`, points: pgd.map((e) => ({ x: e.epoch, value: e.pgd_val_accuracy!, ci: [null, null] as const, cell: `${v.name} epoch ${e.epoch}` })) }] : []),
    ];
  });
  if (!series.length) return null;
  return { id: 'training-curves', title: 'Training curves of the trained variants (member 0 of an ensemble)', xLabel: 'epoch', yLabel: 'accuracy', series };
}

/** A model card per variant: what it is, where it came from, how it was trained. */
export function variantCards(r: CampaignResults): { name: string; lines: string[] }[] {
  return (r.variants ?? []).map((v) => {
    const lines = [`model sha256 ${v.sha256}`, `file ${v.path}`];
    if (v.training) {
      const t = v.training;
      const last = t.history[t.history.length - 1];
      lines.push(
        `trained by Gauntlet from the base model (sha256 ${t.parent_sha256.slice(0, 12)}…) on ${t.data.path} (${t.data.samples} items, sha256 ${t.data.sha256.slice(0, 12)}…), seed ${t.seed}`,
        `recipe: ${recipeLine(t.recipe)}`,
        `${t.history.length} epoch(s) in ${fmt(t.seconds, 1)} s${t.cached ? ' (reused from the variant cache)' : ''}; kept epoch ${t.kept_epoch}${t.stopped ? ` (stopped: ${t.stopped.replace(/_/g, ' ')})` : ''}` +
          (last ? `; last epoch train accuracy ${fmt(last.train_accuracy)}${last.val_accuracy !== null ? `, validation ${fmt(last.val_accuracy)}` : ''}${last.pgd_val_accuracy !== null ? `, PGD validation ${fmt(last.pgd_val_accuracy)}` : ''}` : ''),
      );
    } else lines.push('brought by the user (declared like the base model)');
    return { name: v.name, lines };
  });
}

/**
 * Training-time label noise (`at: train` settings): per model of the campaign and setting, the
 * model trained on the noisy labels against the model itself (paired, same items and resamples),
 * both measured on the true labels. Null without such settings.
 */
export function trainTimeTable(r: CampaignResults): TableData | null {
  if (!r.train_time?.length) return null;
  const cellsOf = (model: string) => (model === 'base' ? r.cells : r.variants?.find((v) => v.name === model)?.cells ?? []);
  const rows = r.train_time.map((t) => {
    const cells = cellsOf(t.model);
    const clean = cells.find((c) => Object.keys(c.stresses).length === 0);
    const noisy = cells.find((c) => Object.keys(c.stresses).length === 1 && c.labels.annotation === t.setting);
    const drop = noisy?.vs_baseline?.accuracy_drop;
    return [
      t.model,
      t.setting,
      t.recipe_from === 'retrain' ? 'retrain (fine-tuned from the file)' : 'its own recipe',
      clean ? num(clean.metrics.accuracy.value, clean.metrics.accuracy.ci) : '–',
      noisy ? num(noisy.metrics.accuracy.value, noisy.metrics.accuracy.ci) : '–',
      drop ? num(-drop.value, [-drop.ci[1]!, -drop.ci[0]!]) : '–',
      num(t.training.seconds, null, 1),
      t.sha256.slice(0, 12),
    ] as TableCell[];
  });
  return {
    id: 'train-time',
    caption: 'Training-time label noise: each model trained on the noisy labels, measured on the true labels, against the model as it runs the other cells (paired difference, 95 % CI)',
    head: ['model', 'setting', 'trained with', 'accuracy in its clean cell', 'accuracy trained on noisy labels', 'change [95 % CI]', 'training s', 'model sha256'],
    rows,
  };
}

/** A recipe in one line: the keys that matter, defaults left out where they are the usual ones. */
export function recipeLine(recipe: Record<string, unknown>): string {
  const keys = ['epochs', 'batch_size', 'optimizer', 'loss', 'labels', 'adversarial', 'augment', 'ensemble', 'early_stop', 'init', 'seed'];
  const show = (v: unknown): string =>
    v === null || typeof v !== 'object' ? String(v) : Array.isArray(v) ? `[${v.map(show).join(', ')}]` : `{${Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => `${k}: ${show(x)}`).join(', ')}}`;
  return keys.filter((k) => recipe[k] !== undefined && recipe[k] !== null).map((k) => `${k}: ${show(recipe[k])}`).join('; ');
}
