import path from 'node:path';
import { defaultConfig, isTrainTime, loadConfig, type CampaignConfig } from '../campaign/config.js';
import { makePlan, type Plan } from '../campaign/plan.js';
import { runCampaign, type CampaignResults } from '../campaign/runner.js';
import { writeReports } from '../report/index.js';
import { checkCampaignInputs, describeInputs } from '../campaign/validate.js';
import { flushDeprecations, numberOpt, parse } from './args.js';
import { chunkFlags, dataFlags, dataRef, declarationHelp, fmt, modelFlags, modelRef } from './common.js';
import { interruptible, resumeCommand, runDirFlags } from './run-dir.js';
import { campaignProgress } from './progress.js';
import { recordFlags, recordHelp, recorder } from './record.js';
import { campaignRecord, compactResults, fileSha256 } from '../registry/index.js';
import { QueueCells } from '../queue/coordinator.js';

export const help = `gauntlet run [CONFIG.yaml] [--out DIR] [--seed S] [--resume | --restart] [--force] [--dry-run] [--limit N] [--json]
       gauntlet run [CONFIG.yaml] --queue URL [--send-files] [--out DIR] [--resume]   (cells on queue workers)

Runs a stress campaign: baseline, each stress alone (isolated), pairs of stress kinds (pairwise)
and all three combined — or the full factorial grid — and writes a run directory with
manifest.json (provenance), results.json (every metric with a 95 % bootstrap CI), per-cell
checkpoints, an event log, report.md, report.html and junit.xml (one test case per budget).

Without CONFIG it runs the embedded default campaign: the Fashion-MNIST CNN on 2,000 test images
under PGD (L∞ ε 0.02 and 0.05), Gaussian noise (severity 2, 4), contrast (severity 3) and 20 %
symmetric label noise.

Options:
  --out DIR      run directory (default ./gauntlet-run); an existing run needs --resume or --restart,
                 a non-empty folder that is not a run needs --force
  --seed S       override the config's seed (every random draw derives from it)
  --resume       continue a killed run in DIR: finished cells are loaded, not recomputed
  --restart      discard the run in DIR (only Gauntlet's files: manifest.json, results.json,
                 events.jsonl, report.*, junit.xml, cells/*.json) and start again
  --force        write into a non-empty DIR that is not a run, beside the files there; it never
                 overwrites or deletes them (refused if one has a name Gauntlet writes)
  --dry-run      print the plan (cells, estimated passes) and stop
  --limit N      use only the first N items of the data
  --json         print the results summary as one JSON object on the last stdout line
  --threads N    ONNX Runtime intra-op threads (0 = all cores; default 0)
  --chunk-items N  items of a drifted or attacked input set computed at a time (default: about 4 MB
                 of float32 inputs; 0 = whole sets, more memory); the results are the same
${recordHelp()}
  --queue URL    run the cells on queue workers (gauntlet worker) through Redis: redis://HOST:PORT[/DB]
                 or unix:///PATH.sock; this process plans, enqueues one job per model to train (trained
                 variants, training-time models not in its variant cache; workers train them with this
                 run's --threads and send them back), then one job per group of cells that share an
                 attack's inputs, shows progress and writes the run directory as a local run does. Workers read the model and data from the same paths (shared
                 storage) and check their sha256. With --resume it reattaches to the jobs already
                 queued, running or done.
  --send-files   with --queue: send the model files and the loaded data through Redis (in 1 MiB
                 chunks, removed when the run is done); workers fetch each once, verify its hash and
                 keep it in their cache (gauntlet worker --cache): for workers without shared storage

A run that fails before its first cell is checkpointed removes what it created. Ctrl-C stops it
and prints how many cells are checkpointed and the command that continues (--resume).

Exit codes: 0 all budgets passed, 1 a budget failed, 2 bad input (or a cell failed on a worker), 3 the queue
(Redis) unreachable, 130/143 interrupted (SIGINT/SIGTERM).
` + '\n' + declarationHelp() + '\n';

