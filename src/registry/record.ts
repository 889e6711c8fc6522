/**
 * Building run records: from a campaign's results (`gauntlet run`, and `gauntlet runs import` of a
 * run directory) and from the other verbs' summaries (train, attack, stream, calibrate), plus the
 * provenance every record carries (versions, the git commit of the working directory, a run id).
 * Pure functions of their inputs, except `gitCommit` and `newRunId` (the clock and the process).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { CampaignResults, CellResult } from '../campaign/types.js';
import { GAUNTLET_VERSION } from '../campaign/runner.js';
import type { ArtifactRecord, MetricRecord, ModelRecord, RunKind, RunRecord } from './types.js';

/** A model's registry name: its file name without `.onnx`. */
export function modelName(file: string): string {
  return path.basename(file).replace(/\.onnx$/i, '') || file;
}

/**
 * A new run id: kind, UTC start time to the second and 8 hex digits of a hash of the start time in
 * nanoseconds, the process and `salt` — `run-20261207-193012-4f0c2a9e`. Sorts by time; two runs
 * started in the same second in different processes get different ids.
 */
export function newRunId(kind: RunKind, started: Date, salt = ''): string {
  const t = started.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const h = createHash('sha256').update(`${started.toISOString()}|${process.hrtime.bigint()}|${process.pid}|${salt}`).digest('hex').slice(0, 8);
  return `${kind}-${t}-${h}`;
}

/** Versions of what computed the run: Gauntlet, Node and ONNX Runtime. */
export function versions(): Record<string, string> {
  const v: Record<string, string> = { gauntlet: GAUNTLET_VERSION, node: process.versions.node };
  try {
    const req = createRequire(import.meta.url);
    const file = req.resolve('onnxruntime-node');
    for (let d = path.dirname(file); d !== path.dirname(d); d = path.dirname(d)) {
      const p = path.join(d, 'package.json');
      if (fs.existsSync(p)) {
        const pkg = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'onnxruntime-node' && pkg.version) {
          v.onnxruntime = pkg.version;
          break;
        }
      }
    }
  } catch {
    // not resolvable: left out
  }
  return v;
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The commit checked out in the git work tree holding `dir` (read from .git, without running git;
 * worktrees and packed refs included), or null outside a work tree.
 */
export function gitCommit(dir: string = process.cwd()): string | null {
  let gitDir: string | null = null;
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const dot = path.join(d, '.git');
    try {
      const st = fs.statSync(dot);
      if (st.isDirectory()) gitDir = dot;
      else {
        const m = /^gitdir:\s*(.+)$/m.exec(readText(dot) ?? '');
        if (m) gitDir = path.resolve(d, m[1]!.trim());
      }
    } catch {
      // no .git here
    }
    if (gitDir || d === path.dirname(d)) break;
  }
  if (!gitDir) return null;
  const head = readText(path.join(gitDir, 'HEAD'));
  if (!head) return null;
  if (/^[0-9a-f]{40,64}$/.test(head)) return head;
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (!ref) return null;
  const common = readText(path.join(gitDir, 'commondir'));
  const dirs = [gitDir, ...(common ? [path.resolve(gitDir, common)] : [])];
  for (const d of dirs) {
    const loose = readText(path.join(d, ref));
    if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return loose;
  }
  for (const d of dirs) {
    const packed = readText(path.join(d, 'packed-refs'));
    const line = packed?.split('\n').find((l) => l.endsWith(` ${ref}`));
    if (line) return line.split(' ')[0]!;
  }
  return null;
}

/** A cell's stresses in words, as the reports write them. */
export function stressLabel(c: Pick<CellResult, 'labels'>): string {
  return Object.values(c.labels ?? {}).join(' + ') || 'clean';
}

function cellMetrics(c: CellResult, model: { name: string; sha256: string }): MetricRecord[] {
  const base = { model_name: model.name, model_sha256: model.sha256, cell: c.id, stage: c.stage, stress: stressLabel(c) };
  const out: MetricRecord[] = [];
  for (const [metric, m] of Object.entries(c.metrics ?? {})) out.push({ ...base, metric, value: m?.value ?? null, ci_lo: m?.ci?.[0] ?? null, ci_hi: m?.ci?.[1] ?? null });
  const obs = c.observed_metrics?.accuracy;
  if (obs) out.push({ ...base, metric: 'observed_accuracy', value: obs.value ?? null, ci_lo: obs.ci?.[0] ?? null, ci_hi: obs.ci?.[1] ?? null });
  const drop = c.vs_baseline?.accuracy_drop;
  if (drop) out.push({ ...base, metric: 'accuracy_drop', value: drop.value ?? null, ci_lo: drop.ci?.[0] ?? null, ci_hi: drop.ci?.[1] ?? null });
  return out;
}

/** Results as the registry stores them: results.json without the gallery's images (the per-item correctness that `compare` pairs on is kept). */
export function compactResults(r: CampaignResults): CampaignResults {
  const strip = (cells: CellResult[]) => cells.map((c) => ({ ...c, gallery: null }));
  return { ...r, cells: strip(r.cells), variants: r.variants ? r.variants.map((v) => ({ ...v, cells: strip(v.cells) })) : r.variants };
}

