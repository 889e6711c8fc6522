/**
 * The run registry's types: what one recorded run holds, and the one interface both backends
 * (SQLite: src/registry/sqlite.ts, PostgreSQL: src/registry/postgres.ts) implement. Types only.
 */

/** The verbs that record themselves, and 'import' for run directories recorded after the fact. */
export type RunKind = 'run' | 'train' | 'attack' | 'stream' | 'calibrate';
export const RUN_KINDS: readonly RunKind[] = ['run', 'train', 'attack', 'stream', 'calibrate'];

/** passed: finished, every budget passed (or none); failed: finished, a budget failed. */
export type RunStatus = 'passed' | 'failed';

/** A model as the registry knows it: its name (file stem or variant name), content hash and lineage. */
export interface ModelRecord {
  name: string;
  path: string;
  sha256: string;
  /** The model this one was trained or calibrated from (a trained variant's base model), or null. */
  parent_sha256: string | null;
  parent_name: string | null;
}

/** One metric of one cell (or of a verb's whole run), with its 95 % CI where the verb computes one. */
export interface MetricRecord {
  /** The model the metric belongs to (the base model, or a variant of a campaign). */
  model_name: string;
  model_sha256: string;
  /** The cell id ('clean' for a verb without cells). */
  cell: string;
  stage: string;
  /** What the cell does, in words ('clean', 'pgd linf eps=0.02 + gaussian_noise s2'). */
  stress: string;
  metric: string;
  value: number | null;
  ci_lo: number | null;
  ci_hi: number | null;
}

export interface BudgetRecord {
  name: string;
  passed: boolean;
  message: string;
}

export interface ArtifactRecord {
  name: string;
  path: string;
}

/** Everything one run leaves in the registry. */
export interface RunRecord {
  id: string;
  kind: RunKind;
  /** True when recorded by `gauntlet runs import`, not by the run itself. */
  imported: boolean;
  status: RunStatus;
  started_at: string;
  finished_at: string;
  model: ModelRecord;
  /** Models besides the main one (a campaign's variants), each with its lineage. */
  models: ModelRecord[];
  data: { name: string; path: string; sha256: string } | null;
  config: unknown;
  seed: number | null;
  versions: Record<string, string>;
  git_commit: string | null;
  /** The run directory (run, stream) or null. */
  out_dir: string | null;
  /** sha256 of results.json (campaign runs): how an import finds a run already recorded. */
  results_sha256: string | null;
  metrics: MetricRecord[];
  budgets: BudgetRecord[];
  artifacts: ArtifactRecord[];
  /** The verb's own summary (its --json object, or a campaign's headline figures). */
  summary: Record<string, unknown>;
}

/** A row of `runs list`: the run without its metrics, config and results. */
export interface RunSummary {
  id: string;
  kind: RunKind;
  imported: boolean;
  status: RunStatus;
  started_at: string;
  finished_at: string;
  model_name: string;
  model_sha256: string;
  parent_sha256: string | null;
  data_name: string | null;
  data_sha256: string | null;
  seed: number | null;
  git_commit: string | null;
  out_dir: string | null;
  budgets_passed: number;
  budgets_failed: number;
}

export interface RunFilter {
  /** Runs whose main model or any of whose variants has this name. */
  model?: string;
  /** Runs started at or after this time (ISO 8601). */
  since?: string;
  kind?: RunKind;
  status?: RunStatus;
  /** At most this many, newest first (default: all). */
  limit?: number;
}

/** One point of a model's history: a metric of one stress in one run. */
export interface HistoryPoint extends MetricRecord {
  run_id: string;
  started_at: string;
}

/** One budget's outcome in one run, for budgets over time. */
export interface BudgetPoint extends BudgetRecord {
  run_id: string;
  started_at: string;
  model_name: string;
}

/**
 * The registry. Both backends keep the same schema (versioned migrations, src/registry/schema.ts)
 * and the same semantics: `record` is one transaction (a run is all there or not at all), safe with
 * other processes writing at the same time.
 */
export interface Registry {
  /** Where it lives, without credentials (for messages). */
  readonly location: string;
  /** Stores a run (replacing a run with the same id). */
  record(run: RunRecord, results?: unknown): Promise<void>;
  list(filter?: RunFilter): Promise<RunSummary[]>;
  /** A run by id, or by a unique id prefix; null when none. Throws RegistryError when a prefix is ambiguous. */
  get(id: string): Promise<RunRecord | null>;
  /** The campaign results stored with a run (results.json without its gallery images), or null. */
  results(id: string): Promise<unknown>;
  /** The id of a run whose results.json had this sha256, or null. */
  findByResults(sha256: string): Promise<string | null>;
  /** Removes runs by id; returns how many were removed. */
  remove(ids: readonly string[]): Promise<number>;
  /** Every metric of a model's runs, oldest first. */
  history(modelName: string): Promise<HistoryPoint[]>;
  /** Every budget outcome (optionally of one model's runs), oldest first. */
  budgets(modelName?: string): Promise<BudgetPoint[]>;
  /** Model names with their number of runs and versions (distinct sha256). */
  models(): Promise<{ name: string; runs: number; versions: number; last: string }[]>;
  /** The schema version in use. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