export async function runVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'run',
    argv,
    {
      out: { type: 'string' },
      seed: { type: 'string' },
      resume: { type: 'boolean' },
      restart: { type: 'boolean' },
      force: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      queue: { type: 'string' },
      ...chunkFlags,
      'send-files': { type: 'boolean' },
      ...modelFlags,
      ...dataFlags,
      ...recordFlags,
    },
    true,
  );
  if (values.help) return (process.stdout.write(help), 0);
  if (positionals.length > 1) throw new (await import('../errors.js')).UsageError(`run: takes at most one CONFIG file, got ${positionals.length}`);
  if (values['send-files'] && values.queue === undefined) throw new (await import('../errors.js')).UsageError(`run: '--send-files' sends files to queue workers; give '--queue URL' too`);
  let config: CampaignConfig = positionals[0] ? loadConfig(positionals[0]) : defaultConfig();
  flushDeprecations();
  if (values.seed !== undefined) config = { ...config, seed: numberOpt('seed', values.seed, 0, { min: 0, integer: true }) };
  // Declaration flags override the config's model and data (a new --data starts a new data declaration).
  const m = modelRef(values, config.model.path);
  m.path = path.resolve(m.path);
  const raw = values as Record<string, unknown>;
  if (Object.keys(m).length > 1 || raw.model !== undefined) config = { ...config, model: { ...config.model, ...m } };
  const dr = dataRef(values, config.data.path);
  const d = { ...dr, path: path.resolve(dr.path), ...(typeof dr.labels === 'string' ? { labels: path.resolve(dr.labels) } : {}) };
  if (raw.data !== undefined || raw['data-spec'] !== undefined) config = { ...config, data: d };
  else if (Object.keys(d).length > 1) config = { ...config, data: { ...config.data, ...d } };
  const outDir = values.out ?? 'gauntlet-run';
  const dirOpts = runDirFlags(values, positionals[0], config, outDir);
  const rec = recorder('run', values, path.dirname(path.resolve(outDir)));
  const plan = makePlan(config);
  const log = (s: string) => process.stderr.write(s + '\n');
  const threads = numberOpt('threads', values.threads, 0, { min: 0, max: 256, integer: true });
  // 0 (whole sets) is allowed here, unlike the streamed verbs' --chunk-items; unset: the bench's default.
  const chunkItems = values['chunk-items'] === undefined ? undefined : numberOpt('chunk-items', values['chunk-items'], 0, { min: 0, max: 1 << 30, integer: true });
  // Everything is checked before a run directory exists (and in --dry-run).
  const inputs = await checkCampaignInputs(config, threads);
  const planOut = values['dry-run'] ? process.stdout : process.stderr;
  if (!values.json || values['dry-run']) {
    planOut.write(describeInputs(inputs).join('\n') + '\n');
    printPlan(plan, config, planOut);
  }
  if (values['dry-run']) return 0;

  const show = campaignProgress(log);
  const remote = values.queue !== undefined ? new QueueCells(values.queue, { retryFailed: values.resume, sendFiles: values['send-files'], onPhase: (message) => show({ type: 'phase', message }) }) : undefined;
  const results = await interruptible(outDir, resumeCommand(values, positionals[0], outDir), show, (o) => runCampaign(config, { outDir, ...dirOpts, threads, remote, chunkItems, ...o }));
  if (typeof results === 'number') return results;
  const files = writeReports(results, outDir);
  await rec.save(() => {
    const p = rec.provenance;
    const finished = new Date().toISOString();
    return campaignRecord(results, { id: rec.id, started: rec.started.toISOString(), finished, outDir, resultsSha256: fileSha256(path.join(outDir, 'results.json')), versions: p.versions, gitCommit: p.gitCommit });
  }, compactResults(results));
  const failed = results.budgets.filter((b) => !b.passed);
  if (values.json) {
    process.stdout.write(
      JSON.stringify({
        out: outDir,
        cells: results.cells.length + (results.variants ?? []).reduce((a, v) => a + v.cells.length, 0),
        variants: (results.variants ?? []).map((v) => v.name),
        baseline_accuracy: results.cells[0]?.metrics.accuracy.value,
        budgets_passed: results.budgets.length - failed.length,
        budgets_failed: failed.length,
        wall_seconds: results.performance.wall_seconds,
        floor_ratio: results.performance.floor_ratio,
        files,
      }) + '\n',
    );
  } else {
    process.stdout.write(summaryTable(results) + '\n');
    process.stdout.write(`wrote ${files.map((f) => path.join(outDir, f)).join(', ')}\n`);
  }
  return failed.length ? 1 : 0;
}