export interface CampaignRecordOptions {
  id: string;
  started: string;
  finished: string;
  /** The run directory. */
  outDir: string;
  /** sha256 of the results.json file. */
  resultsSha256: string | null;
  imported?: boolean;
  /** Files of the run directory (names relative to it); default: results.json and the reports. */
  files?: readonly string[];
  gitCommit?: string | null;
  versions?: Record<string, string>;
}

/** The record of a campaign (`gauntlet run`) from its results. */
export function campaignRecord(r: CampaignResults, o: CampaignRecordOptions): RunRecord {
  const base: ModelRecord = { name: modelName(r.model.path), path: r.model.path, sha256: r.model.sha256, parent_sha256: null, parent_name: null };
  const variants: ModelRecord[] = (r.variants ?? []).map((v) => ({ name: v.name, path: v.path, sha256: v.sha256, parent_sha256: v.source === 'train' ? base.sha256 : null, parent_name: v.source === 'train' ? base.name : null }));
  const metrics = [
    ...r.cells.flatMap((c) => cellMetrics(c, base)),
    ...(r.variants ?? []).flatMap((v) => v.cells.flatMap((c) => cellMetrics(c, { name: v.name, sha256: v.sha256 }))),
  ];
  const budgets = r.budgets.map((b) => ({ name: b.name, passed: b.passed, message: b.message }));
  const files = o.files ?? ['manifest.json', 'results.json', 'events.jsonl', 'report.md', 'report.html', 'junit.xml'];
  const artifacts: ArtifactRecord[] = files.map((f) => ({ name: f, path: path.resolve(o.outDir, f) })).filter((a) => fs.existsSync(a.path));
  const baseline = r.cells.find((c) => c.stage === 'baseline') ?? r.cells[0];
  return {
    id: o.id,
    kind: 'run',
    imported: o.imported ?? false,
    status: budgets.some((b) => !b.passed) ? 'failed' : 'passed',
    started_at: o.started,
    finished_at: o.finished,
    model: base,
    models: variants,
    data: { name: path.basename(r.data.path), path: r.data.path, sha256: r.data.sha256 },
    config: r.config,
    seed: r.seed,
    versions: o.versions ?? { gauntlet: r.gauntlet },
    git_commit: o.gitCommit ?? null,
    out_dir: path.resolve(o.outDir),
    results_sha256: o.resultsSha256,
    metrics,
    budgets,
    artifacts,
    summary: {
      cells: r.cells.length + (r.variants ?? []).reduce((a, v) => a + v.cells.length, 0),
      variants: (r.variants ?? []).map((v) => v.name),
      samples: r.data.samples,
      baseline_accuracy: baseline?.metrics.accuracy.value ?? null,
      wall_seconds: r.performance.wall_seconds,
    },
  };
}

/** One figure of a verb without cells: a metric of the whole run, optionally with a CI and its own stress. */
export interface VerbMetric {
  metric: string;
  value: number | null | undefined;
  ci?: readonly [number, number] | null;
  /** What the figure measures under ('clean' by default), e.g. 'pgd linf eps=0.03'. */
  stress?: string;
  /** A model other than the record's main model (e.g. the input model of `calibrate`). */
  model?: { name: string; sha256: string };
}

export interface VerbRecordInput {
  id: string;
  kind: Exclude<RunKind, 'run'>;
  started: string;
  finished: string;
  model: ModelRecord;
  models?: ModelRecord[];
  data: { name: string; path: string; sha256: string } | null;
  config: unknown;
  seed: number | null;
  metrics: VerbMetric[];
  artifacts: ArtifactRecord[];
  summary: Record<string, unknown>;
  outDir?: string | null;
  gitCommit?: string | null;
  versions?: Record<string, string>;
}

const fin = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The record of a train, attack, stream or calibrate run. Metrics become cells named by their stress. */
export function verbRecord(i: VerbRecordInput): RunRecord {
  const metrics: MetricRecord[] = i.metrics.map((m) => {
    const stress = m.stress ?? 'clean';
    const model = m.model ?? i.model;
    return { model_name: model.name, model_sha256: model.sha256, cell: m.model ? `${m.model.name}/${stress}` : stress, stage: stress === 'clean' ? 'baseline' : i.kind, stress, metric: m.metric, value: fin(m.value), ci_lo: fin(m.ci?.[0]), ci_hi: fin(m.ci?.[1]) };
  });
  return {
    id: i.id,
    kind: i.kind,
    imported: false,
    status: 'passed',
    started_at: i.started,
    finished_at: i.finished,
    model: i.model,
    models: i.models ?? [],
    data: i.data,
    config: i.config,
    seed: i.seed,
    versions: i.versions ?? versions(),
    git_commit: i.gitCommit ?? null,
    out_dir: i.outDir ? path.resolve(i.outDir) : null,
    results_sha256: null,
    metrics,
    budgets: [],
    artifacts: i.artifacts.map((a) => ({ name: a.name, path: path.resolve(a.path) })),
    summary: i.summary,
  };
}

/** sha256 of a file's bytes (hex). */
export function fileSha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
