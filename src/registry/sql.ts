/**
 * The registry over SQL: one implementation of `Registry` on a tiny driver interface (`SqlDb`) that
 * each backend provides — SQLite through @libsql/client (src/registry/sqlite.ts), PostgreSQL through
 * pg (src/registry/postgres.ts). Statements use `?` placeholders; the PostgreSQL driver numbers them.
 */
import { jsonReplacer } from '../campaign/store.js';
import { RegistryError } from '../errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import type { BudgetPoint, HistoryPoint, Registry, RunFilter, RunRecord, RunSummary } from './types.js';

export type Row = Record<string, unknown>;
export type Query = (sql: string, args?: readonly unknown[]) => Promise<Row[]>;

/** What a backend provides: queries, one write transaction at a time, and close. */
export interface SqlDb {
  readonly dialect: 'sqlite' | 'postgres';
  readonly location: string;
  query: Query;
  /** Runs `fn` in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN), committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (q: Query) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Applies the missing migrations (see schema.ts). */
export async function migrate(db: SqlDb): Promise<number> {
  return db.transaction(async (q) => {
    if (db.dialect === 'postgres') await q('SELECT pg_advisory_xact_lock(7261830221)');
    await q('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const [row] = await q('SELECT MAX(version) AS v FROM schema_migrations');
    const have = row?.v === null || row?.v === undefined ? 0 : Number(row.v);
    if (have > SCHEMA_VERSION) throw new RegistryError(`${db.location}: registry schema version ${have} is newer than this Gauntlet's (${SCHEMA_VERSION}); upgrade Gauntlet to use it`);
    for (const m of MIGRATIONS) {
      if (m.version <= have) continue;
      for (const s of m.sql) await q(s);
      await q('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, new Date().toISOString()]);
    }
    return SCHEMA_VERSION;
  });
}

const RUN_COLUMNS = 'id, kind, imported, status, started_at, finished_at, model_name, model_sha256, parent_sha256, data_name, data_sha256, seed, git_commit, out_dir, budgets_passed, budgets_failed';
const ID_RE = /^[A-Za-z0-9._-]+$/;

/** Inserts rows `chunk` at a time with one multi-row INSERT each (hundreds of metric rows stay a few statements). */
async function insertMany(q: Query, table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], chunk = 100): Promise<void> {
  const one = `(${columns.map(() => '?').join(', ')})`;
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    await q(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${part.map(() => one).join(', ')}`, part.flat());
  }
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function summaryOf(r: Row): RunSummary {
  return {
    id: String(r.id),
    kind: r.kind as RunSummary['kind'],
    imported: Number(r.imported) === 1,
    status: r.status as RunSummary['status'],
    started_at: String(r.started_at),
    finished_at: String(r.finished_at),
    model_name: String(r.model_name),
    model_sha256: String(r.model_sha256),
    parent_sha256: (r.parent_sha256 as string | null) ?? null,
    data_name: (r.data_name as string | null) ?? null,
    data_sha256: (r.data_sha256 as string | null) ?? null,
    seed: num(r.seed),
    git_commit: (r.git_commit as string | null) ?? null,
    out_dir: (r.out_dir as string | null) ?? null,
    budgets_passed: Number(r.budgets_passed),
    budgets_failed: Number(r.budgets_failed),
  };
}

/** The Registry on a SqlDb. Open one with `openRegistry` (src/registry/index.ts). */
export class SqlRegistry implements Registry {
  constructor(private readonly db: SqlDb) {}

  get location(): string {
    return this.db.location;
  }

  async record(run: RunRecord, results?: unknown): Promise<void> {
    if (!ID_RE.test(run.id)) throw new RegistryError(`run id '${run.id}' may hold only letters, digits, '.', '_' and '-'`);
    const failed = run.budgets.filter((b) => !b.passed).length;
    await this.db.transaction(async (q) => {
      await this.deleteRuns(q, [run.id]);
      await q(
        `INSERT INTO runs (${RUN_COLUMNS}, results_sha256, record, results) VALUES (${Array(19).fill('?').join(', ')})`,
        [run.id, run.kind, run.imported ? 1 : 0, run.status, run.started_at, run.finished_at, run.model.name, run.model.sha256, run.model.parent_sha256, run.data?.name ?? null, run.data?.sha256 ?? null, finite(run.seed), run.git_commit, run.out_dir,
          run.budgets.length - failed, failed, run.results_sha256, JSON.stringify(run, jsonReplacer), results === undefined || results === null ? null : JSON.stringify(results, jsonReplacer)],
      );
      const models = new Map<string, RunRecord['model']>();
      for (const m of [run.model, ...run.models]) models.set(`${m.name}\0${m.sha256}`, m);
      await insertMany(q, 'run_models', ['run_id', 'name', 'sha256', 'parent_sha256', 'parent_name'], [...models.values()].map((m) => [run.id, m.name, m.sha256, m.parent_sha256, m.parent_name]));
      await insertMany(q, 'metrics', ['run_id', 'model_name', 'model_sha256', 'cell', 'stage', 'stress', 'metric', 'value', 'ci_lo', 'ci_hi'],
        run.metrics.map((m) => [run.id, m.model_name, m.model_sha256, m.cell, m.stage, m.stress, m.metric, finite(m.value), finite(m.ci_lo), finite(m.ci_hi)]));
      await insertMany(q, 'budgets', ['run_id', 'idx', 'name', 'passed', 'message'], run.budgets.map((b, i) => [run.id, i, b.name, b.passed ? 1 : 0, b.message]));
      await insertMany(q, 'artifacts', ['run_id', 'idx', 'name', 'path'], run.artifacts.map((a, i) => [run.id, i, a.name, a.path]));
    });
  }

  private async deleteRuns(q: Query, ids: readonly string[]): Promise<number> {
    let n = 0;
    for (const id of ids) {
      for (const t of ['metrics', 'budgets', 'artifacts', 'run_models']) await q(`DELETE FROM ${t} WHERE run_id = ?`, [id]);
      const rows = await q('DELETE FROM runs WHERE id = ? RETURNING id', [id]);
      n += rows.length;
    }
    return n;
  }

  async list(f: RunFilter = {}): Promise<RunSummary[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.model !== undefined) {
      where.push('(model_name = ? OR id IN (SELECT run_id FROM run_models WHERE name = ?))');
      args.push(f.model, f.model);
    }
    if (f.since !== undefined) (where.push('started_at >= ?'), args.push(f.since));
    if (f.kind !== undefined) (where.push('kind = ?'), args.push(f.kind));
    if (f.status !== undefined) (where.push('status = ?'), args.push(f.status));
    const limit = f.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(f.limit))}` : '';
    const rows = await this.db.query(`SELECT ${RUN_COLUMNS} FROM runs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC${limit}`, args);
    return rows.map(summaryOf);
  }

  /** The full id of `idOrPrefix`, or null. */
  private async resolve(idOrPrefix: string): Promise<string | null> {
    if (!ID_RE.test(idOrPrefix)) return null;
    const exact = await this.db.query('SELECT id FROM runs WHERE id = ?', [idOrPrefix]);
    if (exact.length) return idOrPrefix;
    const like = await this.db.query("SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6", [idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%']);
    if (like.length > 1) throw new RegistryError(`run id prefix '${idOrPrefix}' matches ${like.length > 5 ? 'more than 5' : like.length} runs (${like.slice(0, 5).map((r) => String(r.id)).join(', ')}); give more of the id`);
    return like.length ? String(like[0]!.id) : null;
  }

  async get(idOrPrefix: string): Promise<RunRecord | null> {
    const id = await this.resolve(idOrPrefix);
    if (id === null) return null;
    const rows = await this.db.query('SELECT record FROM runs WHERE id = ?', [id]);
    return rows.length ? (JSON.parse(String(rows[0]!.record)) as RunRecord) : null;
  }

  async results(idOrPrefix: string): Promise<unknown> {
    const id = await this.resolve(idOrPrefix);
    if (id === null) return null;
    const rows = await this.db.query('SELECT results FROM runs WHERE id = ?', [id]);
    const text = rows[0]?.results;
    return typeof text === 'string' ? JSON.parse(text) : null;
  }

  async findByResults(sha256: string): Promise<string | null> {
    const rows = await this.db.query('SELECT id FROM runs WHERE results_sha256 = ? ORDER BY started_at LIMIT 1', [sha256]);
    return rows.length ? String(rows[0]!.id) : null;
  }

  async remove(ids: readonly string[]): Promise<number> {
    return this.db.transaction((q) => this.deleteRuns(q, ids));
  }

  async history(modelName: string): Promise<HistoryPoint[]> {
    const rows = await this.db.query(
      `SELECT m.run_id, r.started_at, m.model_name, m.model_sha256, m.cell, m.stage, m.stress, m.metric, m.value, m.ci_lo, m.ci_hi
       FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.model_name = ? ORDER BY r.started_at, m.run_id, m.cell, m.metric`,
      [modelName],
    );
    return rows.map((r) => ({
      run_id: String(r.run_id), started_at: String(r.started_at), model_name: String(r.model_name), model_sha256: String(r.model_sha256),
      cell: String(r.cell), stage: String(r.stage), stress: String(r.stress), metric: String(r.metric), value: num(r.value), ci_lo: num(r.ci_lo), ci_hi: num(r.ci_hi),
    }));
  }

  async budgets(modelName?: string): Promise<BudgetPoint[]> {
    const rows = await this.db.query(
      `SELECT b.run_id, r.started_at, r.model_name, b.name, b.passed, b.message FROM budgets b JOIN runs r ON r.id = b.run_id
       ${modelName === undefined ? '' : 'WHERE r.model_name = ?'} ORDER BY r.started_at, b.run_id, b.idx`,
      modelName === undefined ? [] : [modelName],
    );
    return rows.map((r) => ({ run_id: String(r.run_id), started_at: String(r.started_at), model_name: String(r.model_name), name: String(r.name), passed: Number(r.passed) === 1, message: String(r.message) }));
  }

  async models(): Promise<{ name: string; runs: number; versions: number; last: string }[]> {
    const rows = await this.db.query(
      `SELECT rm.name AS name, CAST(COUNT(DISTINCT rm.run_id) AS INTEGER) AS runs, CAST(COUNT(DISTINCT rm.sha256) AS INTEGER) AS versions, MAX(r.started_at) AS last
       FROM run_models rm JOIN runs r ON r.id = rm.run_id GROUP BY rm.name ORDER BY MAX(r.started_at) DESC`,
    );
    return rows.map((r) => ({ name: String(r.name), runs: Number(r.runs), versions: Number(r.versions), last: String(r.last) }));
  }

  async schemaVersion(): Promise<number> {
    const [row] = await this.db.query('SELECT MAX(version) AS v FROM schema_migrations');
    return Number(row?.v ?? 0);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