function printPlan(plan: Plan, config: CampaignConfig, out: NodeJS.WritableStream): void {
  const stages = new Map<string, number>();
  for (const c of plan.cells) stages.set(c.stage, (stages.get(c.stage) ?? 0) + 1);
  const attacks = new Set(plan.cells.filter((c) => c.adversarial).map((c) => `${c.adversarial!.key}|${c.drift?.key ?? ''}`));
  const inputs = new Set(plan.cells.map((c) => `${c.drift?.key ?? ''}|${c.adversarial?.key ?? ''}`));
  out.write(
    `plan: ${plan.cells.length} cells (${[...stages].map(([s, n]) => `${n} ${s}`).join(', ')}), seed ${config.seed}\n` +
      `      ${plan.settings.adversarial.length} attack, ${plan.settings.drift.length} drift, ${plan.settings.annotation.length} annotation settings; ` +
      `${inputs.size} distinct input sets to predict, ${attacks.size} attack runs\n`,
  );
  for (const c of plan.cells) {
    out.write(`  ${c.id.padEnd(18)} ${c.stage.padEnd(9)} ${[c.drift?.label, c.annotation?.label, c.adversarial?.label].filter(Boolean).join(' + ') || 'clean'}\n`);
  }
  if (config.variants.length) {
    out.write(`models: base + ${config.variants.length} variant(s), each running the ${plan.cells.length} cells (${plan.cells.length * (1 + config.variants.length)} in all)\n`);
    for (const v of config.variants) out.write(`  ${v.name.padEnd(18)} ${v.path ? `file ${v.path}` : `trained: ${trainSummary(v.train!)}`}\n`);
  }
  const trainTime = plan.settings.annotation.filter((s) => isTrainTime(s.spec));
  if (trainTime.length) {
    const n = 1 + config.variants.length;
    out.write(`training-time label noise: ${n} model(s) × ${trainTime.length} setting(s) trained on the noisy labels (${trainTime.map((s) => s.label.replace(/^trained on /, '')).join(', ')}); they run those settings' cells\n`);
    out.write(`  models given as files are fine-tuned from their own weights with retrain: ${trainSummary(config.retrain)}; trained variants use their own recipe\n`);
  }
  if (config.trainData) out.write(`  training data: ${config.trainData.path} (trained models are cached and reused)\n`);
}

/** A recipe in one line: its keys that differ from the defaults. */
function trainSummary(recipe: Record<string, unknown>): string {
  return Object.entries(recipe).map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v).replace(/"/g, '') : String(v)}`).join(' ') || 'defaults';
}

function summaryTable(r: CampaignResults): string {
  const rows = r.cells.map((c) => {
    const label = Object.values(c.labels).join(' + ') || 'clean';
    const acc = c.metrics.accuracy;
    const obs = c.observed_metrics ? fmt(c.observed_metrics.accuracy.value, 3) : '';
    const drop = c.vs_baseline ? fmt(c.vs_baseline.accuracy_drop.value, 3) : '';
    return [c.stage, label, `${fmt(acc.value, 3)} [${fmt(acc.ci[0], 3)}, ${fmt(acc.ci[1], 3)}]`, drop, obs, fmt(c.metrics.ece.value, 3)];
  });
  const head = ['stage', 'stresses', 'accuracy [95% CI]', 'drop', 'observed', 'ECE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  const inter = r.interactions.filter((i) => i.metric === 'accuracy' && i.verdict !== 'additive');
  if (inter.length) {
    out.push('', 'interactions (observed drop vs sum of isolated drops):');
    for (const i of inter) out.push(`  ${i.cell}: ${i.verdict}, interaction ${fmt(i.interaction.value, 3)} [${fmt(i.interaction.ci[0], 3)}, ${fmt(i.interaction.ci[1], 3)}]`);
  }
  if (r.mitigation) {
    const names = r.mitigation.variants;
    const mrows = r.mitigation.rows.map((row, i) => [Object.values(r.cells[i]?.labels ?? row.labels).join(' + ') || 'clean', fmt(row.base.value, 3), ...row.variants.map((v) => `${fmt(v.accuracy.value, 3)}${v.diff_vs_base ? ` (${v.diff_vs_base.value >= 0 ? '+' : ''}${fmt(v.diff_vs_base.value, 3)}${v.diff_vs_base.ci[0]! > 0 ? '*' : v.diff_vs_base.ci[1]! < 0 ? '!' : ''})` : ''}`), row.best]);
    const mhead = ['stresses', 'base', ...names, 'best'];
    const mw = mhead.map((h, i) => Math.max(h.length, ...mrows.map((row) => row[i]!.length)));
    const ml = (cols: string[]) => cols.map((c, i) => c.padEnd(mw[i]!)).join('  ');
    out.push('', 'models (accuracy; difference from base, * significantly better, ! significantly worse):', ml(mhead), mw.map((w) => '-'.repeat(w)).join('  '), ...mrows.map(ml));
  }
  if (r.budgets.length) {
    out.push('', 'budgets:');
    for (const b of r.budgets) out.push(`  ${b.passed ? 'PASS' : 'FAIL'}  ${b.name}: ${b.message}`);
  }
  const p = r.performance;
  out.push('', `wall ${fmt(p.wall_seconds, 1)} s; model compute floor ${fmt(p.floor_seconds, 1)} s (${p.forward_batches} forward, ${p.gradient_batches} gradient batches); ratio ${fmt(p.floor_ratio, 2)}×`);
  return out.join('\n');
}
